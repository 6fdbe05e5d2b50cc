r"""Accuracy of one computed Jacobian, against the closed form in the kernel's dtype and in float64.

* ``err_closed_form``: $\|J - J_c\|_F / \|J_c\|_F$, $J_c$ the closed form compiled in the same dtype
  on the same device: the error autodiff adds over evaluating the formula.
* ``err_f64``: the same against $J_{64}$, the closed form in float64 NumPy on the host, from the very
  inputs the kernel saw: the total error.
* ``max_abs_err``: $\max|J - J_{64}|$.
* ``ok``: every entry within the dtype's tolerance of $J_{64}$ (:mod:`jaxgrads.tolerance`), and no
  NaN or Inf anywhere.

A problem without a closed form (a user plug-in) is compared with ``jax.jacrev`` evaluated in float64
on the CPU; ``ok`` then uses the normwise error against the same rtol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np

from jaxgrads.kernels import Kernel, build_kernel
from jaxgrads.methods import get_method
from jaxgrads.tolerance import abs_scale, check_close, rtol

__all__ = ["Reference", "accuracy", "reference"]


def host_array(J) -> np.ndarray:
    """A Jacobian as a float64 NumPy array on the host, from JAX or PyTorch."""
    if hasattr(J, "detach"):  # a torch.Tensor, maybe bfloat16 or on a GPU
        import torch

        return J.detach().to("cpu", torch.float64).numpy()
    return np.asarray(J, np.float64)


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    denom = np.linalg.norm(b.ravel())
    diff = np.linalg.norm((a - b).ravel())
    return float(diff / denom) if denom > 0 else float(diff)


@dataclass(frozen=True)
class Reference:
    """What a case's Jacobians are checked against; computed once per (target, size, dtype)."""

    f64: np.ndarray  # the closed form in float64 NumPy (or jacrev in float64)
    scale: np.ndarray | None  # per-entry sum of |terms| (None without a closed form)
    same_dtype: np.ndarray | None  # the closed form (or jacrev) in the kernel's dtype, on its device


def _autodiff_reference(d) -> str:
    """The method that stands in for a missing closed form: jacrev, or forward-over-reverse."""
    return "jacrev" if d.order == 1 else "hessian_fwd_rev"


def _float64_reference(kernel: Kernel) -> tuple[np.ndarray, np.ndarray | None]:
    d = kernel.derivative
    inputs64 = {k: np.asarray(v, np.float64) for k, v in kernel.inputs.items()}
    if d.closed_form is not None:
        return np.asarray(d.closed_form(np, **inputs64), np.float64), abs_scale(d.closed_form, inputs64)
    if not jax.config.jax_enable_x64:
        return np.full(kernel.jac_shape, np.nan), None
    method = get_method(_autodiff_reference(d))
    cpu = jax.devices("cpu")[0]
    args = {k: jax.device_put(v, cpu) for k, v in inputs64.items()}
    return np.asarray(jax.jit(method.build(kernel.problem, d))(args), np.float64), None


def reference(kernel: Kernel, *, same_dtype: bool = True) -> Reference:
    """The references for ``kernel``'s case; ``same_dtype`` also compiles the closed form in its dtype."""
    f64, scale = _float64_reference(kernel)
    same = None
    if same_dtype:
        d = kernel.derivative
        method = "analytic" if d.closed_form is not None else _autodiff_reference(d)
        ref = build_kernel(
            kernel.problem,
            d.name,
            method,
            kernel.size,
            kernel.dtype.name,
            kernel.device,
            inputs=kernel.inputs,
        )
        same = np.asarray(ref())
    return Reference(f64, scale, same)


def accuracy(kernel: Kernel, J, ref: Reference | None = None) -> dict[str, float | bool]:
    """The accuracy columns for Jacobian ``J`` computed by ``kernel``.

    Args:
      kernel: the kernel that computed ``J``.
      J: its result.
      ref: the case's references (computed here, without the same-dtype one, when None).
    """
    actual = host_array(J)
    ref = ref if ref is not None else reference(kernel, same_dtype=False)
    if actual.shape != ref.f64.shape:
        return {"err_closed_form": math.nan, "err_f64": math.nan, "max_abs_err": math.nan, "ok": False}
    k = max(max(np.shape(v), default=1) for v in kernel.inputs.values())
    tol = rtol(kernel.dtype, k)
    err_f64 = _relative(actual, ref.f64)
    if ref.scale is not None:
        ok, _ = check_close(actual, ref.f64, ref.scale, tol)
    else:
        ok = bool(np.all(np.isfinite(actual))) and err_f64 <= tol
    same = (
        _relative(actual, np.asarray(ref.same_dtype, np.float64)) if ref.same_dtype is not None else math.nan
    )
    finite = bool(np.all(np.isfinite(actual)))
    return {
        "err_closed_form": same,
        "err_f64": err_f64,
        "max_abs_err": float(np.max(np.abs(actual - ref.f64))) if actual.size else 0.0,
        "ok": bool(ok and finite),
    }
