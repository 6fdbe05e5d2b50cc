r"""Per-example Jacobians of a batch: the derivatives ``Derivative.per_example`` names.

$f$ maps a batch $x \in \mathbb R^{B \times n}$ (the differentiated argument, examples on its leading
axis) to $y \in \mathbb R^{B \times m}$, and the target is $J_b = \partial y_b / \partial x_b$ for every
example $b$: a ``(B, *out.shape[1:], *wrt.shape[1:])`` array, what ``jax.vmap(jax.jacrev(f_1))``
returns for $f_1$ the function of one example. The whole Jacobian $\partial y / \partial x$ is
$(Bm) \times (Bn)$, and for a batch whose examples are independent ($y_b$ reads $x_b$ alone) it is
block diagonal: $J_b$ are its diagonal blocks. Five ways to get them, each its own method:

- ``vmap_jacrev`` / ``vmap_jacfwd``: ``jacrev`` (``jacfwd``) of one example, vmapped over the batch
  ($f$ called on a batch of one): $B m$ VJPs ($B n$ JVPs), each the size of one example's work.
- ``jacrev_diagonal``: ``jacrev`` of the whole batch, then its diagonal blocks: $Bm$ VJPs of the
  whole batch, the whole $(Bm) \times (Bn)$ Jacobian held. Exact whether or not the examples are
  independent, so it is the autodiff reference (``roles={"reference"}``).
- ``colored_batch_rev``: the batch as one color of a row coloring: the rows $y_{b,i}$ of every example
  share a color (their columns never overlap when the examples are independent), so $m$ VJPs of
  $\sum_b y_b$ give every $J_b$ at once.
- ``colored_batch_fwd``: the column coloring: tangent $j$ set in every example at once, $n$ JVPs.

The colored forms and the vmapped ones assume independent examples; where they are not (a batch
norm, a loss averaged over the batch inside ``f``) they disagree with ``jacrev_diagonal`` and the
accuracy check fails their rows.
"""

import math

import jax
import jax.numpy as jnp

from jaxgrads.methods.common import partial_fn
from jaxgrads.methods.registry import Method

__all__ = ["BATCHED", "diagonal_blocks"]


def _one(f):
    """``f`` of one example: ``f(x_b[None])[0]``."""
    return lambda xb: f(xb[None])[0]


def _vmapped(transform):
    def build(problem, derivative):
        def jac(inputs):
            f, w = partial_fn(problem, derivative, inputs)
            return jax.vmap(transform(_one(f)))(w)

        return jac

    return build


def diagonal_blocks(J, out_shape, wrt_shape):
    """The diagonal blocks of the whole Jacobian ``(B, *o, B, *r)``: ``(B, *o, *r)``."""
    b, o, r = out_shape[0], out_shape[1:], wrt_shape[1:]
    blocks = jnp.einsum("bibj->bij", J.reshape(b, math.prod(o), b, math.prod(r)))
    return blocks.reshape((b, *o, *r))


def _jacrev_diagonal(problem, derivative):
    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        y = jax.eval_shape(f, w)
        return diagonal_blocks(jax.jacrev(f)(w), y.shape, w.shape)

    return jac


def _colored_rev(problem, derivative):
    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        rows = jax.jacrev(lambda v: f(v).sum(axis=0))(w)  # (*o, B, *r)
        o = rows.shape[: rows.ndim - w.ndim]
        b = w.shape[0]
        flat = rows.reshape(-1, b, w[0].size)
        return jnp.swapaxes(flat, 0, 1).reshape((b, *o, *w.shape[1:]))

    return jac


def _colored_fwd(problem, derivative):
    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        y, f_jvp = jax.linearize(f, w)
        b, n = w.shape[0], w[0].size
        seeds = jnp.broadcast_to(jnp.eye(n, dtype=w.dtype)[:, None, :], (n, b, n)).reshape((n, *w.shape))
        cols = jax.vmap(f_jvp)(seeds)  # (n, B, *o)
        flat = cols.reshape(n, b, -1)
        return jnp.transpose(flat, (1, 2, 0)).reshape((*y.shape, *w.shape[1:]))

    return jac


BATCHED: tuple[Method, ...] = (
    Method("vmap_jacrev", 1, _vmapped(jax.jacrev), family="per_example", mode="reverse", per_example=True,
           doc="jax.vmap(jax.jacrev(f of one example)): B x m VJPs of one example"),
    Method("vmap_jacfwd", 1, _vmapped(jax.jacfwd), family="per_example", mode="forward", per_example=True,
           doc="jax.vmap(jax.jacfwd(f of one example)): B x n JVPs of one example"),
    Method("jacrev_diagonal", 1, _jacrev_diagonal, basis="out", family="per_example", mode="reverse",
           per_example=True, roles={"reference"},
           doc="jax.jacrev of the whole batch, its diagonal blocks kept (exact for any f)"),
    Method("colored_batch_rev", 1, _colored_rev, family="per_example", mode="reverse", per_example=True,
           doc="m VJPs of the sum over the batch: each example's rows share a color"),
    Method("colored_batch_fwd", 1, _colored_fwd, family="per_example", mode="forward", per_example=True,
           doc="n JVPs, tangent j seeded in every example at once"),
)  # fmt: skip
