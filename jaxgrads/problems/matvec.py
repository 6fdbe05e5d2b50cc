r"""Matrix-vector product $y = Ax$, A of shape m×n.

$\partial y/\partial x = A$ (m×n); $\partial y/\partial A$ is the m×m×n tensor
$J_{ikl} = \partial y_i/\partial A_{kl} = \delta_{ik} x_l$: row i of A alone feeds $y_i$.
"""

import numpy as np

from jaxgrads.problems.registry import Derivative, Problem, gaussian_inputs, register

__all__ = []  # registers its problem on import


def matvec(xp, A, x):  # A: shape=(m, n); x: shape=(n,)
    r"""$y = Ax$, $y_i = \sum_k A_{ik} x_k$."""
    del xp
    return A @ x


def d_matvec_dx(xp, A, x):
    r"""$\partial y/\partial x = A$, shape (m, n)."""
    del xp, x
    return A


def d_matvec_dA(xp, A, x):
    r"""$J_{ikl} = \delta_{ik} x_l$, shape (m, m, n)."""
    m = A.shape[0]
    return xp.eye(m, dtype=A.dtype)[:, :, None] * x[None, None, :]


def dA_pattern(shapes):
    """Row i of J (y_i) meets only row i of A: columns i·n ... i·n + n − 1 of the flattened A."""
    m, n = shapes["A"]
    return np.repeat(np.arange(m), n), np.arange(m * n)


MATVEC = register(
    Problem(
        name="matvec",
        fn=matvec,
        args=("A", "x"),
        make_inputs=gaussian_inputs(lambda s: {"A": (s.m, s.n), "x": (s.n,)}),
        derivatives=(
            Derivative("x", d_matvec_dx, linear=True, doc="dy/dx = A"),
            Derivative("A", d_matvec_dA, linear=True, doc="dy_i/dA_kl = delta_ik x_l", sparsity=dA_pattern),
        ),
        dims=("m", "n"),
        scalar_output=False,
        componentwise=True,  # each entry a sum of non-negative-coefficient terms, or one term
        doc="y = A x (A: m×n, x: n)",
    )
)
