"""Measures the runner's budgets and writes them into the README (between the budget markers).

* wall time of ``jaxgrads run --quick`` and of the default sweep (``make bench``'s), install excluded;
* repeatability: two back-to-back default sweeps, median |time ratio - 1| over kernels of 100 µs or
  more in both;
* harness fidelity: ``bench/studies/fidelity.py``'s table.

    .venv/bin/python bench/studies/budgets.py [--no-readme]

Everything quoted comes from this run; results/budgets.md keeps the full output.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from figures import publish

from jaxgrads.measure.machine import cpu_model
from jaxgrads.results.schema import KEY, read_results

ROOT = Path(__file__).resolve().parents[2]
LONG_KERNEL_S = 100e-6
QUICK_BUDGET_S = 45
# the default sweep with its cache and memory regime sizes per target (sweep.plan.regime_size): 94
# more rows than the 528 of the given sizes, about two minutes more on a 2-CPU VM
DEFAULT_BUDGET_S = 300


def timed_run(*args: str) -> float:
    start = time.perf_counter()
    command = [sys.executable, "-m", "jaxgrads", "run", *args]
    subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - start


def repeatability(a: Path, b: Path) -> tuple[float, float, int]:
    """Median and 90th percentile of |t_b / t_a - 1| over kernels >= 100 µs in both runs."""
    cols = [*KEY, "time_median_s"]
    ra, rb = (read_results(p) for p in (a, b))
    ra, rb = (r[r["status"] == "ok"][cols] for r in (ra, rb))
    both = ra.merge(rb, on=list(KEY), suffixes=("_a", "_b"))
    long = both[(both["time_median_s_a"] >= LONG_KERNEL_S) & (both["time_median_s_b"] >= LONG_KERNEL_S)]
    dev = (long["time_median_s_b"] / long["time_median_s_a"] - 1).abs()
    return float(dev.median()), float(np.percentile(dev, 90)), len(long)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        quick_s = timed_run("--quick", "-o", str(tmp / "quick.csv"))
        first_s = timed_run("-o", str(tmp / "a.csv"))
        second_s = timed_run("-o", str(tmp / "b.csv"))
        med, p90, count = repeatability(tmp / "a.csv", tmp / "b.csv")
        rows = len(pd.read_csv(tmp / "a.csv"))
        quick_rows = len(pd.read_csv(tmp / "quick.csv"))
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
            f"Measured by `make budgets` (`bench/studies/budgets.py`) on {cpu_model()}, "
            f"{platform.node()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}:",
            "",
            "| budget | target | measured |",
            "|---|---|---|",
            f"| `jaxgrads run --quick` wall time ({quick_rows} rows) | ≤ {QUICK_BUDGET_S} s "
            f"| {quick_s:.0f} s |",
            f"| default sweep (`make bench`) wall time ({rows} rows), first run | ≤ {DEFAULT_BUDGET_S} s "
            f"| {first_s:.0f} s |",
            f"| default sweep, second run | ≤ {DEFAULT_BUDGET_S} s | {second_s:.0f} s |",
            f"| repeatability: median \\|t₂/t₁ − 1\\| over {count} kernels ≥ 100 µs | ≤ 5% | {med:.1%} "
            f"(90th percentile {p90:.1%}) |",
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
