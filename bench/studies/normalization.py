"""How far do two runs of the same code disagree, and what brings them together?

Two questions the gate's design rests on, answered with ``RUNS`` gate sweeps in fresh processes,
each compared with the first, kernel by kernel (kernels above 10x the dispatch floor):

1. **Pinning.** The gate sweep pins itself to one CPU (``--cpus 1``). The same sweeps with
   ``--cpus`` set to every CPU show what that buys.
2. **Normalizing across machines.** Every run times a large copy and a large matmul
   (``ceiling_bytes_per_s``, ``ceiling_flops_per_s``, :mod:`jaxgrads.measure.roofline`). If a machine's speed
   were one number, a kernel's time ratio divided by the calibration kernels' ratio would cancel the
   machine and leave the code. The premise is tested where it is easiest to hold, on one machine:
   normalization earns its place only if it shrinks the spread of these A/A ratios.

    .venv/bin/python bench/studies/normalization.py [--runs 6] [--no-readme]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
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
    lines = [
        "| gate sweeps in fresh processes, each against the first "
        "| median \\|ratio − 1\\| | 90th percentile |",
        "|---|---|---|",
    ]
    notes = []
    everything = str(os.cpu_count() or 1)
    for label, cpus in ((f"{everything} CPUs", everything), ("1 CPU (the gate's sweep)", "1")):
        with tempfile.TemporaryDirectory(prefix="jaxgrads-normalization-") as tmp:
            runs = []
            for i in range(opts.runs):
                out = Path(tmp) / f"run{i}.csv"
                cmd = [sys.executable, "-m", "jaxgrads", "run", "--preset", "gate", "--cpus", cpus]
                cmd += ["-o", str(out)]
                subprocess.run(cmd, check=True, capture_output=True)
                runs.append(load_run(out, role=f"run {i}"))
        rows, note = compare_runs(runs)
        lines += [f"| {label}, {name} | {med:.1%} | {p90:.1%} |" for name, med, p90 in rows]
        notes.append(f"{label}: {note}")
    text = "\n".join(lines) + (
        f"\n\n{opts.runs} runs each; "
        + "; ".join(notes)
        + f". {time.perf_counter() - start:.0f} s, `.venv/bin/python bench/studies/normalization.py`."
    )
    publish("gate-normalization", text, readme=not opts.no_readme)


def compare_runs(runs) -> tuple[list[tuple[str, float, float]], str]:
    """Spread of every run against the first: raw, and divided by each calibration kernel's ratio."""
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
    rows = [(name, *spread(np.concatenate(parts))) for name, parts in logs.items()]
    mm = [float(r.value("ceiling_flops_per_s")) / 1e9 for r in runs]
    cp = [float(r.value("ceiling_bytes_per_s")) / 1e9 for r in runs]
    kernels = sum(len(p) for p in logs["raw"])
    note = (
        f"{kernels} kernel comparisons; the calibration kernels ranged {min(mm):.3g}-{max(mm):.3g} GFLOP/s "
        f"(matmul) and {min(cp):.3g}-{max(cp):.3g} GB/s (copy)"
    )
    return rows, note


if __name__ == "__main__":
    main()
