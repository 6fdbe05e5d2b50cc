"""The problem registry and the built-in problems from the matrix-calculus notes."""
# ruff: noqa: I001  (the imports register the built-ins in the notes' order)

from jaxgrads.problems import inner, matvec, bilinear, quadratic, linear  # noqa: F401
from jaxgrads.problems.registry import (
    DIMS,
    Derivative,
    Problem,
    Size,
    gaussian_inputs,
    get_problem,
    list_problems,
    problem_names,
    register,
    unregister,
)

__all__ = [
    "DIMS",
    "Derivative",
    "Problem",
    "Size",
    "gaussian_inputs",
    "get_problem",
    "list_problems",
    "problem_names",
    "register",
    "unregister",
]
