r"""Quadratic form $\alpha = x^T A x$, A of shape n×n, and its symmetric case.

$\partial\alpha/\partial x_k = \sum_i x_i A_{ik} + \sum_j A_{kj} x_j$, so
$\partial\alpha/\partial x = x^T(A + A^T)$ and the Hessian is $A + A^T$. For symmetric A both halves
agree: $\partial\alpha/\partial x = 2Ax$, Hessian $2A$. $\partial\alpha/\partial A = x x^T$.

The textbook form $(A + A^T)x$ first builds the transposed sum, an n×n pass with strided reads;
the fast form $Ax + x^T A$ is two matrix-vector products and never forms $A^T$.
"""

from jaxgrads.problems.placement import transposed
from jaxgrads.problems.registry import Derivative, Problem, gaussian_inputs, register

__all__ = []  # registers its problem on import


def quadratic(xp, A, x):  # A: shape=(n, n); x: shape=(n,)
    r"""$\alpha = x^T A x = \sum_{ij} x_i A_{ij} x_j$."""
    del xp
    return x @ (A @ x)


def d_quadratic_dx(xp, A, x):
    r"""Fast form $Ax + x^T A$ of $\partial\alpha/\partial x = x^T(A + A^T)$, shape (n,)."""
    del xp
    return A @ x + x @ A


def d_quadratic_dx_textbook(xp, A, x):
    r"""Literal form $(A + A^T) x$, shape (n,)."""
    del xp
    return (A + A.T) @ x


def d_quadratic_dA(xp, A, x):
    r"""$\partial\alpha/\partial A = x x^T$, shape (n, n)."""
    del A
    return xp.outer(x, x)


def hessian_quadratic(xp, A, x):
    r"""$\partial^2\alpha/\partial x^2 = A + A^T$, shape (n, n), $A^T$ read from a padded copy
    (:func:`jaxgrads.problems.placement.transposed`)."""
    del x
    return A + transposed(xp, A)


def hessian_quadratic_textbook(xp, A, x):
    r"""Literal $A + A^T$, shape (n, n)."""
    del xp, x
    return A + A.T


def d_quadratic_sym_dx(xp, A, x):
    r"""$\partial\alpha/\partial x = 2Ax$ for symmetric A, shape (n,)."""
    del xp
    return 2 * (A @ x)


def hessian_quadratic_sym(xp, A, x):
    r"""$\partial^2\alpha/\partial x^2 = 2A$ for symmetric A, shape (n, n)."""
    del xp, x
    return 2 * A


def _multiply_add_per_entry(s):
    """Every entry of A meets x in a multiply and an add: $2n^2$ flops at least."""
    return 2 * s.n**2


def _half_of_square(s):
    """A symmetric n×n result: $n(n+1)/2$ entries, one operation each."""
    return s.n * (s.n + 1) // 2


def _shapes(s):
    return {"A": (s.n, s.n), "x": (s.n,)}


QUADRATIC = register(
    Problem(
        name="quadratic",
        fn=quadratic,
        args=("A", "x"),
        make_inputs=gaussian_inputs(_shapes),
        derivatives=(
            Derivative("x", d_quadratic_dx, textbook=d_quadratic_dx_textbook, doc="da/dx = x^T (A + A^T)",
                       min_flops=_multiply_add_per_entry),
            Derivative("A", d_quadratic_dA, linear=True, doc="da/dA = x x^T", min_flops=lambda s: s.n**2),
            Derivative("x", hessian_quadratic, textbook=hessian_quadratic_textbook, order=2,
                       doc="d2a/dx2 = A + A^T", min_flops=_half_of_square),
        ),
        dims=("n",),
        scalar_output=True,
        componentwise=True,  # each entry a sum of non-negative-coefficient terms, or one term
        doc="a = x^T A x (A: n×n, x: n)",
    )
)

QUADRATIC_SYM = register(
    Problem(
        name="quadratic_sym",
        fn=quadratic,
        args=("A", "x"),
        make_inputs=gaussian_inputs(_shapes, symmetric=("A",)),
        derivatives=(
            Derivative("x", d_quadratic_sym_dx, textbook=d_quadratic_dx_textbook, doc="da/dx = 2 A x",
                       min_flops=_multiply_add_per_entry),
            Derivative("x", hessian_quadratic_sym, order=2, doc="d2a/dx2 = 2A", min_flops=_half_of_square),
        ),
        dims=("n",),
        scalar_output=True,
        componentwise=True,  # each entry a sum of non-negative-coefficient terms, or one term
        doc="a = x^T A x, A symmetric (A: n×n, x: n)",
    )
)
