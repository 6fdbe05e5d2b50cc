"""The NumPy peer: the closed form evaluated by NumPy on the host (BLAS for its products).

It shares nothing with XLA but the formula, so it says whose limit a slow closed form meets: where
``numpy_analytic`` is as far from the floor as ``analytic`` (``A + Aᵀ`` at 1024: a transpose's strided
reads), the formula's access pattern is the limit on this machine, not XLA's code for it; where it is
much nearer, XLA's code is. NumPy runs eagerly: its "compile time" is its first call, and there are no
XLA cost numbers (NaN). bfloat16 inputs are NumPy arrays of ml_dtypes' bfloat16, as the case draws them.
"""

from __future__ import annotations

import time

import numpy as np

from jaxgrads.methods.registry import Method, register_method

__all__ = ["build_numpy_kernel"]


def analytic(problem, derivative):
    """The closed form in NumPy, always into a fresh, contiguous array (as a compiled function writes
    a new buffer where NumPy would return an input itself, the Jacobian of Ax in x being A, or a
    broadcast view at no cost)."""

    def jac(inputs):
        out = np.asarray(derivative.closed_form(np, **inputs))
        shared = any(np.shares_memory(out, v) for v in inputs.values())
        if shared or not out.flags.c_contiguous or not out.flags.owndata:
            out = np.array(out, order="C", copy=True)
        return out

    return jac


def build_numpy_kernel(problem, derivative, method, host_inputs, platform: str):
    """``(args, run, compile_s)`` for a NumPy method; the first call is the compile time. It runs on
    the host whatever the run's device (``platform`` is not used)."""
    del platform
    inputs = {name: np.asarray(value) for name, value in host_inputs.items()}
    jac = method.build(problem, derivative)

    def run():
        return jac(inputs)

    start = time.perf_counter()
    run()
    return tuple(inputs.values()), run, time.perf_counter() - start


register_method(
    Method("numpy_analytic", None, analytic, needs="closed_form", family="closed_form", backend="numpy",
           kind="peer", compile=build_numpy_kernel, roles={"closed_form"},
           doc="the closed form in NumPy on the host: whose limit a slow closed form meets")
)  # fmt: skip
