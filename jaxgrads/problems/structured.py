r"""Two problems beyond the notes, where the Jacobian's structure is the point.

- ``elementwise``: $y = x \odot \tanh(x)$, $x \in \mathbb R^n$; $\partial y/\partial x$ is diagonal,
  $J_{ii} = \tanh x_i + x_i\,(1 - \tanh^2 x_i)$: n nonzeros of n².
- ``stencil``: $y = L(x \odot x)$ with L the second-difference operator on n points (zero outside):
  $y_i = x_{i-1}^2 - 2x_i^2 + x_{i+1}^2$; $\partial y/\partial x = L\,\mathrm{diag}(2x)$ is tridiagonal,
  $J_{ij} = 2 L_{ij} x_j$: 3n − 2 nonzeros.

Dense forward or reverse mode pushes n basis vectors through either; a colored method needs 1 (the
diagonal) and 3 (the band) (:mod:`jaxgrads.methods.colored`).
"""

import numpy as np

from jaxgrads.problems.registry import Derivative, Problem, gaussian_inputs, register

__all__ = []  # registers its problems on import


def elementwise(xp, x):  # x: shape=(n,)
    r"""$y_i = x_i \tanh x_i$."""
    return x * xp.tanh(x)


def d_elementwise_dx(xp, x):
    r"""$\mathrm{diag}(\tanh x + x(1 - \tanh^2 x))$, shape (n, n)."""
    t = xp.tanh(x)
    return xp.eye(x.shape[0], dtype=x.dtype) * (t + x * (1 - t * t))[None, :]


def diagonal(shapes):
    """The diagonal pattern of an n → n map: (rows, cols) of the flattened Jacobian."""
    i = np.arange(int(np.prod(shapes["x"])))
    return i, i


def _second_difference(xp, v):
    """$(Lv)_i = v_{i-1} - 2 v_i + v_{i+1}$ along the first axis, with zeros outside."""
    zero = xp.zeros_like(v[:1])
    padded = xp.concatenate([zero, v, zero])
    return padded[:-2] - 2 * padded[1:-1] + padded[2:]


def stencil(xp, x):  # x: shape=(n,)
    r"""$y = L(x \odot x)$."""
    return _second_difference(xp, x * x)


def d_stencil_dx(xp, x):
    r"""$J = L\,\mathrm{diag}(2x)$, $J_{ij} = 2 L_{ij} x_j$, shape (n, n): tridiagonal (L applied to
    the columns of diag(2x), with the namespace's own ``eye``, which PyTorch has without offsets)."""
    return _second_difference(xp, xp.eye(x.shape[0], dtype=x.dtype) * (2 * x)[None, :])


def tridiagonal(shapes):
    """The band |i − j| ≤ 1 of an n → n map: (rows, cols) of the flattened Jacobian."""
    n = int(np.prod(shapes["x"]))
    i = np.arange(n)
    rows = np.concatenate([i, i[1:], i[:-1]])
    cols = np.concatenate([i, i[1:] - 1, i[:-1] + 1])
    return rows, cols


def _vector_map(name, fn, derivative: Derivative, doc: str) -> Problem:
    """A map of one vector x (n) to a vector, with its declared pattern."""
    return register(
        Problem(name=name, fn=fn, args=("x",), make_inputs=gaussian_inputs(lambda s: {"x": (s.n,)}),
                derivatives=(derivative,), dims=("n",), scalar_output=False,
                componentwise=True,  # each entry one term: |J| at |x| is the entry's own size
                doc=doc)  # fmt: skip
    )


ELEMENTWISE = _vector_map(
    "elementwise", elementwise,
    Derivative("x", d_elementwise_dx, doc="dy_i/dx_j = delta_ij (tanh x_i + x_i sech^2 x_i)",
               sparsity=diagonal),
    "y = x * tanh(x) (x: n): a diagonal Jacobian",
)  # fmt: skip
STENCIL = _vector_map(
    "stencil", stencil,
    Derivative("x", d_stencil_dx, doc="dy_i/dx_j = 2 L_ij x_j, L the second difference",
               sparsity=tridiagonal),
    "y = L (x * x), L the 1-D second difference (x: n): a tridiagonal Jacobian",
)  # fmt: skip
