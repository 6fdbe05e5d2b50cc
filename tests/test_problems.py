"""The registry, closed forms against finite differences, and the notes' printed numbers."""

import numpy as np
import pytest
from cases import SIZES, TARGETS, size_id, skip_without_backend, target_id

import jaxgrads as jg
from jaxgrads.measure.finite_diff import fd_hessian, fd_jacobian

TRANSCENDENTAL = {"elementwise"}  # the others are polynomials of degree <= 2 in each argument


@pytest.mark.parametrize("size", SIZES, ids=size_id)
@pytest.mark.parametrize("target", TARGETS, ids=target_id)
def test_closed_form_matches_finite_differences(target, size):
    problem = jg.get_problem(target[0])
    d = problem.derivative(target[1])
    inputs = problem.inputs(problem.canonical(size), np.float64, seed=1)

    def f(w):
        return problem.fn(np, **{**inputs, d.wrt: w})

    forms = [d.closed_form] + ([d.textbook] if d.textbook else [])
    if target[0] in TRANSCENDENTAL:  # truncation error ~h^2: the step that balances it with rounding
        reference, tol = fd_jacobian(f, inputs[d.wrt], h=np.finfo(float).eps ** (1 / 3)), 1e-7
    else:
        reference = fd_hessian(f, inputs[d.wrt]) if d.order == 2 else fd_jacobian(f, inputs[d.wrt])
        tol = 1e-8
    for form in forms:
        # degree <= 2 polynomials: central differences are exact up to rounding (~1e-12 here)
        np.testing.assert_allclose(form(np, **inputs), reference, rtol=tol, atol=tol)


def test_registry_lists_every_case_of_the_notes():
    assert jg.problem_names() == (
        "inner",
        "matvec",
        "bilinear",
        "quadratic",
        "quadratic_sym",
        "linear",
        "linear_loss",
        "elementwise",  # beyond the notes: structured Jacobians
        "stencil",
    )
    wrts = {p.name: p.wrt_names for p in jg.list_problems()}
    assert wrts["matvec"] == ("x", "A")
    assert wrts["bilinear"] == ("x", "y", "A")
    assert wrts["quadratic"] == ("x", "A", "xx")
    assert wrts["linear"] == wrts["linear_loss"] == ("x", "W", "b")


def test_applicability_is_declared_not_discovered():
    matvec, quadratic, linear = (jg.get_problem(n) for n in ("matvec", "quadratic", "linear"))
    assert "grad" not in jg.applicable_methods(matvec, "x")  # vector output
    assert "linear_transpose" in jg.applicable_methods(matvec, "A")
    assert "linear_transpose" not in jg.applicable_methods(quadratic, "x")  # x^T A x is not linear
    assert "linear_transpose" not in jg.applicable_methods(linear, "x")  # affine, not linear
    assert "analytic_textbook" in jg.applicable_methods(quadratic, "x")
    assert "analytic_textbook" not in jg.applicable_methods(matvec, "x")
    assert set(jg.applicable_methods(quadratic, "xx")) == {
        "hessian_fwd_rev",
        "hessian_rev_rev",
        "hessian_fwd_fwd",
        "analytic",
        "analytic_textbook",  # the literal A + A^T beside the padded transpose
        "torch_analytic",
        "numpy_analytic",
        "asdex_hessian",
    }


def test_symmetric_case_has_symmetric_inputs_and_2Ax():
    problem = jg.get_problem("quadratic_sym")
    inputs = problem.inputs(jg.Size(0, 6, 0), np.float64)
    np.testing.assert_array_equal(inputs["A"], inputs["A"].T)
    grad = problem.derivative("x").closed_form(np, **inputs)
    np.testing.assert_allclose(grad, inputs["x"] @ (inputs["A"] + inputs["A"].T), rtol=1e-13)


def test_inputs_are_seeded():
    p = jg.get_problem("matvec")
    a, b = p.inputs(jg.Size(3, 4), np.float32, seed=5), p.inputs(jg.Size(3, 4), np.float32, seed=5)
    np.testing.assert_array_equal(a["A"], b["A"])
    assert a["A"].dtype == np.float32
    assert a["A"].shape == (3, 4)


# The notes' PyTorch outputs, through every method that applies.
NOTES_A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
NOTES_X = np.array([0.5, 1.0])
NOTES_DY_DA = np.array(
    [
        [[0.5, 1.0], [0.0, 0.0], [0.0, 0.0]],
        [[0.0, 0.0], [0.5, 1.0], [0.0, 0.0]],
        [[0.0, 0.0], [0.0, 0.0], [0.5, 1.0]],
    ]
)


@pytest.mark.parametrize("method", jg.applicable_methods(jg.get_problem("matvec"), "A"))
def test_notes_dy_dA_tensor(method):
    skip_without_backend(method)
    kernel = jg.build_kernel("matvec", "A", method, (3, 2), "float32", inputs={"A": NOTES_A, "x": NOTES_X})
    J = kernel.host_jacobian(kernel())
    np.testing.assert_array_equal(J, NOTES_DY_DA)
    # y.backward(torch.ones_like(y)) printed the sum over outputs
    np.testing.assert_array_equal(J.sum(axis=0), [[0.5, 1.0], [0.5, 1.0], [0.5, 1.0]])


NOTES_LAYER = {
    "x": np.array([[1.0, 2.0]]),
    "W": np.array([[0.5, -0.5], [1.5, -1.0]]),
    "b": np.array([0.1, -0.1]),
}
NOTES_GRADS = {"x": [[0.0, 0.5]], "W": [[1.0, 1.0], [2.0, 2.0]], "b": [1.0, 1.0]}


@pytest.mark.parametrize("wrt", ["x", "W", "b"])
@pytest.mark.parametrize("method", jg.applicable_methods(jg.get_problem("linear_loss"), "x"))
def test_notes_linear_loss_gradients(wrt, method):
    skip_without_backend(method)
    kernel = jg.build_kernel("linear_loss", wrt, method, (2, 2), "float32", inputs=NOTES_LAYER)
    np.testing.assert_array_equal(kernel.host_jacobian(kernel()), NOTES_GRADS[wrt])


def test_user_problem_registers_through_the_same_call():
    def cube(xp, x):
        return x * x * x

    problem = jg.Problem(
        name="cube",
        fn=cube,
        args=("x",),
        make_inputs=jg.gaussian_inputs(lambda s: {"x": (s.n,)}),
        derivatives=(jg.Derivative("x", lambda xp, x: xp.diag(3 * x * x)),),
        dims=("n",),
        scalar_output=False,
    )
    jg.register(problem)
    try:
        assert "cube" in jg.problem_names()
        kernel = jg.build_kernel("cube", "x", "jacfwd", 4, "float64")
        x = kernel.inputs["x"]
        np.testing.assert_allclose(np.asarray(kernel()), np.diag(3 * x * x), rtol=1e-15)
        with pytest.raises(jg.JaxgradsError, match="already registered"):
            jg.register(problem)
    finally:
        jg.unregister("cube")


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_placed_forms_equal_the_plain_ones_under_jax_and_numpy(dtype):
    import jax.numpy as jnp

    from jaxgrads.problems.placement import block_diagonal, transposed

    M = np.arange(15, dtype=np.float64).reshape(3, 5).astype(jnp.dtype(dtype))
    kron = np.eye(4, dtype=M.dtype)[:, None, :, None] * M[None, :, None, :]
    for xp in (jnp, np):
        T = transposed(xp, xp.asarray(M))
        assert T.shape == (5, 3)
        assert T.dtype == M.dtype
        np.testing.assert_array_equal(np.asarray(T), M.T)
        J = block_diagonal(xp, xp.asarray(M), 4)
        assert J.shape == (4, 3, 4, 5)
        assert J.dtype == M.dtype
        np.testing.assert_array_equal(np.asarray(J), kron)
