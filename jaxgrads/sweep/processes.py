"""A/B mode and confirmation runs: sweeps in fresh child processes, possibly of other interpreters.

On a shared runner one job drifts 10-30% against another, so a baseline recorded last week is weak
evidence. A/B mode measures both sides now, in alternating fresh processes (A B A B ...), so drift
hits both alike; the rounds' samples are pooled per side and judged by the gate's rule
(:func:`jaxgrads.gate.comparison`). Each side is an interpreter with jaxgrads installed: two virtualenvs
with different jax versions, or one with two ``--problems-from`` checkouts of a user's problems.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jaxgrads.gate import Run, load_run
from jaxgrads.results.schema import samples_path
from jaxgrads.validation import JaxgradsError

__all__ = ["Side", "check_side", "pool_csvs", "pooled_run", "remeasure", "rerun_args", "run_child"]


@dataclass(frozen=True)
class Side:
    """One side of a comparison: an interpreter and the plug-ins it loads."""

    name: str  # "A", "B", "current"
    python: str = sys.executable
    problems_from: tuple[str, ...] = field(default_factory=tuple)


def check_side(side: Side) -> None:
    """Refuses a side whose interpreter cannot start or cannot import jaxgrads, before any round."""
    try:
        proc = subprocess.run(
            [side.python, "-c", "import jaxgrads"], capture_output=True, text=True, check=False, timeout=120
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise JaxgradsError(f"side {side.name}: cannot run {side.python}: {exc}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise JaxgradsError(f"side {side.name}: {side.python} cannot import jaxgrads ({last})")


def run_child(side: Side, run_args: Sequence[str], out: Path) -> Path:
    """Runs ``python -m jaxgrads run RUN_ARGS -o OUT --overwrite`` for ``side``; returns ``out``.

    A child that fails is a one-line JaxgradsError carrying its own last error line (exit 2 here).
    """
    cmd = [side.python, "-m", "jaxgrads", "run", *run_args, "-o", str(out), "--overwrite"]
    for source in side.problems_from:
        cmd += ["--problems-from", source]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise JaxgradsError(f"side {side.name}: cannot run {side.python}: {exc.strerror}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise JaxgradsError(f"side {side.name} ({side.python}) failed: {last}")
    return out


def pool_csvs(paths: Sequence[Path], out: Path) -> Path:
    """Writes the rounds ``paths`` of one sweep as one results CSV (and samples) at ``out``.

    The rows are the first round's, with each timed row's median, IQR, minimum and sample count
    taken over every round's samples, and the machine's probes (dispatch floor, copy and matmul
    ceilings, for a one-dtype sweep) the median over the rounds; the samples file holds them all,
    numbered on. A baseline pooled from several processes carries the process-to-process spread
    that one process hides.
    """
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
            t = pooled[key]
            q1, q3 = np.percentile(t, [25, 75])
            rows.loc[i, ["time_median_s", "time_iqr_s", "time_min_s", "samples"]] = [
                repr(float(np.median(t))),
                repr(float(q3 - q1)),
                repr(float(t.min())),
                str(len(t)),
            ]
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


def rerun_args(rows: pd.DataFrame) -> list[str]:
    """``jaxgrads run`` options whose sweep covers every kernel in ``rows`` (and maybe a few more).

    The sweep is a cross product, so rows of two problems at two sizes rerun four (problem, size)
    pairs; the caller picks out the ones it asked for.
    """
    sizes = {f"{int(r.m) or int(r.n)}x{int(r.n)}" for r in rows.itertuples()}
    batches = {str(int(b)) for b in rows["batch"] if int(b)}
    chunks = {str(int(c)) for c in rows["chunk_size"] if int(c)}
    args = ["--problems", *sorted(set(rows["problem"]))]
    args += ["--wrt", *sorted(set(rows["wrt"]))]
    args += ["--methods", *sorted(set(rows["method"]))]
    args += ["--sizes", *sorted(sizes)]
    args += ["--dtypes", *sorted(set(rows["dtype"]))]
    args += ["--samples", str(int(rows["samples"].max()))]
    if batches:
        args += ["--batch", *sorted(batches)]
    if chunks:
        args += ["--chunk-sizes", *sorted(chunks)]
    precision = str(rows["matmul_precision"].iloc[0]) if "matmul_precision" in rows else ""
    if precision in ("default", "high", "highest"):
        args += ["--matmul-precision", precision]
    if "x64" in rows and str(rows["x64"].iloc[0]).lower() == "false":
        args += ["--no-x64"]
    if "cpus_used" in rows and pd.notna(rows["cpus_used"].iloc[0]):
        args += ["--cpus", str(int(rows["cpus_used"].iloc[0]))]  # pinned as the measured run was
    return args


def remeasure(sides: Sequence[Side], rows: pd.DataFrame, workdir: Path, tag: str) -> list[Run]:
    """Runs the kernels of ``rows`` once on each side, in order; returns each side's run."""
    args = rerun_args(rows)
    return [
        load_run(run_child(s, args, workdir / f"{tag}-{s.name.lower()}.csv"), role=f"side {s.name}")
        for s in sides
    ]
