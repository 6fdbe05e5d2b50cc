"""What the JAX methods share: the function of the differentiated argument alone, unit bases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxgrads.problems.registry import Derivative, Problem

__all__ = ["Inputs", "JacFn", "ad", "basis", "columns_to_jacobian", "partial_fn"]

Inputs = dict[str, jax.Array]
JacFn = Callable[[Inputs], jax.Array]


def partial_fn(problem: Problem, derivative: Derivative, inputs: Inputs) -> tuple[Callable, Any]:
    """``f(w)``: the problem as a function of the differentiated argument alone, and ``w`` itself."""

    def f(w):
        return problem.fn(jnp, **{**inputs, derivative.wrt: w})

    return f, inputs[derivative.wrt]


def basis(n: int, shape: tuple[int, ...], dtype) -> jax.Array:
    """The n unit vectors, each reshaped to ``shape``: an (n, *shape) identity."""
    return jnp.eye(n, dtype=dtype).reshape((n, *shape))


def columns_to_jacobian(cols: jax.Array, out_shape, in_shape) -> jax.Array:
    """(in.size, *out.shape) JVP columns -> (*out.shape, *in.shape)."""
    n_in = cols.shape[0]
    return cols.reshape(n_in, -1).T.reshape((*out_shape, *in_shape))


def ad(transform: Callable) -> Callable[[Problem, Derivative], JacFn]:
    """A builder applying a JAX transform (``jax.jacfwd``, ...) to ``f`` of the argument alone."""

    def build(problem, derivative):
        def jac(inputs):
            f, w = partial_fn(problem, derivative, inputs)
            return transform(f)(w)

        return jac

    return build
