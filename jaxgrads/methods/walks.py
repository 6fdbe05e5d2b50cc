"""The JAX methods that walk a basis: one element (or one chunk) per sequential step, low memory."""

import jax
import jax.numpy as jnp

from jaxgrads.compat import lax_map
from jaxgrads.methods.common import columns_to_jacobian, partial_fn
from jaxgrads.methods.registry import Method

__all__ = ["WALKS"]


def _map_vjp(problem, derivative, chunk_size=None):
    """VJPs over the output basis under ``lax.map``: one basis vector at a time, or ``chunk_size``
    of them vmapped together per step (``lax.map``'s ``batch_size``), which trades memory for speed."""

    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        y, vjp = jax.vjp(f, w)

        def row(i):
            ct = jax.nn.one_hot(i, y.size, dtype=y.dtype).reshape(y.shape)
            return vjp(ct)[0]

        rows = lax_map(row, jnp.arange(y.size), batch_size=chunk_size)
        return rows.reshape((*y.shape, *w.shape))

    return jac


def _map_jvp(problem, derivative, chunk_size=None):
    """JVPs over the input basis under ``lax.map`` after a single linearization, one basis vector at
    a time or ``chunk_size`` vmapped together per step."""

    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        y, f_jvp = jax.linearize(f, w)

        def col(j):
            return f_jvp(jax.nn.one_hot(j, w.size, dtype=w.dtype).reshape(w.shape))

        cols = lax_map(col, jnp.arange(w.size), batch_size=chunk_size)
        return columns_to_jacobian(cols, y.shape, w.shape)

    return jac


def _loop_vjp_step(problem, derivative):
    """The notes' ``y[i].backward()`` loop: a compiled step that fills row i of J with one VJP.

    The forward pass is recomputed in every step (JAX keeps no graph between calls); J is donated so
    each step updates it in place.
    """

    def step(J, inputs, i):
        f, w = partial_fn(problem, derivative, inputs)
        y, vjp = jax.vjp(f, w)
        ct = jax.nn.one_hot(i, y.size, dtype=y.dtype).reshape(y.shape)
        g = vjp(ct)[0]
        return J.reshape(y.size, -1).at[i].set(g.reshape(-1)).reshape(J.shape)

    return step


WALKS: tuple[Method, ...] = (
    Method("loop_vjp", 1, _loop_vjp_step, kind="loop", steps="out", family="walk", mode="reverse",
           doc="Python loop over a jitted VJP, one output element per call (the notes' pattern)"),
    Method("map_vjp", 1, _map_vjp, steps="out", family="walk", mode="reverse",
           doc="lax.map of VJPs over output elements (low memory)"),
    Method("map_jvp", 1, _map_jvp, steps="in", family="walk", mode="forward",
           doc="lax.map of JVPs over input elements (low memory)"),
    Method("jacrev_chunked", 1, _map_vjp, steps="out", basis="out", chunked=True, family="chunked",
           mode="reverse",
           doc="VJPs vmapped over chunk_size output basis vectors at a time, lax.map over chunks"),
    Method("jacfwd_chunked", 1, _map_jvp, steps="in", basis="in", chunked=True, family="chunked",
           mode="forward",
           doc="JVPs vmapped over chunk_size input basis vectors at a time, lax.map over chunks"),
)  # fmt: skip
