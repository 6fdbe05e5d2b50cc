"""The timing protocol, XLA's cost accounting and the accuracy columns."""

import math
import time

import jax
import numpy as np
import pytest

import jaxgrads as jg
from jaxgrads.measure import timing as timing_module
from jaxgrads.measure.accuracy import accuracy, reference
from jaxgrads.measure.timing import Timing, dispatch_floor, time_callable
from jaxgrads.measure.xla import cost_and_memory


def test_timing_statistics():
    t = Timing((3.0, 1.0, 2.0, 4.0, 5.0), inner_loops=10)
    assert t.median == 3.0
    assert t.min == 1.0
    assert t.iqr == 2.0


def test_autorange_reaches_the_minimum_sample_time(monkeypatch):
    """On a clock the test controls (each call takes exactly 1 ms), so a busy machine cannot move it."""
    clock = [0.0]
    monkeypatch.setattr(timing_module.time, "perf_counter", lambda: clock[0])
    calls = []

    def fn():
        calls.append(1)
        clock[0] += 0.001
        return 0

    timing = time_callable(fn, samples=3, min_sample_s=0.02)
    assert len(timing.samples) == 3
    assert timing.inner_loops >= 20  # 20 ms of 1 ms calls
    assert all(s * timing.inner_loops >= 0.02 for s in timing.samples)
    assert timing.samples == pytest.approx((0.001,) * 3)
    assert len(calls) >= 1 + 3 * timing.inner_loops  # the warm-up, then every sample's loops


@pytest.mark.parametrize(
    ("call_s", "expected"),
    [(0.001, 7), (0.1, 7), (0.15, 7), (0.2, 5), (0.3, 4), (0.5, 3), (2.5, 3)],
)
def test_a_slow_kernel_keeps_fewer_samples_on_a_controlled_clock(monkeypatch, call_s, expected):
    """Under a 1 s cap: all 7 samples while they fit, ceil(1 s / sample) past that, never under 3."""
    clock = [0.0]
    monkeypatch.setattr(timing_module.time, "perf_counter", lambda: clock[0])

    def fn():
        clock[0] += call_s
        return 0

    timing = time_callable(fn, samples=7, min_sample_s=0.1, max_time_s=1.0)
    assert len(timing.samples) == expected
    assert timing.samples == pytest.approx((call_s,) * expected)
    # without a cap (time_callable's default) every sample is taken
    assert len(time_callable(fn, samples=7, min_sample_s=0.1).samples) == 7


def test_the_sample_count_never_asks_for_more_than_given():
    assert timing_module.sample_count(2, 5.0, 1.0) == 2  # fewer than the minimum asked: all of them
    assert timing_module.sample_count(9, 0.2, math.inf) == 9
    assert timing_module.sample_count(9, 0.0, 1.0) == 9


def test_slow_callable_gets_one_loop():
    timing = time_callable(lambda: time.sleep(0.03), samples=2, min_sample_s=0.01)
    assert timing.inner_loops == 1


def test_dispatch_floor_is_a_small_positive_time():
    floor = dispatch_floor(jax.devices("cpu")[0], samples=3, min_sample_s=0.005)
    assert 0 < floor < 0.05  # the fastest of 3 samples of a no-op: far under 50 ms on any loaded CPU


def test_xla_flops_match_the_closed_form_count():
    n = 256
    kernel = jg.build_kernel("quadratic", "x", "analytic", n, "float32")
    cost = cost_and_memory(kernel.executables)
    # A @ x and x @ A: 2 n^2 flops each, plus n additions
    assert cost["flops"] == 4 * n * n + n
    assert cost["bytes_accessed"] >= n * n * 4  # A is read at least once
    assert cost["output_bytes"] == n * 4


def test_loop_kernel_cost_counts_every_step():
    kernel = jg.build_kernel("matvec", "x", "loop_vjp", (6, 5), "float32")
    step, calls = kernel.executables[-1]
    assert calls == 6
    one = cost_and_memory([(step, 1)])
    total = cost_and_memory(kernel.executables)
    assert total["flops"] == pytest.approx(6 * one["flops"])


def test_accuracy_of_a_correct_jacobian():
    kernel = jg.build_kernel("matvec", "A", "jacrev", (5, 3), "float32")
    acc = accuracy(kernel, kernel(), reference(kernel))
    assert acc["ok"]
    assert acc["err_f64"] < 1e-6
    assert acc["err_closed_form"] < 1e-6


def test_accuracy_flags_a_wrong_or_nonfinite_jacobian():
    kernel = jg.build_kernel("quadratic", "x", "jacrev", 4, "float64")
    J = np.asarray(kernel())
    wrong = J.copy()
    wrong[0] *= 1 + 1e-9
    assert not accuracy(kernel, wrong)["ok"]
    bad = J.copy()
    bad[1] = np.nan
    result = accuracy(kernel, bad)
    assert not result["ok"]
    assert math.isnan(result["err_f64"])
