r"""A function of pytrees as a function of one vector, and its Jacobian back as ``jax.jacrev``'s pytree.

The arguments a user differentiates (``argnums``: one or several, each any pytree: a dict of layers,
a list of ``(W, b)`` tuples, a NamedTuple, a registered dataclass, an equinox ``Module``) are
flattened into one vector $w = (\mathrm{vec}\,\ell_1, \ldots, \mathrm{vec}\,\ell_k)$ of their
floating-point leaves, in ``jax.tree_util``'s leaf order; the output pytree likewise into
$y = (\mathrm{vec}\,o_1, \ldots)$. The Jacobian $\partial y / \partial w$ is then one matrix, and
its block $(i, j)$ is exactly $\partial o_i / \partial \ell_j$, reshaped to ``o_i.shape +
l_j.shape``: the leaf of ``jax.jacrev(f, argnums)``'s result at output path $i$, argument path $j$.
Every method computes the matrix; :meth:`Flat.assemble` cuts it into that pytree.

Leaves that are not arrays (an activation function, a Python ``int``, a string, ``None``) are held
static, as ``equinox.filter_jacrev`` holds them: passed to ``f`` as they are, never differentiated,
``None`` in the Jacobian's pytree. A single array argument and a single array output keep their own
shapes (the Jacobian of a matrix function is ``out.shape + W.shape``, as before).

With a batch axis, every differentiated leaf and every output leaf carries the B examples on that
axis; it moves to the front and each example is flattened on its own: $w \in \mathbb R^{B \times n}$,
$y \in \mathbb R^{B \times m}$, and the per-example Jacobians are ``(B, m, n)``
(:mod:`jaxgrads.methods.batched`), cut into blocks ``(B, *o_i.shape[1:], *l_j.shape[1:])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Flat", "Leaf", "is_array", "leaves_of", "path_name", "ravel", "unravel"]


def is_array(x) -> bool:
    """An array leaf (NumPy, JAX, a NumPy scalar) or a Python float, which ``jax.jacrev`` also
    differentiates; anything else in a pytree is static."""
    return (hasattr(x, "shape") and hasattr(x, "dtype")) or isinstance(x, float)


def path_name(root: str, path) -> str:
    """``params['W1']``, ``batch[0]``, ``model.layers[1].weight``: a leaf's path under ``root``."""
    return root + jax.tree_util.keystr(tuple(path))


@dataclass(frozen=True)
class Leaf:
    """One flattened leaf: where it is in its pytree and in the vector."""

    name: str  # its path, e.g. params['W1']
    shape: tuple[int, ...]  # its shape in a Jacobian block (per example with a batch: no batch axis)
    start: int  # its first entry in the vector (per example with a batch)
    size: int  # its entries (per example with a batch)

    @property
    def part(self) -> slice:
        return slice(self.start, self.start + self.size)


def leaves_of(named: list[tuple[str, tuple[int, ...]]], batched: bool) -> tuple[Leaf, ...]:
    """The leaves, laid end to end: each ``(name, shape)`` (with a batch: shape[0] is B)."""
    out, start = [], 0
    for name, shape in named:
        size = math.prod(shape[1:] if batched else shape)
        out.append(Leaf(name, tuple(shape[1:]) if batched else tuple(shape), start, size))
        start += size
    return tuple(out)


def ravel(values, batched: bool):
    """Leaves (batch axis in front) -> one vector, or ``(B, n)`` per example; a lone leaf as it is.
    The batch is each leaf's leading length, whatever it is: a per-example method calls ``f`` on a
    batch of one."""
    if len(values) == 1:
        return values[0]
    if not batched:
        return jnp.concatenate([jnp.ravel(v) for v in values])
    return jnp.concatenate([jnp.reshape(v, (v.shape[0], -1)) for v in values], axis=1)


def unravel(vector, leaves: tuple[Leaf, ...], batched: bool):
    """The inverse of :func:`ravel`: the vector's parts, each in its leaf's shape."""
    if len(leaves) == 1:
        return [vector]
    if not batched:
        return [vector[leaf.part].reshape(leaf.shape) for leaf in leaves]
    return [vector[:, leaf.part].reshape((vector.shape[0], *leaf.shape)) for leaf in leaves]


@dataclass(frozen=True)
class Flat:
    """How the differentiated leaves and the output's leaves sit in the Jacobian's matrix, and the
    pytrees to build its blocks back into.

    Attributes:
      wrt: the differentiated leaves, in order.
      out: the output's leaves, in order.
      wrt_tree: a function of the differentiated leaves' blocks (a list) -> the pytree of the
        differentiated argument(s), static leaves ``None`` (a tuple of trees for tuple ``argnums``).
      out_tree: a function of one value per output leaf -> the output's pytree.
      batch: the number of examples, or None.
    """

    wrt: tuple[Leaf, ...]
    out: tuple[Leaf, ...]
    wrt_tree: object
    out_tree: object
    batch: int | None = None

    @property
    def n(self) -> int:
        return sum(leaf.size for leaf in self.wrt)

    @property
    def m(self) -> int:
        return sum(leaf.size for leaf in self.out)

    def blocks(self, order: int = 1) -> tuple[tuple[str, slice, slice], ...]:
        """Each block's name and its rows and columns in the matrix (per example with a batch):
        ``(o_i w.r.t. l_j, rows, cols)``; for a Hessian ``(l_i, l_j)``."""
        rows = self.wrt if order == 2 else self.out
        return tuple((_pair(a.name, b.name), a.part, b.part) for a in rows for b in self.wrt)

    def matrix(self, J, order: int = 1) -> np.ndarray:
        """The Jacobian in the case's layout -> ``(rows, cols)``, or ``(B, rows, cols)``."""
        rows = self.n if order == 2 else self.m
        J = np.asarray(J)
        return J.reshape(rows, self.n) if self.batch is None else J.reshape(self.batch, rows, self.n)

    def assemble(self, J, order: int = 1):
        """The Jacobian (the case's layout) as the pytree ``jax.jacrev`` (``jax.hessian`` for order 2,
        ``jax.vmap(jax.jacrev(...))`` per example) returns: for each output leaf, the argument's
        pytree of blocks."""
        M = self.matrix(J, order)
        lead = () if self.batch is None else (self.batch,)
        rows = self.wrt if order == 2 else self.out

        def block(a: Leaf, b: Leaf):
            part = M[a.part, b.part] if self.batch is None else M[:, a.part, b.part]
            return part.reshape((*lead, *a.shape, *b.shape))

        per_row = [self.wrt_tree([block(a, b) for b in self.wrt]) for a in rows]
        return self.out_tree([self.wrt_tree(per_row)]) if order == 2 else self.out_tree(per_row)


def _pair(out: str, wrt: str) -> str:
    return f"{out} w.r.t. {wrt}" if out else wrt
