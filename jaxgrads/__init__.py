"""jaxgrads: what autodiff Jacobians cost, measured against the closed forms of matrix calculus.

The names below load on first use (PEP 562), so ``import jaxgrads`` (and with it the CLI) starts
without importing JAX: a Ctrl-C or a bad flag in the first second still gets one line.
"""

import importlib

__version__ = "0.1.0"

_WHERE = {
    "jaxgrads.measure.kernels": ("Kernel", "as_size", "build_kernel"),
    "jaxgrads.results.labels": ("kernel_id",),
    "jaxgrads.methods": ("METHODS", "Method", "applicable_methods", "get_method", "method_names"),
    "jaxgrads.problems": (
        "Derivative", "Problem", "Size", "gaussian_inputs", "get_problem", "list_problems",
        "problem_names", "register", "unregister",
    ),
    "jaxgrads.measure.tolerance": ("rtol",),
    "jaxgrads.function": ("Advice", "Comparison", "advise", "compare"),
    "jaxgrads.validation": ("DTYPES",),
    "jaxgrads.errors": ("JaxgradsError",),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'jaxgrads' has no attribute {name!r}")
    if _MODULE_OF[name] == "jaxgrads.methods":
        importlib.import_module("jaxgrads.measure")  # the registry with the peers' methods too
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_MODULE_OF])
