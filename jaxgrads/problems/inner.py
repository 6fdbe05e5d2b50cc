r"""Inner product $y = v^T x$; $\partial y/\partial x = v^T$, $\partial y/\partial v = x^T$."""

from jaxgrads.problems.registry import Derivative, Problem, gaussian_inputs, register

__all__ = []  # registers its problem on import


def inner(xp, v, x):  # v, x: shape=(n,)
    r"""$y = v^T x = \sum_i v_i x_i$."""
    del xp
    return v @ x


def d_inner_dx(xp, v, x):
    r"""$\partial y/\partial x = v^T$, shape (n,)."""
    del xp, x
    return v


def d_inner_dv(xp, v, x):
    r"""$\partial y/\partial v = x^T$, shape (n,)."""
    del xp, v
    return x


INNER = register(
    Problem(
        name="inner",
        fn=inner,
        args=("v", "x"),
        make_inputs=gaussian_inputs(lambda s: {"v": (s.n,), "x": (s.n,)}),
        derivatives=(
            Derivative("x", d_inner_dx, linear=True, doc="dy/dx = v^T"),
            Derivative("v", d_inner_dv, linear=True, doc="dy/dv = x^T"),
        ),
        dims=("n",),
        scalar_output=True,
        componentwise=True,  # each entry a sum of non-negative-coefficient terms, or one term
        doc="y = v^T x (v, x: n)",
    )
)
