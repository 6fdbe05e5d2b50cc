r"""The PyTorch peer: the same problems, closed forms and dtypes through ``torch`` (the notes' system).

Problems are written against an array namespace, so ``torch`` itself serves as ``xp``. PyTorch runs
eagerly: a kernel's "compile time" is its first call, and there are no XLA cost numbers (NaN).
Threads: PyTorch is pinned to as many intra-op threads as XLA's CPU runtime uses by default, one per
core, and the count is recorded in each row (``torch_threads``).

Install with ``pip install 'jaxgrads[torch]'``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from jaxgrads.errors import JaxgradsError
from jaxgrads.methods.registry import Method, register_method

__all__ = ["build_torch_kernel", "require_torch", "torch_threads"]


def require_torch():
    """The ``torch`` module, or a one-line error naming the extra to install."""
    try:
        import torch
    except ImportError:
        raise JaxgradsError(
            "the torch_* methods need PyTorch: pip install 'jaxgrads[torch]' (or pip install torch)"
        ) from None
    if torch.get_num_threads() != (os.cpu_count() or 1):
        torch.set_num_threads(os.cpu_count() or 1)
    return torch


def torch_threads() -> int | str:
    """PyTorch's intra-op thread count if PyTorch is loaded, else ""."""
    import sys

    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else ""


def _partial(problem, derivative, inputs):
    torch = require_torch()

    def f(w):
        return problem.fn(torch, **{**inputs, derivative.wrt: w})

    return f, inputs[derivative.wrt]


def _func(name: str) -> Callable:
    def build(problem, derivative):
        def jac(inputs):
            torch = require_torch()
            f, w = _partial(problem, derivative, inputs)
            return getattr(torch.func, name)(f)(w)

        return jac

    return build


def _autograd(strategy: str) -> Callable:
    def build(problem, derivative):
        def jac(inputs):
            torch = require_torch()
            f, w = _partial(problem, derivative, inputs)
            return torch.autograd.functional.jacobian(f, w, vectorize=True, strategy=strategy)

        return jac

    return build


def loop(problem, derivative):
    """The notes' pattern: one ``backward`` per output element, reusing the graph."""

    def jac(inputs):
        torch = require_torch()
        w = inputs[derivative.wrt].detach().clone().requires_grad_(True)
        y = problem.fn(torch, **{**inputs, derivative.wrt: w})
        flat = y.reshape(-1)
        J = torch.empty((flat.numel(), w.numel()), dtype=w.dtype, device=w.device)
        for i in range(flat.numel()):
            w.grad = None
            flat[i].backward(retain_graph=True)
            J[i] = w.grad.reshape(-1)
        return J.reshape(*y.shape, *w.shape)

    return jac


def analytic(problem, derivative):
    """The closed form, evaluated by PyTorch into a fresh, contiguous tensor.

    PyTorch would return an input itself (the Jacobian of Ax in x is A) or a stride-0 view
    (``broadcast_to``) at no cost, where a compiled JAX function always writes a new buffer; the
    copy makes the two produce the same thing.
    """

    def jac(inputs):
        torch = require_torch()
        with torch.no_grad():
            out = derivative.closed_form(torch, **inputs)
            storages = {t.untyped_storage().data_ptr() for t in inputs.values()}
            if out.untyped_storage().data_ptr() in storages:
                return out.clone(memory_format=torch.contiguous_format)
            return out.contiguous()

    return jac


jacrev = _func("jacrev")
jacfwd = _func("jacfwd")
autograd_rev = _autograd("reverse-mode")
autograd_fwd = _autograd("forward-mode")


def build_torch_kernel(problem, derivative, method, host_inputs, platform: str):
    """``(args, run, compile_s)`` for a torch method; the first call is the compile time.

    Args:
      host_inputs: NumPy inputs by name, already in the case's dtype (bfloat16 via ml_dtypes).
      platform: the JAX device's platform, ``cpu`` or ``gpu``.
    """
    torch = require_torch()
    import numpy as np

    device = "cuda" if platform == "gpu" else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise JaxgradsError("the torch_* methods on a GPU need a CUDA build of PyTorch; use --device cpu")
    dtypes = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}
    inputs = {}
    for name, value in host_inputs.items():
        dtype = dtypes[value.dtype.name]
        inputs[name] = torch.from_numpy(np.asarray(value, np.float64)).to(device=device, dtype=dtype)
    jac = method.build(problem, derivative)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def run():
        out = jac(inputs)
        sync()
        return out

    start = time.perf_counter()
    run()
    return tuple(inputs.values()), run, time.perf_counter() - start


_KERNEL = {"backend": "torch", "kind": "peer", "compile": build_torch_kernel}

for _method in (
    Method("torch_jacrev", 1, jacrev, basis="out", mode="reverse", **_KERNEL, doc="torch.func.jacrev"),
    Method("torch_jacfwd", 1, jacfwd, basis="in", mode="forward", **_KERNEL, doc="torch.func.jacfwd"),
    Method("torch_autograd", 1, autograd_rev, basis="out", mode="reverse", **_KERNEL,
           doc="torch.autograd.functional.jacobian, vectorize=True, reverse mode"),
    Method("torch_autograd_fwd", 1, autograd_fwd, basis="in", mode="forward", **_KERNEL,
           doc="torch.autograd.functional.jacobian, vectorize=True, forward mode"),
    Method("torch_loop", 1, loop, steps="out", family="walk", mode="reverse", **_KERNEL,
           doc="the notes' loop: one backward(retain_graph=True) per output element"),
    Method("torch_analytic", None, analytic, needs="closed_form", family="closed_form", **_KERNEL,
           doc="the closed form in PyTorch"),
):  # fmt: skip
    register_method(_method)
