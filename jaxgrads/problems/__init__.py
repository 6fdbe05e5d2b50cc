"""The problem registry, the built-in problems from the matrix-calculus notes, and two structured
ones beyond them (``structured``: a diagonal and a banded Jacobian)."""
# ruff: noqa: I001, F403  (the imports register the built-ins in the notes' order; the surface is the registry's)

from jaxgrads.problems import inner, matvec, bilinear, quadratic, linear, structured  # noqa: F401
from jaxgrads.problems import registry
from jaxgrads.problems.registry import *

__all__ = list(registry.__all__)
