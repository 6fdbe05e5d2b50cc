"""Calibrates ``jaxgrads history``'s step detection: false steps on A/A histories, detection of a step
at the newest commit.

- **Real A/A**: ``--runs`` fresh processes of the gate sweep (:data:`TIME_SWEEP`, timed) and, unless
  ``--no-instructions``, as many of a smaller counted sweep (:data:`COUNT_SWEEP`: a counted gate run
  takes minutes under callgrind), all of the same code, each set filed as that many commits (hashes
  no repository knows, so in start order): the history holds real process-to-process drift and
  nothing else. Every step found in it is a false one; every regression ``jaxgrads history
  regressions`` would list is a false alarm.
- **A step at the newest commit**: the same history with the newest run's time (or instruction
  count) multiplied by 1 + s for each kernel, s from :data:`TIME_STEPS` (:data:`INSTR_STEPS`):
  the share of series whose regression at the newest commit is found (family-wise level, as the
  command applies it).
- **Simulated A/A**: lognormal noise of 5% and 10% per point, 10 and 30 commits, with the penalty
  of :mod:`jaxgrads.history.steps` and with the BIC's (half of it): the share of series with a false
  step, and with a false regression at the newest commit.

The tables go to docs/history.md (block ``history-calibration``).

    .venv/bin/python bench/studies/history_aa.py [--runs 10] [--no-instructions] [--no-readme]
        [--runs-dir results/history-aa]   # keep the runs; a second call re-analyses them
"""

from __future__ import annotations

import argparse
import hashlib
import math
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from figures import publish

from jaxgrads.history import steps as steps_module
from jaxgrads.history.series import METRICS, build, family_level, regression_table
from jaxgrads.history.store import History
from jaxgrads.results.labels import table
from jaxgrads.results.schema import samples_path

PY = sys.executable
TIME_STEPS = (0.30, 0.80, 1.00, 2.00)
INSTR_STEPS = (0.005, 0.01, 0.02, 0.05)
SIM_SERIES = 2000
TIME_SWEEP = ["--preset", "gate"]  # the gate sweep: 91 timed kernels, about 30 s a run here
# a counted gate run takes minutes under callgrind: the instruction histories use fewer kernels
COUNT_SWEEP = [
    "--preset",
    "gate",
    "--problems",
    "inner",
    "matvec",
    "quadratic",
    "--wrt",
    "x",
    "--methods",
    "jacfwd",
    "jacrev",
    "analytic",
    "--instructions",
]


def fake_commits(count: int) -> list[str]:
    """Hashes no repository knows: the history then orders the runs by their start time (and says so)."""
    return [hashlib.sha1(f"aa{i}".encode()).hexdigest() for i in range(count)]


def runs(count: int, folder: Path, sweep: list[str], tag: str) -> list[Path]:
    """``count`` fresh processes of ``jaxgrads run SWEEP``, one after the other (runs already in
    ``folder`` are reused)."""
    paths = []
    for i in range(count):
        out = folder / f"{tag}{i}.csv"
        if out.is_file() and samples_path(out).is_file():  # kept by an earlier call (--runs-dir)
            paths.append(out)
            continue
        cmd = [PY, "-m", "jaxgrads", "run", *sweep, "-o", str(out), "--overwrite"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.strip().splitlines()[-1]}")
        print(f"{tag} run {i + 1}/{count}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        paths.append(out)
    return paths


def file_as_commits(
    paths: list[Path], commits: list[str], folder: Path, scale: dict | None = None
) -> History:
    """The runs filed as consecutive commits; ``scale`` multiplies the newest run's metric columns."""
    history = History(folder)
    for i, (path, commit) in enumerate(zip(paths, commits, strict=True)):
        df = pd.read_csv(path, keep_default_na=False, dtype=str)
        df["git_commit"] = commit[:12]
        if scale and i == len(paths) - 1:
            for col, factor in scale.items():
                values = pd.to_numeric(df[col], errors="coerce") * factor
                df[col] = values.map(lambda v: "" if not math.isfinite(v) else repr(float(v)))
        copy = folder.parent / f"filed-{folder.name}-{i}.csv"
        df.to_csv(copy, index=False)
        samples = path.with_name(path.stem + ".samples.csv")
        if samples.is_file():
            copy.with_name(copy.stem + ".samples.csv").write_text(samples.read_text())
        history.add(copy)
    return history


def real_rows(paths, commits, tmp: Path, metric: str, steps: tuple[float, ...]) -> list[dict]:
    """The A/A history of ``metric`` (``jaxgrads history regressions --metric METRIC``), then the same
    with the newest run's metric scaled by each of ``steps``."""
    h = build(file_as_commits(paths, commits, tmp / f"aa-{metric}").table(), tmp, [metric])
    regs = regression_table(h)
    n = len(h.series)
    rows = [
        {
            "history": f"A/A, {len(paths)} runs",
            "metric": metric,
            "series": n,
            "at the floor": sum(s.floor for s in h.series),
            "series with a step": sum(bool(s.steps) for s in h.series),
            "regressions listed": len(regs),
            "at the newest commit": int(regs["newest"].sum()),
            "level": f"{family_level(h, 0.99):.6f}",
        }
    ]
    for size in steps:
        stepped = file_as_commits(paths, commits, tmp / f"{metric}-{size}", {metric: 1 + size})
        hs = build(stepped.table(), tmp, [metric])
        regs = regression_table(hs)
        found = int(regs["newest"].sum())
        rows.append(
            {
                "history": f"newest ×{1 + size:g}",
                "metric": metric,
                "series": n,
                "at the floor": rows[0]["at the floor"],
                "series with a step": sum(bool(s.steps) for s in hs.series),
                "regressions listed": len(regs),
                "at the newest commit": f"{found} ({found / max(n - rows[0]['at the floor'], 1):.0%})",
                "level": rows[0]["level"],
            }
        )
    return rows


def simulated(factor: float) -> list[dict]:
    """False steps and newest-commit regressions on lognormal A/A series, with the penalty scaled."""
    rows = []
    metric = METRICS["time_median_s"]
    for sigma in (0.05, 0.10):
        for n in (10, 30):
            rng = np.random.default_rng(0)
            any_step = newest = 0
            level = 1 - 0.01 / 91  # the family-wise level for the gate sweep's 91 timed series
            for _ in range(SIM_SERIES):
                values = np.exp(rng.normal(0, sigma, n))
                found = _detect(values, metric.min_noise, factor)
                any_step += bool(found)
                newest += any(
                    s.index == n - 1 and s.ratio > 1 + metric.threshold and s.confidence >= level
                    for s in found
                )
            rows.append(
                {
                    "noise": f"{sigma:.0%}",
                    "commits": n,
                    "penalty": "4 ln n" if factor == 1 else "2 ln n (BIC)",
                    "series with a false step": f"{any_step / SIM_SERIES:.2%}",
                    "false regression at the newest commit": f"{newest / SIM_SERIES:.2%}",
                }
            )
    return rows


def _detect(values, min_noise, factor):
    if factor == 1:
        return steps_module.detect_steps(values, min_noise=min_noise)
    import ruptures

    # the same fit with the penalty scaled by ``factor`` (only for this comparison)
    y = np.log(values)
    sigma = steps_module.noise(y, min_noise)
    ends = (
        ruptures.Pelt(model="l2", min_size=1, jump=1)
        .fit((y / sigma)[:, None])
        .predict(pen=factor * 4.0 * math.log(max(len(y), 3)))
    )
    return [steps_module.Step(k, 1.0, 1.0, 0.0, k, len(y) - k) for k in ends[:-1]]


def markdown(df: pd.DataFrame) -> str:
    return table(list(df.columns), [[str(v) for v in r] for r in df.itertuples(index=False)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--no-instructions", action="store_true")
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--runs-dir", type=Path, help="keep the runs here; runs already there are analysed again")
    args = p.parse_args()
    started = time.perf_counter()
    commits = fake_commits(args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        kept = args.runs_dir or tmp
        kept.mkdir(parents=True, exist_ok=True)
        reused = sum(
            (kept / f"{tag}{i}.csv").is_file() for tag in ("time", "count") for i in range(args.runs)
        )
        timed = runs(args.runs, kept, TIME_SWEEP, "time")
        measured_on = min(pd.read_csv(p, usecols=["started_at"])["started_at"].min() for p in timed)[:10]
        real = real_rows(timed, commits, tmp, "time_median_s", TIME_STEPS)
        if not args.no_instructions:
            counted = runs(args.runs, kept, COUNT_SWEEP, "count")
            real += real_rows(counted, commits, tmp, "instructions", INSTR_STEPS)
    sim = pd.DataFrame(simulated(1.0) + simulated(0.5))
    text = "\n".join(
        [
            f"Measured {measured_on} by `bench/studies/history_aa.py --runs {args.runs}` "
            f"({time.perf_counter() - started:.0f} s"
            + (
                f"; {reused} runs kept by an earlier call in {args.runs_dir}, analysed again"
                if reused
                else ""
            )
            + f") on {platform.node()}: {args.runs} fresh processes of "
            f"`jaxgrads run {shlex.join(TIME_SWEEP)}` (time)"
            + (
                ""
                if args.no_instructions
                else f" and of `jaxgrads run {shlex.join(COUNT_SWEEP)}` (instructions)"
            )
            + f" on one commit, each filed as {args.runs} commits. A regression: a step up by more than "
            f"{METRICS['time_median_s'].threshold:.0%} (time) or {METRICS['instructions'].threshold:.0%} "
            "(instructions) with a confidence of at least `level` (0.99 family-wise over "
            "the series searched, as `jaxgrads history regressions --metric METRIC` applies it).",
            "",
            markdown(pd.DataFrame(real)),
            "",
            f"Simulated A/A ({SIM_SERIES} lognormal series per row; a false regression at the newest "
            "commit at the family-wise level of 91 series, the gate sweep's timed kernels; the penalty in "
            "use, and the BIC's):",
            "",
            markdown(sim),
        ]
    )
    publish("history-calibration", text, readme=not args.no_readme)


if __name__ == "__main__":
    main()
