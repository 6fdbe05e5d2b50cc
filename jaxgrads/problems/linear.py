r"""Linear layer $z = xW + b$ and its loss $L = \sum z$.

x has shape B×n (a batch of B rows), W n×m, b m, broadcast over the batch, so z is B×m.
Full Jacobians, in JAX's layout ``z.shape + arg.shape``:
$\partial z_{bj}/\partial x_{b'i} = \delta_{bb'} W_{ij}$,
$\partial z_{bj}/\partial W_{ij'} = x_{bi}\,\delta_{jj'}$,
$\partial z_{bj}/\partial b_{j'} = \delta_{jj'}$.
For the loss, with $\mathbf 1$ the B×m matrix of ones: $\partial L/\partial x = \mathbf 1 W^T$
(every row the row sums of W), $\partial L/\partial W = x^T \mathbf 1$ (every column the column sums
of x), $\partial L/\partial b = \mathbf 1^T \mathbf 1_B$ = B in every entry. The textbook forms do the
B×m×n products; the fast forms reduce first and broadcast.
"""

import numpy as np

from jaxgrads.problems.placement import block_diagonal, transposed
from jaxgrads.problems.registry import Derivative, Problem, gaussian_inputs, register

__all__ = []  # registers its problem on import


def linear(xp, x, W, b):  # x: shape=(batch, n); W: shape=(n, m); b: shape=(m,)
    r"""$z = xW + b$, shape (batch, m)."""
    del xp
    return x @ W + b[None, :]


def d_linear_dx(xp, x, W, b):
    r"""$\delta_{bb'} W_{ij}$, shape (batch, m, batch, n): $W^T$ placed on the diagonal blocks of zeros
    (:func:`jaxgrads.problems.placement.block_diagonal`)."""
    return block_diagonal(xp, transposed(xp, W), x.shape[0])


def d_linear_dx_textbook(xp, x, W, b):
    r"""The Kronecker form $I_B \otimes W^T$ as a broadcast product, shape (batch, m, batch, n)."""
    B = x.shape[0]
    return xp.eye(B, dtype=x.dtype)[:, None, :, None] * W.T[None, :, None, :]


def d_linear_dW(xp, x, W, b):
    r"""$x_{bi}\,\delta_{jj'}$, shape (batch, m, n, m)."""
    m = W.shape[1]
    return x[:, None, :, None] * xp.eye(m, dtype=x.dtype)[None, :, None, :]


def d_linear_db(xp, x, W, b):
    r"""$\delta_{jj'}$ for every batch row, shape (batch, m, m)."""
    B, m = x.shape[0], W.shape[1]
    return xp.broadcast_to(xp.eye(m, dtype=b.dtype)[None, :, :], (B, m, m))


def linear_loss(xp, x, W, b):
    r"""$L = \sum_{bj} (xW + b)_{bj}$."""
    return xp.sum(linear(xp, x, W, b))


def d_loss_dx(xp, x, W, b):
    r"""$\partial L/\partial x = \mathbf 1 W^T$: row sums of W in every row, shape (batch, n)."""
    return xp.broadcast_to(xp.sum(W, axis=1)[None, :], x.shape)


def d_loss_dx_textbook(xp, x, W, b):
    r"""Literal $\mathbf 1 W^T$, a batch×m×n product."""
    return xp.ones((x.shape[0], W.shape[1]), dtype=x.dtype) @ W.T


def d_loss_dW(xp, x, W, b):
    r"""$\partial L/\partial W = x^T \mathbf 1$: column sums of x in every column, shape (n, m)."""
    return xp.broadcast_to(xp.sum(x, axis=0)[:, None], W.shape)


def d_loss_dW_textbook(xp, x, W, b):
    r"""Literal $x^T \mathbf 1$, an n×batch×m product."""
    return x.T @ xp.ones((x.shape[0], W.shape[1]), dtype=x.dtype)


def d_loss_db(xp, x, W, b):
    r"""$\partial L/\partial b$ = column sums of $\mathbf 1$ = batch, shape (m,)."""
    return xp.full(b.shape, x.shape[0], dtype=b.dtype)


def d_loss_db_textbook(xp, x, W, b):
    r"""Literal column sums of the batch×m matrix of ones."""
    return xp.sum(xp.ones((x.shape[0], b.shape[0]), dtype=b.dtype), axis=0)


def dx_pattern(shapes):
    """z[b, j] meets x[b, k] for every k: a block per batch row (flattened row b·m + j, col b·n + k)."""
    (B, n), m = shapes["x"], shapes["W"][1]
    b, j, k = np.meshgrid(np.arange(B), np.arange(m), np.arange(n), indexing="ij")
    return (b * m + j).ravel(), (b * n + k).ravel()


def dW_pattern(shapes):
    """z[b, j] meets W[k, j] for every k: column j of W (flattened col k·m + j)."""
    (B, n), m = shapes["x"], shapes["W"][1]
    b, j, k = np.meshgrid(np.arange(B), np.arange(m), np.arange(n), indexing="ij")
    return (b * m + j).ravel(), (k * m + j).ravel()


def db_pattern(shapes):
    """z[b, j] meets b[j] alone."""
    B, m = shapes["x"][0], shapes["W"][1]
    b, j = np.meshgrid(np.arange(B), np.arange(m), indexing="ij")
    return (b * m + j).ravel(), j.ravel()


def _shapes(s):
    return {"x": (s.batch, s.n), "W": (s.n, s.m), "b": (s.m,)}


def _layer(name, fn, derivatives, scalar_output: bool, doc: str) -> Problem:
    """A problem of the layer's three arguments x (batch×n), W (n×m), b (m)."""
    return register(
        Problem(name=name, fn=fn, args=("x", "W", "b"), make_inputs=gaussian_inputs(_shapes),
                derivatives=derivatives, dims=("m", "n", "batch"), scalar_output=scalar_output,
                componentwise=True,  # polynomials with non-negative coefficients in the inputs
                doc=doc)  # fmt: skip
    )


LINEAR = _layer(
    "linear", linear,
    (
        Derivative("x", d_linear_dx, textbook=d_linear_dx_textbook, doc="dz_bj/dx_b'i = delta_bb' W_ij",
                   sparsity=dx_pattern),
        Derivative("W", d_linear_dW, doc="dz_bj/dW_ij' = x_bi delta_jj'", sparsity=dW_pattern),
        Derivative("b", d_linear_db, doc="dz_bj/db_j' = delta_jj'", sparsity=db_pattern),
    ),
    False, "z = x W + b (x: batch×n, W: n×m, b: m)",
)  # fmt: skip
LINEAR_LOSS = _layer(
    "linear_loss", linear_loss,
    (
        Derivative("x", d_loss_dx, textbook=d_loss_dx_textbook, doc="dL/dx = 1 W^T",
                   min_flops=lambda s: s.n * (s.m - 1)),  # row sums of W, then broadcast
        Derivative("W", d_loss_dW, textbook=d_loss_dW_textbook, doc="dL/dW = x^T 1",
                   min_flops=lambda s: s.n * (s.batch - 1)),  # column sums of x, then broadcast
        Derivative("b", d_loss_db, textbook=d_loss_db_textbook, doc="dL/db = column sums of 1"),
    ),
    True, "L = sum(x W + b)",
)  # fmt: skip
