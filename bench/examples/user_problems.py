r"""An example plug-in:
``jaxgrads run --problems-from bench/examples/user_problems.py --problems softplus_layer``.

A file like this registers problems through the same call the built-ins use. The layer
$y = \mathrm{softplus}(Ax)$ has $\partial y/\partial x = \mathrm{diag}(\sigma(Ax))\,A$; its Jacobian in A
is left without a closed form, so jaxgrads checks it against ``jax.jacrev`` in float64.
"""

import jaxgrads as jg


def softplus_layer(xp, A, x):  # A: shape=(m, n); x: shape=(n,)
    z = A @ x
    return xp.logaddexp(z, xp.zeros_like(z))


def d_softplus_layer_dx(xp, A, x):
    r"""$\mathrm{diag}(\sigma(Ax))A$, shape (m, n)."""
    z = A @ x
    sigma = 1 / (1 + xp.exp(-z))
    return sigma[:, None] * A


jg.register(
    jg.Problem(
        name="softplus_layer",
        fn=softplus_layer,
        args=("A", "x"),
        make_inputs=jg.gaussian_inputs(lambda s: {"A": (s.m, s.n), "x": (s.n,)}),
        derivatives=(
            jg.Derivative("x", d_softplus_layer_dx, doc="dy/dx = diag(sigmoid(Ax)) A"),
            jg.Derivative("A", None, doc="no closed form: checked against jacrev in float64"),
        ),
        dims=("m", "n"),
        scalar_output=False,
        doc="y = softplus(A x) (A: m×n, x: n)",
    ),
    replace=True,
)
