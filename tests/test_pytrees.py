"""jaxgrads.compare on models as JAX users write them: pytree arguments and outputs (dict, list of
tuples, NamedTuple, a registered dataclass, nested), static leaves, tuple argnums, has_aux, and the
per-example Jacobians of a batch; every JAX method ok and its Jacobian equal to jax.jacrev's, leaf
by leaf."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgrads as jg
from jaxgrads.function.problem import function_problem
from jaxgrads.measure.blocks import block_accuracy
from jaxgrads.measure.tolerance import rtol
from jaxgrads.problems.registry import unregister

RNG = np.random.default_rng(1)
FAST = {"samples": 2, "min_sample_s": 0.0005}
JAX_METHODS = {"jacfwd", "jacrev", "linearize", "map_vjp", "map_jvp", "jacrev_chunked", "jacfwd_chunked"}


def normal(*shape):
    return (RNG.standard_normal(shape) / 2).astype(np.float32)


class Layer(NamedTuple):
    W: np.ndarray
    b: np.ndarray


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class Block:
    scale: np.ndarray
    shift: np.ndarray


X = normal(3, 4)
CASES = {
    # name: (f, params): f(params, x) returns a pytree of the same kind as params
    "dict": (lambda p, x: {"h": jnp.tanh(x @ p["W"] + p["b"][None]), "s": jnp.sum(p["W"] ** 2)},
             {"W": normal(4, 5), "b": normal(5)}),
    "list_of_tuples": (lambda p, x: [(jnp.tanh(x @ W + b[None]), jnp.sum(b)) for W, b in p],
                       [(normal(4, 4), normal(4)), (normal(4, 4), normal(4))]),
    "namedtuple": (lambda p, x: Layer(jnp.sin(x @ p.W), p.b * 2.0), Layer(normal(4, 2), normal(2))),
    "dataclass": (lambda p, x: Block(x * p.scale[None] + p.shift[None], jnp.cos(p.shift)),
                  Block(normal(4), normal(4))),
    "nested": (lambda p, x: {"out": [jnp.tanh(x @ p["enc"][0]) @ p["dec"]["W"], p["dec"]["b"] ** 2]},
               {"enc": (normal(4, 3),), "dec": {"W": normal(3, 2), "b": normal(2)}}),
}  # fmt: skip


def assert_tree_close(actual, desired):
    assert jax.tree_util.tree_structure(actual) == jax.tree_util.tree_structure(desired)
    for a, d in zip(jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(desired), strict=True):
        assert np.shape(a) == np.shape(d)
        np.testing.assert_allclose(a, d, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("kind", list(CASES))
def test_a_pytree_argument_and_output_every_method_ok_and_equal_to_jacrev(kind):
    f, params = CASES[kind]
    r = jg.compare(f, params, X, jacobians="all", **FAST)
    t = r.table
    assert JAX_METHODS <= set(t["method"])
    assert (t["status"] == "ok").all(), t[["method", "message"]]
    assert t["ok"].all(), t[["method", "err_f64", "message"]]
    n_params = sum(np.size(v) for v in jax.tree_util.tree_leaves(params))
    out = jax.eval_shape(f, params, X)
    assert set(t.loc[t["wrt"] == "p", "n"]) == {n_params}  # the total element counts
    m = sum(np.prod(o.shape, dtype=int) for o in jax.tree.leaves(out))
    assert set(t.loc[t["wrt"] == "p", "m"]) == {m}
    assert set(t["wrt_leaves"]) == {len(jax.tree_util.tree_leaves(params))}
    assert set(t["out_leaves"]) == {len(jax.tree_util.tree_leaves(out))}
    expected = jax.jacrev(f)(params, X)
    for method, J in r.jacobians["p"].items():
        assert_tree_close(J, expected), method


def test_tuple_argnums_give_jacrevs_tuple_of_blocks():
    f, params = CASES["dict"]
    r = jg.compare(f, params, X, argnums=(0, 1), methods=["jacfwd", "jacrev", "jacrev_chunked"],
                   jacobians="all", **FAST)  # fmt: skip
    assert set(r.table["wrt"]) == {"p+x"}
    assert r.table["ok"].all(), r.table[["method", "message"]]
    expected = jax.jacrev(f, argnums=(0, 1))(params, X)
    for J in r.jacobians["p+x"].values():
        assert_tree_close(J, expected)


def test_has_aux_differentiates_the_output_alone_and_returns_the_aux():
    def f(W, x):
        h = jnp.tanh(x @ W)
        return h.sum(axis=0), {"norm": jnp.linalg.norm(h), "count": 3}

    W = normal(4, 5)
    r = jg.compare(f, W, X, has_aux=True, methods=["jacfwd", "jacrev"], jacobians=True, **FAST)
    assert r.table["ok"].all(), r.table[["method", "message"]]
    expected, aux = jax.jacrev(f, has_aux=True)(W, X)
    assert_tree_close(r.jacobians["W"], expected)
    assert float(r.aux["norm"]) == pytest.approx(float(aux["norm"]))


def test_static_leaves_are_held_as_equinox_holds_them():
    """A model whose pytree carries a function and a string: those are passed through, never
    differentiated, and None in the Jacobian's pytree."""
    params = {"W": normal(4, 3), "act": jnp.tanh, "name": "layer", "depth": 2}

    def f(p, x):
        return p["act"](x @ p["W"]) * p["depth"]

    r = jg.compare(f, params, X, methods=["jacrev", "jacfwd"], jacobians=True, **FAST)
    assert r.table["ok"].all(), r.table[["method", "message"]]
    J = r.jacobians["p"]
    assert J["act"] is None
    assert J["name"] is None
    assert J["depth"] is None
    expected = jax.jacrev(lambda W: f({**params, "W": W}, X))(params["W"])
    np.testing.assert_allclose(J["W"], expected, rtol=2e-4, atol=2e-5)


def test_a_scalar_loss_of_a_pytree_gets_its_gradient_and_hessian_as_jax_does():
    def loss(p, x):
        return jnp.sum(jnp.tanh(x @ p["W"] + p["b"][None]) ** 2)

    params = {"W": normal(4, 3), "b": normal(3)}
    r = jg.compare(loss, params, X, methods=["grad", "hessian_fwd_rev"], jacobians=True, **FAST)
    assert r.table["ok"].all(), r.table[["method", "message"]]
    assert_tree_close(r.jacobians["p"], jax.grad(loss)(params, X))
    assert_tree_close(r.jacobians["pp"], jax.hessian(loss)(params, X))


def mlp(p, x):
    return jnp.tanh(x @ p["W1"]) @ p["W2"]


BATCH_PARAMS = {"W1": normal(4, 6), "W2": normal(6, 3)}
BATCH_X = normal(5, 4)
PER_EXAMPLE = {"vmap_jacrev", "vmap_jacfwd", "jacrev_diagonal", "colored_batch_rev", "colored_batch_fwd"}


def test_every_batch_method_gives_the_per_example_jacobians():
    r = jg.compare(mlp, BATCH_PARAMS, BATCH_X, argnums=1, batch_axis=0, jacobians="all", **FAST)
    t = r.table
    assert set(t["method"]) == PER_EXAMPLE
    assert t["ok"].all(), t[["method", "message"]]
    assert set(t["jac_shape"]) == {"5x3x4"}
    assert set(t["batch"]) == {5}
    expected = jax.vmap(jax.jacrev(lambda xb: mlp(BATCH_PARAMS, xb)))(BATCH_X)
    for J in r.jacobians["x"].values():
        np.testing.assert_allclose(J, expected, rtol=2e-4, atol=2e-5)


def test_a_batch_on_another_axis_and_a_pytree_of_examples():
    def f(inputs):  # examples on axis 1 of both leaves and of the output
        return jnp.sin(inputs["a"]) * inputs["b"][:1]

    inputs = {"a": normal(3, 4), "b": normal(2, 4)}
    r = jg.compare(f, inputs, batch_axis=1, methods=["vmap_jacrev", "colored_batch_fwd"], jacobians="all",
                   **FAST)  # fmt: skip
    assert r.table["ok"].all(), r.table[["method", "message"]]
    one = jax.jacrev(lambda a, b: jnp.sin(a) * b[:1], argnums=(0, 1))
    per = jax.vmap(lambda a, b: one(a, b), in_axes=(1, 1))(inputs["a"], inputs["b"])  # (4, 3, 3), (4, 3, 2)
    for J in r.jacobians["inputs"].values():
        np.testing.assert_allclose(J["a"], per[0], rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(J["b"], per[1], rtol=2e-4, atol=2e-5)


def test_a_batch_whose_examples_interact_fails_the_methods_that_assume_they_do_not():
    def normalized(x):  # a batch norm: every example reads the batch's mean
        return jnp.tanh(x - x.mean(axis=0, keepdims=True))

    r = jg.compare(normalized, BATCH_X, batch_axis=0, **FAST)
    ok = dict(zip(r.table["method"], r.table["ok"], strict=True))
    assert ok["jacrev_diagonal"]
    assert not ok["colored_batch_rev"]
    assert not ok["vmap_jacrev"]
    assert "jacrev_diagonal" in r.recommendation


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: jg.compare(mlp, BATCH_PARAMS, BATCH_X, argnums=(0, 5)), "compare: argnums 5; valid: 0-1"),
        (lambda: jg.compare(mlp, BATCH_PARAMS, BATCH_X, argnums="0"),
         "compare: argnums '0'; valid: an int or"),
        (lambda: jg.compare(mlp, BATCH_PARAMS, BATCH_X, argnums=(0, 0)), "compare: argnums (0, 0) repeats"),
        (lambda: jg.compare(mlp, {"W1": np.ones((4, 6), np.int32), "W2": BATCH_PARAMS["W2"]}, BATCH_X),
         "compare: p['W1'] is int32; valid: a floating-point array"),
        (lambda: jg.compare(mlp, {"W1": np.ones((0, 6), np.float32), "W2": BATCH_PARAMS["W2"]}, BATCH_X),
         "compare: p['W1'] is empty"),
        (lambda: jg.compare(lambda x: x.astype(jnp.complex64), X),
         "compare: the output is complex64; complex outputs"),
        (lambda: jg.compare(lambda x: {"z": x.astype(jnp.complex64)}, X),
         "compare: the output['z'] is complex64"),
        (lambda: jg.compare(lambda x: jnp.zeros((0,), x.dtype) + x.sum(), X), "compare: the output is empty"),
        (lambda: jg.compare(lambda x: jnp.round(x).astype(jnp.int32), X), "compare: the output is int32"),
        (lambda: jg.compare(mlp, BATCH_PARAMS, BATCH_X, argnums=1, batch_axis=2),
         "compare: batch_axis 2, but"),
        (lambda: jg.compare(lambda x: x[:2], BATCH_X, batch_axis=0),
         "compare: batch_axis 0: the batch sizes"),
        (lambda: jg.compare(mlp, BATCH_PARAMS, BATCH_X, has_aux=True), "compare: has_aux=True but mlp"),
        (lambda: jg.compare(mlp, {"act": jnp.tanh}, X), "compare: argument p has no floating-point array"),
        (lambda: jg.compare(mlp, BATCH_PARAMS, BATCH_X, jacobians="some"), "compare: jacobians='some'"),
    ],
)
def test_each_bad_input_is_one_line_before_any_compile(call, message):
    with pytest.raises(jg.JaxgradsError) as info:
        call()
    text = str(info.value)
    assert text.startswith(message), text
    assert "\n" not in text


def untraceable(x):
    if x.sum() > 0:  # a Python if on a traced value
        return x
    return -x


def test_a_function_jax_cannot_trace_names_the_users_line():
    with pytest.raises(jg.JaxgradsError) as info:
        jg.compare(untraceable, X)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("compare: JAX cannot trace untraceable (at test_pytrees.py:")
    assert "if x.sum() > 0" in text
    assert "TracerBoolConversionError" in text


def test_a_wrong_small_block_fails_its_row_and_is_named_by_its_leaves_path():
    """The whole matrix's normwise error is within the tolerance; the bias block's is not."""
    params = {"W": normal(24, 24), "b": normal(3)}
    try:
        _, _, flat = function_problem(lambda p: jnp.concatenate([p["W"].ravel(), p["b"]]), (params,))
    finally:
        unregister("f")
    reference = np.eye(flat.m, flat.n)
    wrong = reference.copy()
    wrong[-1, -1] *= 1 + 1e-3  # the bias block, 3 of 579 diagonal entries, one off by 1e-3
    whole = np.linalg.norm(wrong - reference) / np.linalg.norm(reference)
    assert whole < rtol(np.float32, 100)  # a check of the whole matrix would pass it
    out = block_accuracy(flat, 1, wrong, reference, None, np.float32, 100, "float64 jacrev")
    assert out["ok"] is False
    assert out["err_f64"] == pytest.approx(1e-3 / np.sqrt(3), rel=1e-6)
    assert out["message"].startswith("inaccurate against the float64 jacrev in the block p['b']: normwise")
    same = block_accuracy(flat, 1, reference, reference, None, np.float32, 100, "r")
    assert same == {"err_f64": 0.0, "ok": True}


def test_an_equinox_module_as_equinox_filter_jacrev_takes_it():
    eqx = pytest.importorskip("equinox", reason="the equinox model needs the [models] extra")
    model = eqx.nn.MLP(4, 3, 8, 2, key=jax.random.PRNGKey(0))

    def apply(model, x):
        return model(x)

    x = jnp.linspace(-1.0, 1.0, 4)
    r = jg.compare(apply, model, x, methods=["jacrev", "jacfwd", "jacrev_chunked"], jacobians="all", **FAST)
    assert r.table["ok"].all(), r.table[["method", "message"]]
    expected = eqx.filter(eqx.filter_jacrev(apply)(model, x), eqx.is_array)
    for J in r.jacobians["model"].values():
        assert_tree_close(eqx.filter(J, eqx.is_array), expected)
