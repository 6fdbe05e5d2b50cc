"""jaxgrads.compare: any JAX function at the user's own arguments, every method that applies, the
results CSV's columns, a recommendation; bad calls are one-line errors."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from clitools import FAST, assert_one_line_error, jaxgrads

import jaxgrads as jg
from jaxgrads.function import picks, recommend, ties
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
    assert set(picks(t)) == {"W1"}
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
        (lambda: jg.compare(lambda i: i * 2.0, np.arange(3)), "compare: i is int64; valid: a floating-point"),
        (lambda: jg.compare(lambda x: None, X), "compare: f returns no array; valid: an array or a pytree"),
        (lambda: jg.compare(3, X), "compare: f must be a function, got int"),
        (lambda: jg.compare(mlp_block, X, W1, W2, methods=["nope"]), "unknown method 'nope'"),
    ],
)
def test_bad_calls_are_one_line_errors(call, message):
    with pytest.raises(jg.JaxgradsError, match="^" + message.replace("(", r"\(").replace("+", r"\+")):
        call()


LAYERS = Path(__file__).resolve().parents[1] / "bench" / "examples" / "layers.py"
MODELS = LAYERS.with_name("models.py")


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


def _table(rows):
    """A compare table built for the rule: (method, median, min[, output_format, nnz])."""
    import pandas as pd

    out = []
    for method, median, low, *form in rows:
        fmt, nnz = form or ("dense", 100)
        out.append({"wrt": "x", "method": method, "status": "ok", "ok": True, "time_median_s": median,
                    "time_min_s": low, "peak_bytes": 1000.0, "output_format": fmt, "nnz": nnz})  # fmt: skip
    return pd.DataFrame(out)


def test_the_tie_rule_names_the_simplest_of_the_methods_within_the_spread():
    t = _table([("jacrev_chunked", 337e-6, 331e-6), ("jacrev", 340e-6, 334e-6), ("map_vjp", 500e-6, 330e-6),
                ("jacfwd", 350e-6, 338e-6), ("linearize", 150e-6 * 4, 337e-6)])  # fmt: skip
    # jacrev's best sample beats the fastest's median, and so does map_vjp's (one lucky sample: the
    # spread says so); jacfwd's best is slower than it; linearize's best equals it (a tie)
    assert set(ties(t)["method"]) == {"jacrev_chunked", "jacrev", "map_vjp", "linearize"}
    assert picks(t) == {"x": "jacrev"}
    text = recommend(t)
    assert text.startswith("x: fastest jacrev_chunked (337 µs), tied within the measured spread with "
                           "jacrev (340 µs), map_vjp (500 µs), linearize (600 µs): use jacrev, the "
                           "simplest of them")  # fmt: skip
    apart = _table([("jacrev_chunked", 300e-6, 290e-6), ("jacrev", 340e-6, 301e-6)])
    assert picks(apart) == {"x": "jacrev_chunked"}
    assert "tied" not in recommend(apart)


def test_a_bcoo_result_is_named_with_what_dense_costs():
    t = _table([("jacrev", 340e-6, 1e-6), ("asdex_bcoo", 100e-6, 1e-6, "bcoo", 4096)])
    text = recommend(t, todense={("x", "asdex_bcoo"): 2.5e-5})
    assert "x: asdex_bcoo (4096 nonzeros, .todense() 25 µs more) return a BCOO sparse matrix" in text


def test_a_second_call_in_a_process_does_not_probe_the_machine_again(monkeypatch):
    """The first call probes at its start and end; a later one reuses the best of those."""
    from jaxgrads.sweep import context

    calls = []
    real = context.machine_probes
    monkeypatch.setattr(context, "machine_probes", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(context, "_ENDED", [])
    jg.compare(mlp_block, X, W1, W2, methods=["jacrev"], samples=1, min_sample_s=0.0005)
    first = len(calls)
    jg.compare(mlp_block, X, W1, W2, methods=["jacfwd"], samples=1, min_sample_s=0.0005)
    assert first == 2
    assert len(calls) == first


@pytest.mark.parametrize(
    ("args", "wrt", "methods", "shape"),
    [
        (["--function", f"{MODELS}:loss", "--args-from", f"{MODELS}:loss_args"], "params",
         ["grad", "jacfwd"], "874"),
        (["--function", f"{MODELS}:mnist_loss", "--args-from", f"{MODELS}:mnist_args"], "params",
         ["grad"], "2410"),
        (["--function", f"{MODELS}:logits", "--args-from", f"{MODELS}:logits_args", "--argnums", "0", "1"],
         "params+x", ["jacrev"], "8x10x1002"),
        (["--function", f"{MODELS}:logits", "--args-from", f"{MODELS}:logits_args", "--argnums", "1",
          "--batch-axis", "0"], "x", ["vmap_jacrev", "colored_batch_rev"], "8x10x16"),
    ],
)
def test_the_cli_takes_pytree_arguments_several_argnums_and_a_batch(tmp_path, args, wrt, methods, shape):
    out = tmp_path / "r.csv"
    result = jaxgrads("run", *args, "--methods", *methods, *FAST, "-o", str(out))
    assert result.returncode == 0, result.stderr
    df = read_results(out)
    assert set(df["method"]) == set(methods)
    assert set(df["wrt"]) == {wrt}
    assert df["ok"].all(), df[["method", "message"]]
    assert set(df["jac_shape"]) == {shape}
    assert f"{wrt}: fastest " in result.stdout


def test_the_cli_names_a_bad_leaf_by_its_path(tmp_path):
    out = tmp_path / "r.csv"
    result = jaxgrads("run", "--function", f"{MODELS}:loss", "--args-from", f"{MODELS}:loss_args",
                      "--argnums", "1", "--batch-axis", "2", *FAST, "-o", str(out))  # fmt: skip
    assert_one_line_error(result, "compare: batch_axis 2, but batch[0] has shape (8, 16)")
    assert not out.exists()
