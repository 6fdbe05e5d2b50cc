"""Harness fidelity: jaxgrads' median against pytest-benchmark's pedantic mode, side by side.

For each kernel (all take 100 µs or more here), in one process and alternating: the jaxgrads timing
protocol, then ``benchmark.pedantic`` on the very same compiled callable with the same loop count
and rounds (and the garbage collector off in both), repeated ``REPEATS`` times with the kernels
interleaved and the order of the two harnesses alternating, so that drift on a shared machine and
warm caches reach both alike. Prints a markdown table
of the two medians (over the repeats) and their ratio.

    .venv/bin/python bench/studies/fidelity.py [--json OUT.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxgrads as jg
from jaxgrads.measure.timing import DEFAULT_MIN_SAMPLE_S, DEFAULT_SAMPLES, time_callable
from jaxgrads.results.labels import format_seconds

CASES = [  # (problem, wrt, method, size)
    ("quadratic", "x", "analytic_textbook", 1024),
    ("quadratic", "xx", "hessian_fwd_rev", 512),
    ("matvec", "A", "jacrev", 128),
    ("matvec", "A", "analytic", 128),
    ("linear_loss", "W", "jacfwd", (64, 16)),
    ("bilinear", "A", "jacfwd", 48),
    ("matvec", "x", "loop_vjp", (256, 256)),
    ("linear", "x", "jacrev", (256, 256)),
]
REPEATS = 15
RESULTS: list[dict] = []
KERNELS: dict = {}
LOOPS: dict = {}


def _id(case):
    return "-".join(map(str, case))


@pytest.mark.parametrize("case", CASES, ids=_id)
@pytest.mark.parametrize("repeat", range(REPEATS))
def test_fidelity(repeat, case, benchmark):
    problem, wrt, method, size = case
    if case not in KERNELS:
        KERNELS[case] = jg.build_kernel(problem, wrt, method, size, "float32", batch=4)
    kernel = KERNELS[case]

    def call():
        jax.block_until_ready(kernel())

    # the harness that runs second finds the caches warm: alternate which one goes first
    if repeat % 2 == 0:
        ours = time_callable(kernel, samples=DEFAULT_SAMPLES, min_sample_s=DEFAULT_MIN_SAMPLE_S)
        benchmark.pedantic(call, rounds=DEFAULT_SAMPLES, iterations=ours.inner_loops, warmup_rounds=1)
    else:
        loops = LOOPS.setdefault(case, time_callable(kernel, samples=1).inner_loops)
        benchmark.pedantic(call, rounds=DEFAULT_SAMPLES, iterations=loops, warmup_rounds=1)
        ours = time_callable(kernel, samples=DEFAULT_SAMPLES, min_sample_s=DEFAULT_MIN_SAMPLE_S)
    # the noise floor: the jaxgrads harness against itself, one more time
    again = time_callable(kernel, samples=DEFAULT_SAMPLES, min_sample_s=DEFAULT_MIN_SAMPLE_S)
    RESULTS.append(
        {
            "kernel": kernel.id,
            "jaxgrads_s": ours.median,
            "pytest_benchmark_s": benchmark.stats.stats.median,
            "jaxgrads_again_s": again.median,
        }
    )


def summarize(results: list[dict]) -> list[dict]:
    """Per kernel, the median over repeats of each harness's median."""
    by_kernel: dict[str, list[dict]] = {}
    for r in results:
        by_kernel.setdefault(r["kernel"], []).append(r)
    return [
        {
            "kernel": k,
            "jaxgrads_s": float(np.median([r["jaxgrads_s"] for r in rs])),
            "pytest_benchmark_s": float(np.median([r["pytest_benchmark_s"] for r in rs])),
            "jaxgrads_again_s": float(np.median([r["jaxgrads_again_s"] for r in rs])),
            "repeats": len(rs),
        }
        for k, rs in by_kernel.items()
    ]


def table(results: list[dict]) -> str:
    lines = [
        "| kernel | jaxgrads median | pytest-benchmark median | ratio | jaxgrads again (A/A ratio) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        ratio = r["jaxgrads_s"] / r["pytest_benchmark_s"]
        lines.append(
            f"| {r['kernel']} | {format_seconds(r['jaxgrads_s'])} | "
            f"{format_seconds(r['pytest_benchmark_s'])} | {ratio:.3f} | "
            f"{format_seconds(r['jaxgrads_again_s'])} ({r['jaxgrads_s'] / r['jaxgrads_again_s']:.3f}) |"
        )
    worst = max(abs(r["jaxgrads_s"] / r["pytest_benchmark_s"] - 1) for r in results)
    ratios = [abs(r["jaxgrads_s"] / r["pytest_benchmark_s"] - 1) for r in results]
    aa = [abs(r["jaxgrads_s"] / r["jaxgrads_again_s"] - 1) for r in results]
    lines.append(
        f"\njaxgrads vs pytest-benchmark: median |ratio - 1| {np.median(ratios):.1%}, largest {worst:.1%}; "
        f"jaxgrads vs itself (noise floor): median {np.median(aa):.1%}, largest {max(aa):.1%}; "
        f"{len(results)} kernels, {results[0]['repeats']} interleaved repeats"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    code = pytest.main(
        [__file__, "-q", "-p", "no:cacheprovider", "--benchmark-disable-gc", "--benchmark-quiet", "-o",
         "addopts=", "-W", "ignore::pytest_benchmark.logger.PytestBenchmarkWarning"]
    )  # fmt: skip
    # pytest imported this file again as its own module: its RESULTS are the ones filled
    results = next(
        m.RESULTS
        for m in list(sys.modules.values())
        if m is not sys.modules["__main__"]
        and getattr(m, "__file__", None) == __file__
        and hasattr(m, "RESULTS")
    )
    if code != 0 or not results:
        return 1
    results = summarize(results)
    print(table(results))
    if "--json" in argv:
        Path(argv[argv.index("--json") + 1]).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
