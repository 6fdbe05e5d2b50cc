r"""Central finite differences in float64 NumPy: a reference that uses no autodiff.

$\partial f/\partial w_j \approx (f(w + h e_j) - f(w - h e_j)) / 2h$, truncation error
$h^2 f'''/6$; the Hessian by $(f(+,+) - f(+,-) - f(-,+) + f(-,-)) / 4h^2$. The notes' problems are
polynomials of degree at most 2 in the differentiated argument, so both are exact up to rounding,
about $\epsilon |f| / h$ and $\epsilon |f| / h^2$.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["fd_hessian", "fd_jacobian"]


def fd_jacobian(f: Callable[[np.ndarray], np.ndarray], w: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Jacobian of ``f`` at ``w`` in JAX's layout ``f(w).shape + w.shape``."""
    w = np.asarray(w, np.float64)
    out_shape = np.shape(f(w))
    cols = np.empty((w.size, int(np.prod(out_shape))))
    for j in range(w.size):
        e = np.zeros(w.size)
        e[j] = h
        e = e.reshape(w.shape)
        cols[j] = (np.ravel(f(w + e)) - np.ravel(f(w - e))) / (2 * h)
    return cols.T.reshape((*out_shape, *w.shape))


def fd_hessian(f: Callable[[np.ndarray], float], w: np.ndarray, h: float = 1e-2) -> np.ndarray:
    """Hessian of a scalar ``f`` at ``w``, shape ``w.shape + w.shape``."""
    w = np.asarray(w, np.float64)
    n = w.size
    unit = np.eye(n).reshape((n, *w.shape)) * h
    H = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = unit[i], unit[j]
            H[i, j] = (f(w + ei + ej) - f(w + ei - ej) - f(w - ei + ej) + f(w - ei - ej)) / (4 * h * h)
    return H.reshape(w.shape + w.shape)
