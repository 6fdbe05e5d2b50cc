r"""One tolerance policy for comparing a Jacobian with its closed form, per dtype.

Every entry of these Jacobians is an input copied, a product of inputs, or a sum of at most k
products, k the longest reduction (the largest dimension of any input). Summing k terms in floating
point errs by at most $\gamma_k = ku/(1-ku)$ times $\sum|\text{terms}|$ (Higham, *Accuracy and
Stability of Numerical Algorithms*, §3.1), with $u = \epsilon/2$. Two methods that sum in different
orders therefore differ by at most about $k\epsilon \sum|\text{terms}|$. The scale
$\sum|\text{terms}|$ is the closed form evaluated on the absolute values of the inputs (the forms are
polynomials with non-negative coefficients), so the check is componentwise and immune to
cancellation. We allow $4k\epsilon$, and never less than $16\epsilon$:

================  ===========  ====================  =====================
dtype             eps          rtol at k = 7         rtol at k = 4096
================  ===========  ====================  =====================
float64           2.2e-16      6.2e-15               3.6e-12
float32           1.2e-7       3.3e-6                2.0e-3
bfloat16          7.8e-3       0.22                  (meaningless: 1.0)
================  ===========  ====================  =====================

rtol is capped at 1: a bfloat16 Jacobian of a long reduction carries no correct digit by this bound.

**That scale is declared, not assumed** (``Problem.componentwise``): the built-in problems' closed
forms qualify; for any other function (an inverse, a determinant, a norm) the absolute values of
the inputs say nothing about an entry's terms ($\|x - a\|$ at $|x|, |a|$ can be 0 where the entry
is not), and the check is **normwise**: $\|J - J_{64}\|_F \le \tau \|J_{64}\|_F$ with

$$\tau = \max\big(\text{rtol}(\text{dtype}, k),\ 16\,e_\text{ref}\big),$$

$e_\text{ref} = \|J_\text{ref} - J_{64}\|_F / \|J_{64}\|_F$ the error of the reference itself (the
closed form, or jacrev where there is none or it is untrusted) evaluated in the kernel's dtype from
the very same inputs. The first term is the summation bound above, normwise (it holds for any
evaluation whose error is that of k-term sums: Higham §3.1, and §1.7 for the normwise form). The
second is the function's own conditioning at these inputs, measured: a correct method in this
dtype errs like another correct evaluation in it, up to the order of its operations, while a wrong
formula (a transpose forgotten, a factor of 2) errs by O(1) whatever the dtype. Every failed check
says where: the worst entry, its error and the tolerance (:func:`judge`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SAME_DTYPE_FACTOR", "abs_scale", "check_close", "eps", "judge", "normwise_tolerance", "rtol"]

SAME_DTYPE_FACTOR = 16  # a correct method errs within this multiple of the reference's own error


def eps(dtype) -> float:
    """Machine epsilon of ``dtype`` (bfloat16 through ml_dtypes' finfo)."""
    import ml_dtypes

    return float(ml_dtypes.finfo(np.dtype(dtype)).eps)


def rtol(dtype, k: int = 1) -> float:
    """Allowed error relative to the entry's scale, for reductions of length ``k``."""
    return min(1.0, max(16, 4 * k) * eps(dtype))


def abs_scale(closed_form, inputs: dict[str, np.ndarray]) -> np.ndarray:
    r"""$\sum|\text{terms}|$ per entry: the closed form in float64 NumPy on $|inputs|$."""
    return np.abs(closed_form(np, **{k: np.abs(np.asarray(v, np.float64)) for k, v in inputs.items()}))


def check_close(actual, desired, scale, tol: float) -> tuple[bool, float]:
    """Whether ``|actual - desired| <= tol * scale`` everywhere, and the worst ratio |err|/scale.

    Where the scale is 0 the entry is an exact zero and must come out within ``tol`` absolute.
    NaN or Inf anywhere fails.
    """
    a = np.asarray(actual, np.float64)
    d = np.asarray(desired, np.float64)
    s = np.broadcast_to(np.asarray(scale, np.float64), d.shape)
    if a.shape != d.shape:
        return False, float("inf")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(d))):
        return False, float("nan")
    ratio = np.abs(a - d) / np.where(s > 0, s, 1.0)
    worst = float(ratio.max()) if ratio.size else 0.0
    return worst <= tol, worst


def normwise_tolerance(dtype, k: int, reference_error: float = math.nan) -> float:
    """The normwise tolerance of the module docstring: ``rtol(dtype, k)``, or 16x the error the
    reference makes in ``dtype`` at these inputs where that is larger (capped at 1)."""
    tol = rtol(dtype, k)
    if math.isfinite(reference_error):
        tol = max(tol, SAME_DTYPE_FACTOR * reference_error)
    return min(1.0, tol)


def _where(index) -> str:
    return "(" + ", ".join(str(int(i)) for i in index) + ")"


def judge(actual, desired, tol: float, scale=None) -> tuple[bool, str]:
    """Whether ``actual`` is within ``tol`` of ``desired`` (componentwise against ``scale`` where
    given, else normwise), and if not, why: the error, the tolerance and the worst entry."""
    a = np.asarray(actual, np.float64)
    d = np.asarray(desired, np.float64)
    if a.shape != d.shape:
        return False, f"shape {a.shape}, the reference's {d.shape}"
    bad = ~np.isfinite(a)
    if bad.any():
        return False, f"NaN or Inf at entry {_where(np.unravel_index(np.argmax(bad), a.shape))}"
    if not np.all(np.isfinite(d)) or a.size == 0:
        return bool(np.all(np.isfinite(d))), "" if np.all(np.isfinite(d)) else "the reference is not finite"
    err = np.abs(a - d)
    if scale is not None:
        ok, worst = check_close(a, d, scale, tol)
        if ok:
            return True, ""
        s = np.broadcast_to(np.asarray(scale, np.float64), d.shape)
        at = np.unravel_index(np.argmax(err / np.where(s > 0, s, 1.0)), d.shape)
        return False, (f"entry {_where(at)}: |error| {err[at]:.2g} over {tol:.2g} x its scale {s[at]:.2g} "
                       f"(componentwise; worst ratio {worst:.2g})")  # fmt: skip
    norm = float(np.linalg.norm(d.ravel()))
    rel = float(np.linalg.norm(err.ravel())) / norm if norm > 0 else float(np.linalg.norm(err.ravel()))
    if rel <= tol:
        return True, ""
    at = np.unravel_index(np.argmax(err), d.shape)
    return False, (f"normwise error {rel:.2g} over the tolerance {tol:.2g}; worst entry {_where(at)}: "
                   f"{a[at]:.6g} against {d[at]:.6g}")  # fmt: skip
