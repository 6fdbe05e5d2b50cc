"""Measures the runner's budgets and writes them into docs/methodology.md (between the budgets markers).

* wall time of ``jaxgrads run --quick`` with the default ``--jobs`` (the CPUs the process may use) and
  with ``--jobs 1``, each with its split (the run's own last line: :mod:`jaxgrads.sweep.phases`);
* the compile phase of each and its peak resident memory (``wait4``'s ``ru_maxrss``);
* wall time of ``make bench`` in a fresh clone of HEAD (the install excluded: the clone uses this
  checkout's ``.venv``), and where it went: each sweep's phases summed, and the rest (the devices
  study's processes, the report, the site); the share compiling and timing took;
* repeatability: make bench's default sweep against a second one run after it, median |time ratio - 1|
  over kernels of 100 µs or more in both;
* harness fidelity: ``bench/studies/fidelity.py``'s table.

    .venv/bin/python bench/studies/budgets.py [--no-readme]

Everything quoted comes from this run; results/budgets.md keeps the full output.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from figures import publish

from jaxgrads.measure.machine import cpu_model, cpus_used
from jaxgrads.results.schema import KEY, read_results
from jaxgrads.sweep.phases import PHASES

ROOT = Path(__file__).resolve().parents[2]
LONG_KERNEL_S = 100e-6
QUICK_BUDGET_S = 45
BENCH_BUDGET_S = 8 * 60
MEASURING_SHARE = 0.70  # of make bench's wall time, compiling and timing kernels
SPLIT = re.compile(r"([a-z-]+) ([0-9.]+) s \(")


def splits(stderr: str) -> list[dict[str, float]]:
    """The phase split of every run whose last line is in ``stderr`` (``wall W s: probes ...``)."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("wall "):
            wall = float(line.split()[1])
            out.append({"wall": wall, **{k: float(v) for k, v in SPLIT.findall(line.split(":", 1)[1])}})
    return out


def timed(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, str, int]:
    """Runs ``command``: its wall time, its stderr and its peak resident memory (bytes; the largest
    of the process and its children, from the kernel's accounting of this child alone)."""
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    if child.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{stderr[-3000:]}")
    return seconds, stderr, usage.ru_maxrss * 1024  # Linux: KiB


def run(*args: str) -> tuple[float, dict[str, float], int]:
    seconds, stderr, rss = timed([sys.executable, "-m", "jaxgrads", "run", *args], ROOT)
    return seconds, splits(stderr)[-1], rss


def repeatability(a: Path, b: Path) -> tuple[float, float, int]:
    """Median and 90th percentile of |t_b / t_a - 1| over kernels >= 100 µs in both runs."""
    cols = [*KEY, "time_median_s"]
    ra, rb = (read_results(p) for p in (a, b))
    ra, rb = (r[r["status"] == "ok"][cols] for r in (ra, rb))
    both = ra.merge(rb, on=list(KEY), suffixes=("_a", "_b"))
    long = both[(both["time_median_s_a"] >= LONG_KERNEL_S) & (both["time_median_s_b"] >= LONG_KERNEL_S)]
    dev = (long["time_median_s_b"] / long["time_median_s_a"] - 1).abs()
    return float(dev.median()), float(np.percentile(dev, 90)), len(long)


def make_bench(tmp: Path) -> tuple[float, list[dict[str, float]], Path]:
    """``make bench`` in a fresh clone of HEAD: its wall time, each run's split, the clone."""
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    (clone / ".venv").symlink_to(ROOT / ".venv")
    env = {**os.environ, "PYTHONPATH": str(clone)}  # the clone's code, for the studies' scripts too
    # the clone's files are newer than the shared environment's install stamp: make it newer still,
    # so neither make nor its recursive makes reinstall (nothing is installed either way)
    (ROOT / ".venv" / ".installed-test-plot").touch()
    seconds, stderr, _ = timed(["make", "--no-print-directory", "EXTRAS=test,plot", "bench"], clone, env)
    return seconds, splits(stderr), clone


def _split_text(split: dict[str, float]) -> str:
    wall = split["wall"]
    parts = [f"{name} {split[name]:.0f} s ({split[name] / wall:.0%})" for name in (*PHASES, "other", "before")
             if name in split]  # fmt: skip
    return ", ".join(parts)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        quick_s, quick_split, quick_rss = run("--quick", "-o", str(tmp / "quick.csv"))
        quick1_s, quick1_split, quick1_rss = run("--quick", "--jobs", "1", "-o", str(tmp / "quick1.csv"))
        quick_rows = len(pd.read_csv(tmp / "quick.csv"))
        bench_s, bench_splits, clone = make_bench(tmp)
        second_s, _, _ = run("-o", str(tmp / "b.csv"))
        first = clone / "results" / "latest.csv"
        med, p90, count = repeatability(first, tmp / "b.csv")
        rows = len(pd.read_csv(first))
    sweeps = Counter()
    for split in bench_splits:
        sweeps.update(split)
    rest = bench_s - sweeps["wall"]
    measuring = (sweeps["compile"] + sweeps["timing"]) / bench_s
    fidelity = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "studies" / "fidelity.py")],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    fidelity_table = fidelity[fidelity.index("| kernel") :].strip()
    text = "\n".join(
        [
            f"Measured by `make budgets` (`bench/studies/budgets.py`) on {cpu_model()}, {cpus_used()} CPUs, "
            f"{platform.node()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}:",
            "",
            "| budget | target | measured |",
            "|---|---|---|",
            f"| `jaxgrads run --quick` wall time ({quick_rows} rows), `--jobs {cpus_used()}` (the default) "
            f"| ≤ {QUICK_BUDGET_S} s | {quick_s:.0f} s |",
            f"| the same, `--jobs 1` | | {quick1_s:.0f} s |",
            f"| its compile phase, `--jobs {cpus_used()}` against `--jobs 1`; peak RSS of each | "
            f"| {quick_split['compile']:.1f} s against {quick1_split['compile']:.1f} s; "
            f"{quick_rss / 2**20:.0f} MiB against {quick1_rss / 2**20:.0f} MiB |",
            f"| `make bench` wall time, fresh clone, install excluded ({rows} rows in its default sweep) "
            f"| ≤ {BENCH_BUDGET_S // 60} min | {bench_s:.0f} s ({bench_s / 60:.1f} min) |",
            f"| compile + timing, share of `make bench`'s wall time | ≥ {MEASURING_SHARE:.0%} "
            f"| {measuring:.0%} |",
            f"| repeatability: median \\|t₂/t₁ − 1\\| over {count} kernels ≥ 100 µs, make bench's default "
            f"sweep against one run after it ({second_s:.0f} s) | ≤ 5% "
            f"| {med:.1%} (90th percentile {p90:.1%}) |",
            "",
            f"Where the time went. `--quick`, `--jobs {cpus_used()}`: {_split_text(quick_split)}. "
            f"`--quick`, `--jobs 1`: {_split_text(quick1_split)}. "
            f"`make bench`: its {len(bench_splits)} sweeps "
            f"{sweeps['wall']:.0f} s ({_split_text(sweeps)}); the rest ({rest:.0f} s) is the devices study's "
            "process start-ups, the report's figures and the site, drawn side by side.",
            "",
            "Harness fidelity (`bench/studies/fidelity.py`), the same compiled callables timed by jaxgrads "
            "and by "
            "pytest-benchmark's pedantic mode:",
            "",
            fidelity_table,
        ]
    )
    publish("budgets", text, readme="--no-readme" not in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
