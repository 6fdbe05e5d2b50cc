r"""Accuracy of one computed Jacobian, against the closed form in the kernel's dtype and in float64.

* ``err_closed_form``: $\|J - J_c\|_F / \|J_c\|_F$, $J_c$ the closed form compiled in the same dtype
  on the same device: the error autodiff adds over evaluating the formula.
* ``err_f64``: the same against $J_{64}$, the closed form in float64 NumPy on the host, from the very
  inputs the kernel saw: the total error.
* ``max_abs_err``: $\max|J - J_{64}|$.
* ``ok``: within the dtype's tolerance of $J_{64}$ (:mod:`jaxgrads.measure.tolerance`): entrywise
  where the problem declares the componentwise bound (``Problem.componentwise``: the built-in
  problems), normwise for any other function, with a tolerance that grows with the reference's own
  error in the kernel's dtype; and no NaN or Inf anywhere. A row that fails says why in its
  ``message``: the error, the tolerance, the worst entry, and the reference it was judged against.

A problem without a closed form (a user plug-in) is compared with ``jax.jacrev`` evaluated in float64
on the CPU.

**The closed form is checked too**, once per (target, size, dtype), against references that share
no code with it: ``jax.jacrev`` (``hessian_fwd_rev`` for a Hessian) in float64 on the CPU, entrywise
within ``rtol(float64, k) · (Σ|terms| + |J_ad|)`` (normwise within :data:`AUTODIFF_RTOL` for a
function without the componentwise bound), and central finite differences in float64 NumPy
(:mod:`jaxgrads.measure.finite_diff`, first derivatives, where $2\,n_{wrt}$ evaluations of $f$ are
affordable) within a normwise $10^{-6}$. The closed form is trusted when it agrees with jacrev, or
with finite differences where jacrev is not available (x64 off) or disagrees. An untrusted closed
form (wrong sign, a 0.1 % or 1e-5 error, a wrong shape) fails every row that evaluates it
(``ok = False`` with a message saying so), and every other row is judged against the autodiff
reference instead. A Jacobian of :data:`~jaxgrads.measure.projections.PROJECT_MIN_ELEMENTS` entries
or more is first checked by two projections, $J_c v$ and $u^\top J_c$ against one JVP and one VJP in
float64 (:mod:`jaxgrads.measure.projections`: sound, and $O(\text{size of } J)$ where the whole jacrev
is $O(n^3)$); only one that disagrees is checked whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import numpy as np

from jaxgrads.errors import one_line
from jaxgrads.measure.agreement import agreement, comparable_same, host_statistics
from jaxgrads.measure.blocks import block_accuracy
from jaxgrads.measure.case import decide
from jaxgrads.measure.finite_diff import fd_jacobian
from jaxgrads.measure.kernels import Kernel, compile_case, host_array
from jaxgrads.measure.projections import PROJECT_MIN_ELEMENTS, autodiff_projections, projected_verdict
from jaxgrads.measure.tolerance import abs_scale, judge, normwise_tolerance, rtol
from jaxgrads.methods import get_method, reference_method, role_method

__all__ = ["Reference", "accuracy", "check_closed_form", "host_array", "reference"]

FD_RTOL = 1e-6  # normwise agreement asked of finite differences (their rounding error is ~1e-9 here)
FD_MAX_WORK = 2**24  # wrt elements × input elements: central differences cost 2 n_wrt evaluations of f
FD_MAX_ELEMENTS = 4096
# normwise agreement asked of the closed form and jacrev, both in float64, for any function: their
# difference is the function's condition number times float64's roundoff (~1e-16), so 1e-8 leaves a
# condition number of 1e7 while a wrong formula, off by O(1), fails
AUTODIFF_RTOL = 1e-8


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    denom = np.linalg.norm(b.ravel())
    diff = np.linalg.norm((a - b).ravel())
    return float(diff / denom) if denom > 0 else float(diff)


@dataclass(frozen=True)
class Reference:
    """What a case's Jacobians are checked against; computed once per (target, size, dtype)."""

    f64: np.ndarray  # the closed form in float64 NumPy (or jacrev in float64)
    scale: np.ndarray | None  # per-entry sum of |terms| (None: the normwise check)
    same_dtype: jax.Array | None  # the closed form (or jacrev) in the kernel's dtype, on its device
    closed_form_error: str = ""  # why the closed form is not trusted; "" when it is (or there is none)
    name: str = "float64 closed form"  # what f64 is, for the message of a row that fails
    reference_error: float = math.nan  # normwise error of same_dtype against f64
    # the arrays above put on a device once, for every method of the case (measure.agreement)
    on_device: dict = field(default_factory=dict, compare=False, repr=False)


def _autodiff_reference(d) -> str:
    """The method that stands in for a missing closed form: jacrev, or forward-over-reverse
    (the registry's ``reference`` of the derivative's order)."""
    return reference_method(d.order, d.per_example)


def _inputs64(kernel: Kernel) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float64) for k, v in kernel.inputs.items()}


def _autodiff_f64(kernel: Kernel, inputs64: dict | None = None) -> np.ndarray | None:
    """jacrev (forward-over-reverse for a Hessian) in float64 on the CPU; None without x64."""
    if not jax.config.jax_enable_x64:
        return None
    d = kernel.derivative
    method = get_method(_autodiff_reference(d))
    cpu = jax.devices("cpu")[0]
    args = {k: jax.device_put(v, cpu) for k, v in (inputs64 or _inputs64(kernel)).items()}
    return np.asarray(jax.jit(method.build(kernel.problem, d))(args), np.float64)


def _finite_differences(kernel: Kernel, inputs64: dict | None = None) -> np.ndarray | None:
    """Central differences of ``f`` in float64 NumPy, where affordable; None otherwise."""
    d, inputs = kernel.derivative, inputs64 or _inputs64(kernel)
    wrt = inputs[d.wrt]
    work = wrt.size * sum(v.size for v in inputs.values())
    if d.order != 1 or wrt.size > FD_MAX_ELEMENTS or work > FD_MAX_WORK:
        return None
    h = float(np.finfo(np.float64).eps ** (1 / 3) * max(1.0, float(np.max(np.abs(wrt), initial=0.0))))
    try:
        return fd_jacobian(lambda w: np.asarray(kernel.problem.fn(np, **{**inputs, d.wrt: w})), wrt, h)
    except Exception:  # a plug-in whose f does not run on NumPy: no finite differences
        return None


def check_closed_form(
    kernel: Kernel, closed: np.ndarray, scale: np.ndarray | None, inputs64: dict | None = None
) -> tuple[str, np.ndarray | None]:
    """Whether the closed form agrees with the independent references (see the module docstring).

    ``inputs64``: the kernel's inputs in float64, where the caller has them.

    Returns ``("", None)`` when it is trusted (or nothing can contradict it), else the reason and the
    reference to judge the other methods against.
    """
    inputs64 = _inputs64(kernel) if inputs64 is None else inputs64
    k = max(max(np.shape(v), default=1) for v in kernel.inputs.values())
    if closed.size >= PROJECT_MIN_ELEMENTS and jax.config.jax_enable_x64:
        # a large Jacobian: two products decide it (measure.projections); one that disagrees is
        # checked whole below, for its message and the reference the other methods need
        case = kernel.case
        mapped = case.wrt_shape if case.derivative.order == 2 else case.out_shape  # g's output
        projections = autodiff_projections(kernel.problem, kernel.derivative, inputs64, mapped)
        tol = AUTODIFF_RTOL if scale is None else rtol(np.float64, k)
        if projected_verdict(closed, scale, projections, tol)[0]:
            return "", None
    verdicts, refs = {}, {}
    autodiff = _autodiff_f64(kernel, inputs64)
    if autodiff is not None:
        name = "float64 " + _autodiff_reference(kernel.derivative)
        refs[name] = autodiff
        if autodiff.shape != closed.shape:
            verdicts[name] = (False, f"shape {closed.shape} against {autodiff.shape}")
        elif scale is None:  # any function: normwise
            verdicts[name] = judge(closed, autodiff, AUTODIFF_RTOL)
        else:
            stats = host_statistics(closed, autodiff, scale + np.abs(autodiff))  # check_close, blockwise
            worst = stats["worst_ratio"] if stats["finite"] and stats["reference_finite"] else math.nan
            verdicts[name] = (worst <= rtol(np.float64, k), f"worst |error| / scale {worst:.2g}")
    fd = _finite_differences(kernel, inputs64)
    if fd is not None:
        refs["finite differences"] = fd
        if fd.shape != closed.shape:
            verdicts["finite differences"] = (False, f"shape {closed.shape} against {fd.shape}")
        else:
            err = _relative(closed, fd)
            verdicts["finite differences"] = (err <= FD_RTOL, f"relative error {err:.2g}")
    # trusted when a reference vouches for it: jacrev, or finite differences (which also settle a
    # disagreement with jacrev, e.g. a plug-in whose custom JVP is wrong)
    if not verdicts or any(ok for ok, _ in verdicts.values()):
        return "", None
    why = "; ".join(f"{name}: {detail}" for name, (ok, detail) in verdicts.items() if not ok)
    return f"the closed form disagrees with autodiff ({why})", next(iter(refs.values()))


def _float64_reference(kernel: Kernel) -> tuple[np.ndarray, np.ndarray | None, str]:
    d = kernel.derivative
    if d.closed_form is None:
        autodiff = _autodiff_f64(kernel)
        return (np.full(kernel.jac_shape, np.nan) if autodiff is None else autodiff), None, ""
    inputs64 = _inputs64(kernel)
    try:
        closed = np.asarray(d.closed_form(np, **inputs64), np.float64)
        scale = abs_scale(d.closed_form, inputs64) if kernel.problem.componentwise else None
    except Exception as exc:  # a plug-in's closed form raising: untrusted, autodiff judges the rest
        autodiff = _autodiff_f64(kernel)
        reference = np.full(kernel.jac_shape, np.nan) if autodiff is None else autodiff
        return reference, None, f"the closed form raised {one_line(exc)}"
    if scale is not None:
        scale = np.broadcast_to(scale, closed.shape)
    # whole arrays, once: a broadcast closed form (dL/dW of the linear layer's loss) or scale would be
    # copied by every method's check that flattens it
    closed = np.ascontiguousarray(closed)
    scale = None if scale is None else np.ascontiguousarray(scale)
    why, autodiff = check_closed_form(kernel, closed, scale, inputs64)
    if why:
        return autodiff, None, why
    return closed, scale, ""


def reference(kernel: Kernel, *, same_dtype: bool = True, closed_form_result=None) -> Reference:
    """The references for ``kernel``'s case; ``same_dtype`` also compiles the closed form in its dtype.

    ``closed_form_result``: what the closed form's own kernel of this case (same inputs, dtype and
    device) returned, when the caller has it: the same-dtype reference then, where the closed form
    is trusted, instead of compiling it a second time."""
    f64, scale, why = _float64_reference(kernel)
    d = kernel.derivative
    trusted = d.closed_form is not None and not why
    same = closed_form_result if trusted else None
    if same_dtype and same is None:
        method = role_method("closed_form") if trusted else _autodiff_reference(d)
        try:
            case = kernel.case  # the reference of this case: its shapes, dtype and inputs, another method
            ref_case = decide(case.problem, d, get_method(method), case.size, case.dtype,
                              platform=case.platform, shapes=case.shapes)  # fmt: skip
            ref = compile_case(ref_case, kernel.device, inputs=kernel.inputs)
            same = jax.block_until_ready(ref())  # kept where the kernels' results are
        except Exception:  # noqa: BLE001 - a plug-in's closed form failing in JAX: err_closed_form is NaN
            same = None
    name = "float64 closed form" if trusted else "float64 " + _autodiff_reference(d)
    error = math.nan
    if same is not None and np.shape(same) == f64.shape and f64.size:
        stats = host_statistics(same, f64)
        if stats["reference_finite"]:
            error = _ratio(stats["err_norm"], stats["reference_norm"])
    return Reference(f64, scale, same, why, name, error)


def accuracy(kernel: Kernel, J, ref: Reference | None = None) -> dict[str, float | bool]:
    """The accuracy columns for Jacobian ``J`` computed by ``kernel``.

    Computed blockwise in place on a CPU, in one compiled pass on a GPU
    (:mod:`jaxgrads.measure.agreement`); a mesh's or a peer's result is gathered on the host first.
    Only a row that fails is judged whole, for the worst entry its message names.

    Args:
      kernel: the kernel that computed ``J``.
      J: its result.
      ref: the case's references (computed here, without the same-dtype one, when None).
    """
    ref = ref if ref is not None else reference(kernel, same_dtype=False)
    untrusted = {"ok": False, "message": ref.closed_form_error}
    if not (ref.closed_form_error and kernel.method.needs == "closed_form"):
        untrusted = {}
    k = max(max(np.shape(v), default=1) for v in kernel.inputs.values())
    tol = rtol(kernel.dtype, k) if ref.scale is not None else normwise_tolerance(
        kernel.dtype, k, ref.reference_error
    )  # fmt: skip
    actual = None  # the result gathered on the host, once, where it must be
    stats = agreement(J, ref, kernel.device) if kernel.mesh is None else None
    if stats is None:
        actual = kernel.host_jacobian(J)  # a mesh's (gathered) or a peer's result
        if actual.shape != ref.f64.shape or actual.size == 0:
            return _host_accuracy(actual, ref, tol) | untrusted
        stats = host_statistics(actual, ref.f64, ref.scale, comparable_same(ref))
    columns = {
        "err_closed_form": _ratio(stats.get("same_err_norm", math.nan), stats.get("same_norm", math.nan)),
        "err_f64": _ratio(stats["err_norm"], stats["reference_norm"]),
        "max_abs_err": stats["max_abs"],
        "ok": _passes(stats, tol),
    }
    if not columns["ok"]:  # the host says where (and has the last word at the boundary)
        ok, why = judge(kernel.host_jacobian(J) if actual is None else actual, ref.f64, tol, ref.scale)
        columns["ok"] = bool(ok)
        if not ok:
            columns["message"] = f"inaccurate against the {ref.name}: {why}"
    flat = kernel.problem.extra.get("flat")
    if flat is not None and columns["ok"] and len(flat.wrt) * len(flat.out) > 1:  # a pytree: each block
        actual = kernel.host_jacobian(J) if actual is None else actual
        columns |= block_accuracy(flat, kernel.derivative.order, actual, ref.f64, ref.same_dtype,
                                  kernel.dtype, k, ref.name)  # fmt: skip
    return columns | untrusted


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else num


def _passes(stats: dict, tol: float) -> bool:
    """:func:`jaxgrads.measure.tolerance.judge`'s verdict from the device's statistics."""
    if not (stats["finite"] and stats["reference_finite"]):
        return False
    if "worst_ratio" in stats:
        return stats["worst_ratio"] <= tol
    return _ratio(stats["err_norm"], stats["reference_norm"]) <= tol


def _host_accuracy(actual: np.ndarray, ref: Reference, tol: float) -> dict:
    """The accuracy columns computed on the host, in float64 NumPy."""
    if actual.shape != ref.f64.shape:
        nan = math.nan
        return {"err_closed_form": nan, "err_f64": nan, "max_abs_err": nan, "ok": False}
    ok, why = judge(actual, ref.f64, tol, ref.scale)
    same = (
        _relative(actual, np.asarray(ref.same_dtype, np.float64)) if ref.same_dtype is not None else math.nan
    )
    columns = {
        "err_closed_form": same,
        "err_f64": _relative(actual, ref.f64),
        "max_abs_err": float(np.max(np.abs(actual - ref.f64))) if actual.size else 0.0,
        "ok": bool(ok),
    }
    if not ok:
        columns["message"] = f"inaccurate against the {ref.name}: {why}"
    return columns
