"""The asdex peer: automatic sparse differentiation in JAX (the ``[sparse]`` extra, ``pip install asdex``).

asdex detects the Jacobian's (or Hessian's) sparsity by interpreting the function's jaxpr (global:
valid for every input), colors it (column or row distance-1 for Jacobians, star coloring for
symmetric Hessians), then evaluates compressed JVPs, VJPs or Hessian-vector products and decompresses.
Here detection and coloring are the ``prepare`` step, timed as ``prep_s`` apart from compilation
and evaluation, like jaxgrads' own colored methods (:mod:`jaxgrads.methods.colored`), which take
their pattern from the closed form instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from jaxgrads.errors import JaxgradsError
from jaxgrads.methods.common import partial_fn
from jaxgrads.methods.registry import Method, register_method

__all__ = ["require_asdex"]


def require_asdex():
    """The ``asdex`` module, or a one-line error naming the extra to install."""
    try:
        import asdex
    except ImportError:
        raise JaxgradsError(
            "the asdex_* methods need asdex: pip install 'jaxgrads[sparse]' (or pip install asdex)"
        ) from None
    return asdex


@dataclass(frozen=True)
class AsdexColoring:
    """asdex's colored pattern with the counts a row records."""

    pattern: object  # asdex.ColoredPattern
    nnz: int
    count: int


def _prepare(kind: str):
    def prepare(problem, derivative, inputs):
        asdex = require_asdex()
        # the case's own inputs: the other arguments are constants of f, and asdex folds known
        # zeros (with all-zero A it finds no nonzero in d(Ax)/dx)
        f, w = partial_fn(problem, derivative, {k: jnp.asarray(v) for k, v in inputs.items()})
        detect = asdex.hessian_coloring if kind == "hessian" else asdex.jacobian_coloring
        with warnings.catch_warnings():  # a dense pattern is a result here (the row's colors say it)
            warnings.simplefilter("ignore", asdex.DenseColoringWarning)
            pattern = detect(f, w)
        rows = np.asarray(pattern.sparsity.rows)
        return AsdexColoring(pattern, int(rows.size), int(pattern.num_colors))

    return prepare


def _build(kind: str, output: str):
    def build(problem, derivative, prepared: AsdexColoring):
        asdex = require_asdex()
        evaluate = asdex.hessian_from_coloring if kind == "hessian" else asdex.jacobian_from_coloring

        def jac(inputs):
            f, w = partial_fn(problem, derivative, inputs)
            return evaluate(f, prepared.pattern, output)(w)

        return jac

    return build


_PEER = {"backend": "asdex", "family": "colored", "kind": "pattern", "opt_in": True}
ASDEX: tuple[Method, ...] = (
    Method("asdex_dense", 1, _build("jacobian", "dense"), prepare=_prepare("jacobian"), **_PEER,
           doc="asdex.jacobian: jaxpr sparsity detection, coloring, compressed AD; dense output"),
    Method("asdex_bcoo", 1, _build("jacobian", "bcoo"), prepare=_prepare("jacobian"), output="bcoo", **_PEER,
           doc="asdex.jacobian with BCOO output"),
    Method("asdex_hessian", 2, _build("hessian", "dense"), prepare=_prepare("hessian"), **_PEER,
           doc="asdex.hessian: star coloring of the symmetric pattern, Hessian-vector products"),
)  # fmt: skip

for _method in ASDEX:
    register_method(_method)
