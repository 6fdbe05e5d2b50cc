"""jaxgrads.compare: any JAX function at the user's own arguments, every method that applies, the
results CSV's columns, a recommendation; bad calls are one-line errors."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from clitools import FAST, assert_one_line_error, jaxgrads

import jaxgrads as jg
from jaxgrads.results.schema import FIELDS, read_results

RNG = np.random.default_rng(0)
X = RNG.standard_normal(8).astype(np.float32)
W1 = (RNG.standard_normal((12, 8)) / 3).astype(np.float32)
W2 = (RNG.standard_normal((5, 12)) / 3).astype(np.float32)


def mlp_block(x, W1, W2):
    return W2 @ jnp.tanh(W1 @ x)


def loss(x, W1, W2):
    return jnp.sum(mlp_block(x, W1, W2) ** 2)


@pytest.fixture(scope="module")
def block():
    return jg.compare(mlp_block, X, W1, W2, argnums=1, samples=2, min_sample_s=0.001)


def test_every_method_that_applies_runs_accurately_in_the_csvs_columns(block):
    t = block.table
    assert list(t.columns) == list(FIELDS)
    assert {"jacfwd", "jacrev", "linearize", "map_vjp", "jacrev_chunked"} <= set(t["method"])
    assert "grad" not in set(t["method"])  # a vector output
    assert (t["status"] == "ok").all(), t[["method", "message"]]
    assert t["ok"].astype(str).eq("True").all(), t[["method", "err_f64", "message"]]
    assert (t["wrt"] == "W1").all()  # the function's own parameter name
    assert set(t["m"]) == {5}  # the output's element count
    assert set(t["n"]) == {96}  # the argument's
    assert set(t["jac_shape"]) == {"5x12x8"}


def test_the_recommendation_names_the_fastest_and_the_smallest(block):
    t = block.table
    fastest = t.loc[t["time_median_s"].astype(float).idxmin(), "method"]
    assert block.recommendation.startswith(f"W1: fastest {fastest} (")
    assert "least memory" in block.recommendation
    assert block.recommendation in repr(block)
    assert "<table" in block._repr_html_()


def test_a_scalar_output_gets_its_hessian_and_a_budget_is_honoured():
    r = jg.compare(loss, X, W1, W2, methods=["jacrev", "grad", "hessian_fwd_rev"], samples=2,
                   min_sample_s=0.001, memory_budget=2**20)  # fmt: skip
    assert set(zip(r.table["wrt"], r.table["method"], strict=True)) == {("x", "jacrev"), ("x", "grad"),
                                                           ("xx", "hessian_fwd_rev")}  # fmt: skip
    assert r.table["ok"].astype(str).eq("True").all(), r.table[["method", "message"]]
    assert "within 1.02e+03 KiB" in r.recommendation or "within 1 MiB" in r.recommendation


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: jg.compare(mlp_block), "compare: give f's arguments after it"),
        (lambda: jg.compare(mlp_block, X, W1, W2, argnums=3), "compare: argnums 3; valid: 0-2"),
        (lambda: jg.compare(lambda i: i * 2.0, np.arange(3)), "compare: argument 0 is int64"),
        (lambda: jg.compare(lambda x: (x, x), X), "compare: f returns tuple; valid: one array"),
        (lambda: jg.compare(3, X), "compare: f must be a function, got int"),
        (lambda: jg.compare(mlp_block, X, W1, W2, methods=["nope"]), "unknown method 'nope'"),
    ],
)
def test_bad_calls_are_one_line_errors(call, message):
    with pytest.raises(jg.JaxgradsError, match="^" + message.replace("(", r"\(").replace("+", r"\+")):
        call()


LAYERS = Path(__file__).resolve().parents[1] / "bench" / "examples" / "layers.py"


def test_the_cli_runs_a_function_at_its_arguments(tmp_path):
    out = tmp_path / "r.csv"
    result = jaxgrads("run", "--function", f"{LAYERS}:mlp_block", "--args-from", f"{LAYERS}:mlp_args",
                      "--methods", "jacfwd", "jacrev", *FAST, "-o", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    df = read_results(out)
    assert set(df["method"]) == {"jacfwd", "jacrev"}
    assert (df["problem"] == "mlp_block").all()
    assert df["ok"].astype(str).eq("True").all(), df[["method", "message"]]
    assert "x: fastest " in result.stdout


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--function", f"{LAYERS}:mlp_block"], ["--function needs --args-from MODULE:MAKE"]),
        (["--function", "mlp_block", "--args-from", "x:y"], ["--function mlp_block: expected MODULE:NAME"]),
        (["--function", f"{LAYERS}:nope", "--args-from", f"{LAYERS}:mlp_args"], ["has no 'nope'"]),
        (["--function", f"{LAYERS}:mlp_block", "--args-from", f"{LAYERS}:mlp_args", "--argnums", "9"],
         ["compare: argnums 9; valid: 0-4"]),
        (["--function", f"{LAYERS}:mlp_block", "--args-from", f"{LAYERS}:mlp_args", "--sizes", "4"],
         ["--function sets the problem and size itself"]),
    ],
)
def test_bad_function_options_are_one_line_errors(tmp_path, args, needles):
    out = tmp_path / "r.csv"
    assert_one_line_error(jaxgrads("run", *args, *FAST, "-o", str(out)), *needles)
    assert not out.exists()
