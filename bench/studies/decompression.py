"""Dense decompression against asdex's, into docs/structure.md's ``decompression`` block.

∂(Ax)/∂A (m = n: one color, an m x m·n Jacobian of m·n nonzeros) at 64 and 128: ``jacrev_colored``
(one VJP, then the nonzeros scattered into a dense zero array), ``asdex_dense`` (asdex's evaluation
of the same coloring, its own scatter) and the closed form, built as the runner builds them and
timed interleaved in one process (round after round, each kernel by the runner's protocol; the
median over rounds), so that a moment the machine is slower falls on all three.

    .venv/bin/python bench/studies/decompression.py [--rounds 9] [--no-readme]   (the [sparse] extra)
"""

from __future__ import annotations

import argparse
import datetime as dt

import numpy as np
from figures import publish

import jaxgrads as jg
from jaxgrads.measure.machine import run_metadata
from jaxgrads.measure.timing import time_callable
from jaxgrads.results.labels import format_seconds

METHODS = ("jacrev_colored", "asdex_dense", "analytic")
SIZES = (64, 128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    kernels = {(n, m): jg.build_kernel("matvec", "A", m, n, "float32") for n in SIZES for m in METHODS}
    for (n, _), k in kernels.items():  # the same Jacobian from all three, or nothing is published
        np.testing.assert_allclose(np.asarray(k()), np.asarray(kernels[n, "analytic"]()), rtol=1e-6)
    times = {key: [] for key in kernels}
    for _ in range(args.rounds):
        for key, k in kernels.items():
            times[key].append(time_callable(k, samples=5, min_sample_s=0.01).median)
    t = {key: float(np.median(v)) for key, v in times.items()}
    meta = run_metadata(kernels[SIZES[0], METHODS[0]].device)
    lines = [
        f"Measured by `bench/studies/decompression.py` on {meta['cpu_model']} ({meta['cpu_count']} CPUs), "
        f"jax {meta['jax_version']}, {dt.date.today().isoformat()}: median over {args.rounds} interleaved "
        "rounds of each kernel's median of 5 samples:",
        "",
        "| ∂(Ax)/∂A | jacrev_colored | asdex_dense | closed form | colored / asdex | colored / closed form |",
        "|---|---|---|---|---|---|",
    ]
    for n in SIZES:
        c, a, f = (t[n, m] for m in METHODS)
        lines.append(f"| {n} | {format_seconds(c)} | {format_seconds(a)} | {format_seconds(f)} | "
                     f"{c / a:.2f} | {c / f:.2f} |")  # fmt: skip
    publish("decompression", "\n".join(lines), readme=not args.no_readme)


if __name__ == "__main__":
    main()
