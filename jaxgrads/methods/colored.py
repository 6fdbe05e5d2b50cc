r"""Colored (sparse) Jacobians: one JVP or VJP per color instead of one per basis vector.

For $J \in \mathbb R^{m \times n}$ (flattened ``out.size × wrt.size``) with a known set of structural
nonzeros P:

- **Column coloring** (forward mode): columns j, k *conflict* when some row has a nonzero in both.
  A greedy distance-1 coloring gives colors $c(j)$ with no two conflicting columns alike; the seed
  matrix $S_{jc} = [c(j) = c]$ has one column per color, and $B = JS$ (one JVP per color) holds
  every nonzero alone in its row and color: $J_{ij} = B_{i,c(j)}$ for $(i, j) \in P$.
- **Row coloring** (reverse mode): rows conflict when they share a column; $B = S^T J$ (one VJP per
  color), and $J_{ij} = B_{c(i),j}$.

The pattern is the one the derivative declares from its closed form (``Derivative.sparsity``: exact,
valid for every input); a derivative without one is taken as dense, every entry a nonzero, and the
coloring degrades to one color per column (or row): jacfwd (jacrev) with a decompression step. The
preparation (pattern + coloring, NumPy on the host) is timed apart from compilation as ``prep_s``.

Decompression writes the nonzeros into a dense Jacobian in the closed form's layout, or into a
``jax.experimental.sparse.BCOO`` of the same shape (``_bcoo`` methods): its memory is the nonzeros and
their indices, not the dense size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import sparse

from jaxgrads.methods.common import partial_fn
from jaxgrads.methods.registry import Method
from jaxgrads.problems.registry import nonzeros

__all__ = ["COLORED", "Coloring", "greedy_coloring", "nonzeros", "prepare_coloring", "sparsity_pattern"]


def sparsity_pattern(problem, derivative, shapes) -> tuple[np.ndarray, np.ndarray, tuple, tuple, bool]:
    """(rows, cols, out_shape, wrt_shape, dense) of the flattened Jacobian's structural nonzeros, in
    row-major order."""
    specs = {k: jax.ShapeDtypeStruct(v, np.float32) for k, v in shapes.items()}
    out_shape = tuple(jax.eval_shape(lambda kw: problem.fn(jnp, **kw), specs).shape)
    wrt_shape = tuple(shapes[derivative.wrt])
    m, n = math.prod(out_shape), math.prod(wrt_shape)
    if derivative.sparsity is None:
        rows, cols = np.divmod(np.arange(m * n), n)
        return rows, cols, out_shape, wrt_shape, True
    rows, cols = (np.asarray(a, np.int64) for a in derivative.sparsity(shapes))
    order = np.lexsort((cols, rows))  # row-major: the decompression's scatter is sorted
    return rows[order], cols[order], out_shape, wrt_shape, False


def greedy_coloring(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """A distance-1 column coloring of the pattern (rows, cols): each column, in order, takes the
    smallest color no column sharing a row with it has. Returns one color per column (0, 1, ...)."""
    by_row = np.argsort(rows, kind="stable")
    row_cols, row_ptr = cols[by_row], np.searchsorted(rows[by_row], np.arange(n_rows + 1))
    by_col = np.argsort(cols, kind="stable")
    col_rows, col_ptr = rows[by_col], np.searchsorted(cols[by_col], np.arange(n_cols + 1))
    colors = np.full(n_cols, -1, np.int64)
    for j in range(n_cols):
        its_rows = col_rows[col_ptr[j] : col_ptr[j + 1]]
        if its_rows.size == 0:
            colors[j] = 0
            continue
        neighbours = np.concatenate([row_cols[row_ptr[r] : row_ptr[r + 1]] for r in its_rows])
        used = colors[neighbours]
        used = used[(used >= 0) & (used <= neighbours.size)]
        free = np.ones(neighbours.size + 1, bool)
        free[used] = False
        colors[j] = int(np.argmax(free))
    return colors


@dataclass(frozen=True)
class Coloring:
    """A pattern and its coloring, for one mode.

    Attributes:
      rows, cols: the structural nonzeros of the flattened Jacobian (int32).
      colors: one per column (forward) or per row (reverse).
      count: the number of colors: JVPs or VJPs per Jacobian.
      mode: ``forward`` or ``reverse``.
      out_shape, wrt_shape: the Jacobian's layout is ``out_shape + wrt_shape``.
      dense: the pattern is every entry (no sparsity declared).
    """

    rows: np.ndarray
    cols: np.ndarray
    colors: np.ndarray
    count: int
    mode: str
    out_shape: tuple[int, ...]
    wrt_shape: tuple[int, ...]
    dense: bool

    @property
    def nnz(self) -> int:
        return int(self.rows.size)


def prepare_coloring(problem, derivative, shapes, mode: str) -> Coloring:
    """The pattern of ``derivative`` at these input shapes, colored for ``mode``."""
    rows, cols, out_shape, wrt_shape, dense = sparsity_pattern(problem, derivative, shapes)
    m, n = math.prod(out_shape), math.prod(wrt_shape)
    if dense:  # every pair conflicts: one color per column (row), no graph needed
        colors = np.arange(n if mode == "forward" else m)
    elif mode == "forward":
        colors = greedy_coloring(rows, cols, m, n)
    else:  # rows conflict when they share a column: a column coloring of J^T
        colors = greedy_coloring(cols, rows, n, m)
    count = int(colors.max()) + 1 if colors.size else 0
    return Coloring(rows.astype(np.int32), cols.astype(np.int32), colors.astype(np.int32), count, mode,
                    out_shape, wrt_shape, dense)  # fmt: skip


def _compressed(problem, derivative, coloring: Coloring, inputs) -> jax.Array:
    """B = J S (forward: (colors, out.size)) or S^T J (reverse: (colors, wrt.size))."""
    f, w = partial_fn(problem, derivative, inputs)
    if coloring.mode == "forward":
        seeds = jax.nn.one_hot(coloring.colors, coloring.count, dtype=w.dtype).T.reshape((-1, *w.shape))
        return jax.vmap(lambda t: jax.jvp(f, (w,), (t,))[1].reshape(-1))(seeds)
    y, vjp = jax.vjp(f, w)
    seeds = jax.nn.one_hot(coloring.colors, coloring.count, dtype=y.dtype).T.reshape((-1, *y.shape))
    return jax.vmap(lambda ct: vjp(ct)[0].reshape(-1))(seeds)


def _nonzeros(coloring: Coloring, B: jax.Array) -> jax.Array:
    """The values of the pattern's entries, read out of the compressed B."""
    if coloring.mode == "forward":
        return B[coloring.colors[coloring.cols], coloring.rows]
    return B[coloring.colors[coloring.rows], coloring.cols]


def _dense(coloring: Coloring, B: jax.Array) -> jax.Array:
    m, n = math.prod(coloring.out_shape), math.prod(coloring.wrt_shape)
    if coloring.dense:  # one color per column (row), in order: B is J^T (J)
        flat = B.T if coloring.mode == "forward" else B
    else:
        # a plain scatter, the lowering asdex's dense output compiles to: telling XLA:CPU the indices
        # are sorted and unique made d(Ax)/dA at 128 2.3x slower than it on an Intel Xeon (1.04 ms
        # against 0.45; the HLO differed in those two attributes alone) and no faster on an AMD EPYC
        # (175-179 µs all four ways, asdex 182: bench/studies/decompression.py)
        flat = jnp.zeros((m, n), B.dtype).at[coloring.rows, coloring.cols].set(_nonzeros(coloring, B))
    return flat.reshape((*coloring.out_shape, *coloring.wrt_shape))


def _bcoo(coloring: Coloring, B: jax.Array) -> sparse.BCOO:
    """The nonzeros as a BCOO of shape ``out_shape + wrt_shape`` (one index column per dimension)."""
    index = np.stack(
        [*np.unravel_index(coloring.rows, coloring.out_shape or (1,))[: len(coloring.out_shape)],
         *np.unravel_index(coloring.cols, coloring.wrt_shape)], axis=1,
    ).astype(np.int32)  # fmt: skip
    shape = (*coloring.out_shape, *coloring.wrt_shape)
    return sparse.BCOO((_nonzeros(coloring, B), jnp.asarray(index)), shape=shape, indices_sorted=True,
                       unique_indices=True)  # fmt: skip


def _builder(decompress):
    def build(problem, derivative, coloring: Coloring):
        def jac(inputs):
            return decompress(coloring, _compressed(problem, derivative, coloring, inputs))

        return jac

    return build


def _prepare(mode: str):
    def prepare(problem, derivative, inputs):
        return prepare_coloring(problem, derivative, {k: np.shape(v) for k, v in inputs.items()}, mode)

    return prepare


_COLORED = {"family": "colored", "kind": "pattern", "opt_in": True}
_FORWARD = {**_COLORED, "mode": "forward", "prepare": _prepare("forward")}
_REVERSE = {**_COLORED, "mode": "reverse", "prepare": _prepare("reverse")}
COLORED: tuple[Method, ...] = (
    Method("jacfwd_colored", 1, _builder(_dense), **_FORWARD,
           doc="JVPs of a column coloring (one per color), decompressed to dense"),
    Method("jacrev_colored", 1, _builder(_dense), **_REVERSE,
           doc="VJPs of a row coloring (one per color), decompressed to dense"),
    Method("jacfwd_colored_bcoo", 1, _builder(_bcoo), **_FORWARD, output="bcoo",
           doc="column-colored JVPs, the nonzeros as a BCOO"),
    Method("jacrev_colored_bcoo", 1, _builder(_bcoo), **_REVERSE, output="bcoo",
           doc="row-colored VJPs, the nonzeros as a BCOO"),
)  # fmt: skip
