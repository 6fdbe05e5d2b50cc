"""The jaxgrads sweep as a pytest-benchmark suite: one benchmark per case, ids like
``quadratic-x-jacrev-1024-float32``.

Each case is prepared by the runner's own :func:`jaxgrads.sweep.run_case` (guards, AOT compile,
warm-up call, XLA costs, accuracy against the closed form), which hands the compiled kernel to
``benchmark.pedantic`` for the timing: compile and warm-up stay outside the timed region, and the
iterations per round are autoranged as the runner does. The row the runner would write goes into
``extra_info["jaxgrads"]``, which ``jaxgrads import-pytest-benchmark`` turns back into a results CSV.

    make bench-pytest     (results/pytest-benchmark.json; see README for compare and compare-fail)
"""

from __future__ import annotations

import math

import jax
import pytest

from jaxgrads import sweep as runner
from jaxgrads.measure.timing import Timing, time_callable


def _plain(value):
    """JSON-ready: numpy scalars to Python, everything else as it is."""
    return value.item() if hasattr(value, "item") else value


def test_jacobian(benchmark, case, session):
    def pedantic(kernel) -> Timing:
        # the runner's autorange picks the iterations per round: one round lasts min_sample_s
        loops = time_callable(
            kernel, samples=1, min_sample_s=session.sweep.min_sample_s, warmup=False
        ).inner_loops
        benchmark.pedantic(
            lambda: jax.block_until_ready(kernel()),
            rounds=session.sweep.samples,
            iterations=loops,
            warmup_rounds=1,
        )
        return Timing(tuple(benchmark.stats.stats.data), loops)

    row, samples = runner.run_case(case, session, timer=pedantic)
    if row["status"] == "skipped":
        pytest.skip(row["message"])
    assert row["status"] == "ok", row["message"]
    benchmark.extra_info["jaxgrads"] = {k: _plain(v) for k, v in row.items()}
    assert row["ok"], f"{case.id}: err_f64 {row['err_f64']:.3g} outside the dtype's tolerance"
    assert math.isclose(row["time_median_s"], benchmark.stats.stats.median)
