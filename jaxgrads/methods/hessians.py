"""Hessians three ways: forward-over-reverse (what ``jax.hessian`` does), reverse-over-reverse,
forward-over-forward."""

import jax

from jaxgrads.methods.common import ad
from jaxgrads.methods.registry import Method

__all__ = ["HESSIANS"]

HESSIANS: tuple[Method, ...] = (
    Method("hessian_fwd_rev", 2, ad(lambda f: jax.jacfwd(jax.jacrev(f))), basis="in", family="hessian",
           mode="forward", roles={"reference"}, doc="forward-over-reverse, what jax.hessian does"),
    Method("hessian_rev_rev", 2, ad(lambda f: jax.jacrev(jax.jacrev(f))), basis="in", family="hessian",
           mode="reverse", doc="reverse-over-reverse"),
    Method("hessian_fwd_fwd", 2, ad(lambda f: jax.jacfwd(jax.jacfwd(f))), basis="in", family="hessian",
           mode="forward", doc="forward-over-forward"),
)  # fmt: skip
