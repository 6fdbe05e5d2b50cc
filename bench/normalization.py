"""Should the gate compare timings across machines by normalizing with in-run calibration kernels?

Every run times a large copy and a large matmul (``ceiling_bytes_per_s``, ``ceiling_flops_per_s``,
:mod:`jaxgrads.roofline`). If a machine's speed were one number, a kernel's time ratio between two
runs divided by the calibration kernels' ratio would cancel the machine and leave the code. This
script tests the premise where it is easiest to hold, on one machine: ``RUNS`` gate sweeps in fresh
processes, each compared with the first, kernel by kernel, raw and normalized by the matmul's or the
copy's ratio. Normalization earns its place only if it shrinks the spread of those A/A ratios.

    .venv/bin/python bench/normalization.py [--runs 6] [--no-readme]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from figures import publish

from jaxgrads.gate import Rule, load_run


def spread(log_ratios: np.ndarray) -> tuple[float, float]:
    """Median and 90th percentile of |ratio - 1|."""
    dev = np.abs(np.exp(log_ratios) - 1)
    return float(np.median(dev)), float(np.percentile(dev, 90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--no-readme", action="store_true")
    opts = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="jaxgrads-normalization-") as tmp:
        runs = []
        for i in range(opts.runs):
            out = Path(tmp) / f"run{i}.csv"
            cmd = [sys.executable, "-m", "jaxgrads", "run", "--preset", "gate", "-o", str(out)]
            subprocess.run(cmd, check=True, capture_output=True)
            runs.append(load_run(out, role=f"run {i}"))
    first = runs[0]
    floor = Rule().floor_factor * max(float(r.value("dispatch_floor_s")) for r in runs)
    logs = {"raw": [], "÷ matmul ratio": [], "÷ copy ratio": []}
    for run in runs[1:]:
        shared = [k for k in run.rows.index if k in first.rows.index]
        t0 = first.rows.loc[shared, "time_median_s"].astype(float).to_numpy()
        t1 = run.rows.loc[shared, "time_median_s"].astype(float).to_numpy()
        keep = np.minimum(t0, t1) > floor
        log = np.log(t1[keep] / t0[keep])
        mm = float(first.value("ceiling_flops_per_s")) / float(run.value("ceiling_flops_per_s"))
        cp = float(first.value("ceiling_bytes_per_s")) / float(run.value("ceiling_bytes_per_s"))
        logs["raw"].append(log)
        logs["÷ matmul ratio"].append(log - np.log(mm))  # the matmul took mm times as long
        logs["÷ copy ratio"].append(log - np.log(cp))
    lines = [
        "| A/A timings, each run against the first | median \\|ratio − 1\\| | 90th percentile |",
        "|---|---|---|",
    ]
    for name, parts in logs.items():
        med, p90 = spread(np.concatenate(parts))
        lines.append(f"| {name} | {med:.1%} | {p90:.1%} |")
    ceilings = pd.DataFrame(
        {
            "matmul GFLOP/s": [float(r.value("ceiling_flops_per_s")) / 1e9 for r in runs],
            "copy GB/s": [float(r.value("ceiling_bytes_per_s")) / 1e9 for r in runs],
        }
    )
    kernels = sum(len(p) for p in logs["raw"])
    text = "\n".join(lines) + (
        f"\n\n{opts.runs} gate sweeps in fresh processes, {kernels} kernel comparisons above "
        f"{Rule().floor_factor:g}× the dispatch floor; the calibration kernels ranged "
        f"{ceilings['matmul GFLOP/s'].min():.3g}-{ceilings['matmul GFLOP/s'].max():.3g} GFLOP/s (matmul) and "
        f"{ceilings['copy GB/s'].min():.3g}-{ceilings['copy GB/s'].max():.3g} GB/s (copy) across the runs. "
        f"{time.perf_counter() - start:.0f} s, `.venv/bin/python bench/normalization.py`."
    )
    publish("gate-normalization", text, readme=not opts.no_readme)


if __name__ == "__main__":
    main()
