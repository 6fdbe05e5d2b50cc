"""The closed forms as methods: the fast form (``analytic``) and the literal textbook one."""

from collections.abc import Callable

import jax.numpy as jnp

from jaxgrads.methods.common import JacFn
from jaxgrads.methods.registry import Method
from jaxgrads.problems.registry import Derivative, Problem

__all__ = ["CLOSED_FORMS"]


def _closed(attr: str) -> Callable[[Problem, Derivative], JacFn]:
    """A builder evaluating the derivative's ``closed_form`` or ``textbook`` with jax.numpy."""

    def build(problem, derivative):
        form = getattr(derivative, attr)

        def jac(inputs):
            return form(jnp, **inputs)

        return jac

    return build


CLOSED_FORMS: tuple[Method, ...] = (
    Method("analytic", None, _closed("closed_form"), needs="closed_form", family="closed_form",
           roles={"closed_form"},
           doc="the fast closed form"),
    Method("analytic_textbook", None, _closed("textbook"), needs="textbook", family="closed_form",
           roles={"textbook"},
           doc="the literal textbook closed form"),
)  # fmt: skip
