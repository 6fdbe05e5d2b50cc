r"""Bilinear form $\alpha = y^T A x$, A of shape m×n.

$\partial\alpha/\partial x = y^T A$; $\partial\alpha/\partial y = x^T A^T$ (proof: $\alpha = \alpha^T
= x^T A^T y$); $\partial\alpha/\partial A = y x^T$.
"""

from jaxgrads.problems.registry import Derivative, Problem, gaussian_inputs, register

__all__ = []  # registers its problem on import


def bilinear(xp, y, A, x):  # y: shape=(m,); A: shape=(m, n); x: shape=(n,)
    r"""$\alpha = y^T A x = \sum_{ij} y_i A_{ij} x_j$."""
    del xp
    return y @ (A @ x)


def d_bilinear_dx(xp, y, A, x):
    r"""$\partial\alpha/\partial x = y^T A$, shape (n,)."""
    del xp, x
    return y @ A


def d_bilinear_dy(xp, y, A, x):
    r"""$\partial\alpha/\partial y = x^T A^T = (Ax)^T$, shape (m,)."""
    del xp, y
    return A @ x


def d_bilinear_dA(xp, y, A, x):
    r"""$\partial\alpha/\partial A = y x^T$, shape (m, n)."""
    del A
    return xp.outer(y, x)


BILINEAR = register(
    Problem(
        name="bilinear",
        fn=bilinear,
        args=("y", "A", "x"),
        make_inputs=gaussian_inputs(lambda s: {"y": (s.m,), "A": (s.m, s.n), "x": (s.n,)}),
        derivatives=(
            Derivative(
                "x", d_bilinear_dx, linear=True, doc="da/dx = y^T A", min_flops=lambda s: (2 * s.m - 1) * s.n
            ),
            Derivative(
                "y",
                d_bilinear_dy,
                linear=True,
                doc="da/dy = x^T A^T",
                min_flops=lambda s: (2 * s.n - 1) * s.m,
            ),
            Derivative("A", d_bilinear_dA, linear=True, doc="da/dA = y x^T", min_flops=lambda s: s.m * s.n),
        ),
        dims=("m", "n"),
        scalar_output=True,
        componentwise=True,  # each entry a sum of non-negative-coefficient terms, or one term
        doc="a = y^T A x (y: m, A: m×n, x: n)",
    )
)
