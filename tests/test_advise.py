"""jaxgrads.advise: the prediction model on cases built so the answer is known (a square dense map, a
tall and a wide one, a diagonal one), under a machine the test makes (never this one's speed), the
chunk that fits a budget, compare(predict=True), and the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from clitools import assert_one_line_error, jaxgrads

import jaxgrads as jg
from jaxgrads.function.advise import advice_text, chunk_candidates, separated
from jaxgrads.function.defaults import x64
from jaxgrads.function.problem import function_problem
from jaxgrads.measure.case import decide
from jaxgrads.measure.predict import predict, unit_costs
from jaxgrads.measure.roofline import Ceilings
from jaxgrads.methods import METHODS
from jaxgrads.problems.registry import unregister

MACHINE = Ceilings.flat(1e10, 1e11)  # 10 GB/s, 100 GFLOP/s: a machine of the test's own
DISPATCH, LOOP, KERNEL = 5e-6, 1e-6, 1e-6
RNG = np.random.default_rng(0)


def predictions(f, *args, methods, chunk=None, colors=None, nnz=None):
    with x64():
        problem, size, _ = function_problem(f, args)
    try:
        d = problem.derivatives[0]
        host = problem.inputs(problem.canonical(size), np.float32)
        costs = unit_costs(problem, d, host)
        out = {}
        for name in methods:
            case = decide(problem, d, METHODS[name], problem.canonical(size), "float32", chunk_size=chunk)
            out[name] = predict(case, costs, MACHINE, DISPATCH, LOOP, KERNEL, colors=colors, nnz=nnz)
        return out
    finally:
        unregister(problem.name)


def matvec(A):
    def f(x):
        return A @ x

    return f


@pytest.mark.parametrize(("m", "n", "faster"), [(512, 8, "jacfwd"), (8, 512, "jacrev")])
def test_a_tall_map_goes_forward_and_a_wide_one_in_reverse(m, n, faster):
    """k directions of one JVP (VJP) each: forward pushes n, reverse m; the fewer wins."""
    A = RNG.standard_normal((m, n)).astype(np.float32)
    p = predictions(matvec(A), np.ones(n, np.float32), methods=["jacfwd", "jacrev", "map_jvp", "map_vjp"])
    assert p["jacfwd"].directions == n
    assert p["jacrev"].directions == m
    slower = {"jacfwd": "jacrev", "jacrev": "jacfwd"}[faster]
    assert p[faster].time_s < p[slower].time_s
    walk = {"jacfwd": "map_jvp", "jacrev": "map_vjp"}[faster]
    assert p[walk].steps == min(m, n)
    assert p[walk].time_s > p[faster].time_s  # the walk pays an iteration and its kernels per step


def test_a_square_map_has_no_side():
    A = RNG.standard_normal((64, 64)).astype(np.float32)
    p = predictions(matvec(A), np.ones(64, np.float32), methods=["jacfwd", "jacrev"])
    assert p["jacfwd"].directions == p["jacrev"].directions == 64
    assert p["jacfwd"].time_s == pytest.approx(p["jacrev"].time_s, rel=0.25)


def test_a_diagonal_map_is_cheapest_by_one_color():
    """x * softplus(x): one color pushes one JVP for the whole diagonal."""
    p = predictions(lambda x: x * jnp.tanh(x), np.ones(4096, np.float32), methods=["jacfwd", "jacrev"])
    one = predictions(lambda x: x * jnp.tanh(x), np.ones(4096, np.float32), methods=["jacfwd_colored"],
                      colors=1, nnz=4096)  # fmt: skip
    assert one["jacfwd_colored"].directions == 1
    assert one["jacfwd_colored"].time_s < min(p["jacfwd"].time_s, p["jacrev"].time_s) / 10


def test_a_prediction_is_the_models_sum_on_a_machine_it_is_given():
    """jacrev of a wide map: D + the primal + m directions of the VJP's own work + writing J, on the
    roofline."""
    A = RNG.standard_normal((4, 256)).astype(np.float32)
    p = predictions(matvec(A), np.ones(256, np.float32), methods=["jacrev"])["jacrev"]
    with x64():
        problem, size, _ = function_problem(matvec(A), (np.ones(256, np.float32),))
    try:
        host = problem.inputs(problem.canonical(size), np.float32)
        costs = unit_costs(problem, problem.derivatives[0], host)
    finally:
        unregister(problem.name)
    (fp, bp, kp), (fv, bv, kv) = costs.primal, costs.vjp
    rate = lambda f, b: max(f / 1e11, b / 1e10)  # noqa: E731
    direction = rate(4 * (fv - fp), 4 * max(bv - bp, 4 * (256 + 4)))  # 4 VJPs, each at least its vectors
    written = 4 * 4 * 256 / 1e10  # the Jacobian's bytes, written
    expected = DISPATCH + KERNEL * kp + rate(fp, bp) + KERNEL * max(kv - kp, 1) + direction + written
    assert p.time_s == pytest.approx(expected, rel=1e-9)
    assert p.peak_bytes == 4 * 256 + 4 * 4 * 256  # the input x (A is a constant of f) and the Jacobian


def test_the_chunk_candidates_and_the_separation_rule():
    assert chunk_candidates(100) == [1, 4, 16, 64, 100]
    assert chunk_candidates(1) == [1]
    import pandas as pd

    assert list(separated(pd.Series([1.0, 1.4, 1.6]), 1.5)) == [False, False, True]


def test_the_chunk_that_fits_a_budget_is_named():
    import pandas as pd

    table = pd.DataFrame([
        {"wrt": "x", "method": "jacrev", "chunk_size": 0, "predicted_s": 1e-4, "predicted_peak_bytes": 8e6,
         "fits": False, "memory_budget_bytes": 2**20, "separated": False},
        {"wrt": "x", "method": "jacrev_chunked", "chunk_size": 16, "predicted_s": 2e-4,
         "predicted_peak_bytes": 5e5, "fits": True, "memory_budget_bytes": 2**20, "separated": True},
        {"wrt": "x", "method": "jacrev_chunked", "chunk_size": 64, "predicted_s": 1.5e-4,
         "predicted_peak_bytes": 9e5, "fits": True, "memory_budget_bytes": 2**20, "separated": False},
    ])  # fmt: skip
    text = advice_text(table)
    assert text.startswith("x: predicted fastest jacrev_chunked (chunk 64) (150 µs, 879 KiB peak)")


def test_advise_ranks_every_method_and_names_a_fitting_chunk():
    A = RNG.standard_normal((256, 64)).astype(np.float32)
    budget = 2**20
    a = jg.advise(matvec(A), np.ones(64, np.float32), memory_budget=budget)
    t = a.table
    assert {"jacfwd", "jacrev", "map_vjp", "jacrev_chunked"} <= set(t["method"])
    assert set(t.loc[t["method"] == "jacrev_chunked", "chunk_size"]) == {1, 4, 16, 64, 256}
    assert (t["fits"] == (t["predicted_peak_bytes"] <= budget)).all()
    assert t["predicted_s"].map(math.isfinite).all()
    assert a.recommendation.startswith("x: predicted fastest ")
    assert a.seconds > 0


def test_compare_with_predict_measures_only_what_the_prediction_cannot_separate():
    A = RNG.standard_normal((256, 8)).astype(np.float32)
    r = jg.compare(matvec(A), np.ones(8, np.float32), predict=True, samples=2, min_sample_s=0.0005)
    measured = set(r.table["method"])
    assert measured
    assert all(m not in measured for _, m in r.skipped)
    assert "loop_vjp" in {m for _, m in r.skipped}  # 256 dispatched steps against 8 JVPs
    assert "not measured (the prediction separates them from the best): " in r.recommendation
    assert r.advice is not None
    assert r.seconds["predict"] > 0


FUNCTIONS = Path(__file__).resolve().parents[1] / "bench" / "examples" / "layers.py"


def test_the_cli_advises():
    result = jaxgrads("advise", "--function", f"{FUNCTIONS}:attention_head", "--args-from",
                      f"{FUNCTIONS}:attention_args", "--argnums", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Wq: predicted fastest " in result.stdout


def test_the_cli_advise_errors_are_one_line():
    assert_one_line_error(jaxgrads("advise", "--function", f"{FUNCTIONS}:attention_head"),
                          "--function needs --args-from")  # fmt: skip
