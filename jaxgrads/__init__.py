"""jaxgrads: what autodiff Jacobians cost, measured against the closed forms of matrix calculus."""

from jaxgrads.kernels import Kernel, as_size, build_kernel, kernel_id
from jaxgrads.methods import METHODS, Method, applicable_methods, get_method, method_names
from jaxgrads.problems import (
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
from jaxgrads.tolerance import rtol
from jaxgrads.validation import DTYPES, JaxgradsError

__version__ = "0.1.0"

__all__ = [
    "DTYPES",
    "METHODS",
    "Derivative",
    "JaxgradsError",
    "Kernel",
    "Method",
    "Problem",
    "Size",
    "applicable_methods",
    "as_size",
    "build_kernel",
    "gaussian_inputs",
    "get_method",
    "get_problem",
    "kernel_id",
    "list_problems",
    "method_names",
    "problem_names",
    "register",
    "rtol",
    "unregister",
]
