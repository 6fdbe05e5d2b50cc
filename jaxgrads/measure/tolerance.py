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
"""

from __future__ import annotations

import numpy as np

__all__ = ["abs_scale", "check_close", "eps", "rtol"]


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
