"""Sweeps in fresh child processes: baseline rounds, A/B rounds and confirmation runs.

On a shared runner one job drifts 10-30% against another, so a baseline recorded last week is weak
evidence. A/B mode measures both sides now, so drift hits both alike, in one of two ways:

- ``alternate``: fresh processes one after the other, A B, B A, ...;
- ``duet`` (Bulej et al., ICPE 2020): A and B at the same time, each pinned to its own CPU, the CPUs
  swapped every round, so whatever the machine does during a round it does to both sides.

The rounds' samples are pooled per side and judged by the gate's rule (:func:`jaxgrads.gate.compare`).
Each side is an interpreter with jaxgrads installed: two virtualenvs with different jax versions, or
one with two ``--problems-from`` checkouts of a user's problems. With ``--instructions`` among the
sweep options only the first round counts (counts do not vary from round to round).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jaxgrads.errors import JaxgradsError
from jaxgrads.gate import Run, load_run
from jaxgrads.measure.timing import Timing
from jaxgrads.results.schema import samples_path
from jaxgrads.sweep.distributed import stop_child
from jaxgrads.sweep.options import rerun_args

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AB_MODES",
    "DEFAULT_AB_MODE",
    "Side",
    "ab_confirm",
    "ab_rounds",
    "baseline_rounds",
    "check_side",
    "duet_cpus",
    "fresh_confirm",
    "pool_csvs",
    "pooled_run",
    "remeasure",
    "round_args",
    "run_child",
]


AB_MODES = ("alternate", "duet")
DEFAULT_AB_MODE = "alternate"  # make calibrate-gate compares the two on the same workloads


@dataclass(frozen=True)
class Side:
    """One side of a comparison: an interpreter, the plug-ins it loads and the environment variables
    it runs with besides this process's (a release's ``PYTHONPATH``, a configuration's ``XLA_FLAGS``)."""

    name: str  # "A", "B", "current", a release
    python: str = sys.executable
    problems_from: tuple[str, ...] = field(default_factory=tuple)
    env: tuple[tuple[str, str], ...] = ()

    def environ(self) -> dict[str, str]:
        return os.environ | dict(self.env)


def check_side(side: Side) -> None:
    """Refuses a side whose interpreter cannot start or cannot import jaxgrads, before any round."""
    try:
        proc = subprocess.run(
            [side.python, "-c", "import jaxgrads, jax; jax.devices()"], capture_output=True, text=True,
            check=False, timeout=120, env=side.environ(),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise JaxgradsError(f"side {side.name}: cannot run {side.python}: {exc}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise JaxgradsError(f"side {side.name}: {side.python} cannot start jaxgrads and jax ({last})")


def _child_cmd(side: Side, run_args: Sequence[str], out: Path, cpu: int | None = None) -> list[str]:
    cmd = [side.python, "-m", "jaxgrads", "run", *run_args, "-o", str(out), "--overwrite"]
    for source in side.problems_from:
        cmd += ["--problems-from", source]
    return cmd if cpu is None else ["taskset", "-c", str(cpu), *cmd]


def _start(side: Side, cmd: list[str]) -> subprocess.Popen:
    try:
        return subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=side.environ()
        )
    except OSError as exc:
        raise JaxgradsError(f"side {side.name}: cannot run {cmd[0]}: {exc.strerror}") from None


def _finish(side: Side, proc: subprocess.Popen, out: Path) -> Path:
    """Waits for a child; one that failed is a one-line JaxgradsError with its own last error line.
    Interrupted while waiting, it stops the child first (:func:`stop_child`): no child outlives it."""
    try:
        _, err = proc.communicate()
    except BaseException:
        stop_child(proc)
        raise
    if proc.returncode != 0:
        last = (err.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise JaxgradsError(f"side {side.name} ({side.python}) failed: {last}")
    return out


def run_child(side: Side, run_args: Sequence[str], out: Path) -> Path:
    """Runs ``python -m jaxgrads run RUN_ARGS -o OUT --overwrite`` for ``side``; returns ``out``.

    A child that fails is a one-line JaxgradsError carrying its own last error line (exit 2 here).
    """
    return _finish(side, _start(side, _child_cmd(side, run_args, out)), out)


def duet_cpus() -> tuple[int, int]:
    """The two CPUs a duet runs on: the machine's last two (CPU 0 tends to serve interrupts)."""
    count = os.cpu_count() or 1
    if count < 2 or shutil.which("taskset") is None:
        why = f"this machine has {count} CPU" if count < 2 else "taskset (util-linux) is not installed"
        raise JaxgradsError(f"--mode duet runs A and B on a CPU each; {why}; use --mode alternate")
    return count - 2, count - 1


def round_args(run_args: Sequence[str], round_no: int) -> list[str]:
    """The sweep options of round ``round_no`` (from 1): ``--instructions`` only in the first."""
    return [a for a in run_args if round_no == 1 or a != "--instructions"]


def pool_csvs(paths: Sequence[Path], out: Path) -> Path:
    """Writes the rounds ``paths`` of one sweep as one results CSV (and samples) at ``out``.

    The rows are the first round's, with each timed row's median, IQR, minimum and sample count
    taken over every round's samples, and the machine's probes (dispatch floor, copy and matmul
    ceilings, for a one-dtype sweep) the median over the rounds; the samples file holds them all,
    numbered on. A baseline pooled from several processes carries the process-to-process spread
    that one process hides.
    """
    import pandas as pd

    from jaxgrads.results.files import atomic_write_text
    from jaxgrads.results.schema import read_results, row_key

    rows = pd.read_csv(paths[0], dtype=str, keep_default_na=False)
    read_results(paths[0], require_timed=True)  # the first round is a proper results CSV
    raw = pd.concat(
        [pd.read_csv(samples_path(p), dtype=str, keep_default_na=False) for p in paths], ignore_index=True
    )
    raw["key"] = [row_key(r) for r in raw.to_dict("records")]
    raw["sample"] = raw.groupby("key").cumcount().astype(str)
    pooled = raw.groupby("key")["time_s"].apply(lambda t: np.asarray(t, float))
    for i, r in enumerate(rows.to_dict("records")):
        key = row_key(r)
        if r["status"] == "ok" and key in pooled.index:
            t = Timing(tuple(pooled[key]), 0)
            rows.loc[i, ["time_median_s", "time_iqr_s", "time_min_s", "samples"]] = [
                repr(t.median),
                repr(t.iqr),
                repr(t.min),
                str(len(t.samples)),
            ]
            if r.get("floor_s"):  # the first round's floor against the pooled median
                rows.loc[i, "floor_frac"] = repr(float(r["floor_s"]) / t.median)
    # the machine's probes (the gate's machine-state check reads them): the median over the rounds
    firsts = [pd.read_csv(p, nrows=1) for p in paths]
    for col in ("dispatch_floor_s", "ceiling_bytes_per_s", "ceiling_flops_per_s"):
        if col in rows.columns and all(col in f.columns for f in firsts):
            if col == "dispatch_floor_s" or rows[col].nunique() <= 1:  # one dtype: one ceiling per run
                rows[col] = repr(float(np.median([float(f[col].iloc[0]) for f in firsts])))
    atomic_write_text(samples_path(out), raw.drop(columns="key").to_csv(index=False))
    atomic_write_text(out, rows.to_csv(index=False))
    return out


def pooled_run(paths: Sequence[Path], out: Path, role: str) -> Run:
    """The rounds ``paths`` pooled into ``out`` (see :func:`pool_csvs`), loaded for the gate."""
    return load_run(pool_csvs(paths, out), role=role)


def remeasure(sides: Sequence[Side], rows: pd.DataFrame, workdir: Path, tag: str) -> list[Run]:
    """Runs the kernels of ``rows`` once on each side, in order; returns each side's run."""
    args = rerun_args(rows)
    return [
        load_run(run_child(s, args, workdir / f"{tag}-{s.name.lower()}.csv"), role=f"side {s.name}")
        for s in sides
    ]


def fresh_confirm(side: Side, current: Run, workdir: Path | None = None):
    """The gate's confirmation for a stored baseline: the tripped kernels of ``current`` measured
    again in one fresh process of ``side`` (the baseline's samples are kept)."""

    def confirm(keys):
        print(f"confirming {len(keys)} tripped kernel(s) in a fresh process ...", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="jaxgrads-confirm-") as tmp:
            (fresh,) = remeasure([side], current.rows.loc[keys], Path(workdir or tmp), "confirm")
        return {k: (None, fresh.samples[k]) for k in keys if k in fresh.samples}

    return confirm


def ab_confirm(sides: Sequence[Side], b: Run, out_dir: Path):
    """The gate's confirmation in A/B mode: one more A/B round of the tripped kernels."""

    def confirm(keys):
        print(f"confirming {len(keys)} tripped kernel(s): one more A/B round", file=sys.stderr)
        fa, fb = remeasure(sides, b.rows.loc[keys], out_dir, "confirm")
        return {k: (fa.samples[k], fb.samples[k]) for k in keys if k in fa.samples and k in fb.samples}

    return confirm


def ab_rounds(
    sides: Sequence[Side], run_args: Sequence[str], rounds: int, out_dir: Path, mode: str = "alternate"
) -> tuple[Run, Run]:
    """``rounds`` A/B pairs, each side's rounds pooled into ``<side>-pooled.csv``; returns the two
    pooled runs.

    ``alternate``: one after the other, in alternating order (A B, B A, ...: neither side always goes
    first). ``duet``: both at once, each pinned to one of :func:`duet_cpus`, swapped every round.
    """
    rounds_of = {s.name: [] for s in sides}
    cpus = duet_cpus() if mode == "duet" else None
    for r in range(1, rounds + 1):
        args = round_args(run_args, r)
        outs = {s.name: out_dir / f"{s.name.lower()}{r}.csv" for s in sides}
        if cpus is None:
            for side in sides if r % 2 else sides[::-1]:
                print(f"round {r}/{rounds}: {side.name} ({side.python})", file=sys.stderr)
                rounds_of[side.name].append(run_child(side, args, outs[side.name]))
            continue
        order = cpus if r % 2 else cpus[::-1]
        print(f"round {r}/{rounds}: A on CPU {order[0]}, B on CPU {order[1]}, at once", file=sys.stderr)
        procs = [
            _start(s, _child_cmd(s, args, outs[s.name], cpu)) for s, cpu in zip(sides, order, strict=True)
        ]
        try:
            for side, proc in zip(sides, procs, strict=True):
                rounds_of[side.name].append(_finish(side, proc, outs[side.name]))
        finally:
            for proc in procs:  # a failed or interrupted side: no child outlives the round
                stop_child(proc)
    a, b = (
        pooled_run(rounds_of[s.name], out_dir / f"{s.name.lower()}-pooled.csv", f"side {s.name}")
        for s in sides
    )
    return a, b


def baseline_rounds(run_args: Sequence[str], rounds: int, out: Path) -> Path:
    """``rounds`` fresh processes of this interpreter pooled into the baseline ``out``."""
    side = Side("baseline", sys.executable)
    with tempfile.TemporaryDirectory(prefix="jaxgrads-baseline-") as tmp:
        paths = []
        for r in range(1, rounds + 1):
            print(f"baseline round {r}/{rounds}", file=sys.stderr)
            paths.append(run_child(side, round_args(run_args, r), Path(tmp) / f"round{r}.csv"))
        return pool_csvs(paths, out)
