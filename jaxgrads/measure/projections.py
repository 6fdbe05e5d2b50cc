r"""The closed form checked against autodiff by projections, where the whole float64 Jacobian costs
more than the kernels it judges.

jacrev in float64 builds $J_{ad}$ one VJP per output (per input for a Hessian): $O(n^3)$ for the
$n = 4096$ matvec or Hessian of a memory-regime case, seconds where the kernels take milliseconds.
A Jacobian is wrong exactly when it maps some direction wrongly, so two products decide it:
with $v$ and $u$ drawn from $N(0, 1)$ (a fixed seed),

$$ J_c v \;\text{against}\; \mathrm{JVP}(v), \qquad u^\top J_c \;\text{against}\; \mathrm{VJP}(u), $$

one forward and one reverse pass in float64 on the CPU (the gradient's for a Hessian: $Hv$ and
$u^\top H$), plus two host matrix-vector products: $O(\text{size of } J)$.

**Sound** (a right closed form passes): entrywise, $|J_c - J_{ad}| \le \tau\,S$ with
$S = \Sigma|\text{terms}| + |J_c|$ and $\tau$ the componentwise check's ``rtol(float64, k)``, so
$|(J_c - J_{ad})v| \le \tau\,S|v|$; each side's product adds at most $\gamma_N \approx N\epsilon$
relative ($N$ the length of its sums), which the bound adds to $\tau$. Normwise,
$\|(J_c - J_{ad})v\| \le \|J_c - J_{ad}\|_F \|v\|$.

**What it detects**: an error $E = J_c - J_{ad}$ gives $Ev$ with $\mathrm{E}\|Ev\|^2 = \|E\|_F^2$;
it is missed only if $v$ (and $u$) fall where $E$'s rows cancel, which for a nonzero $E$ has
probability zero, or if $E$ is within the bound, which for an entry is at most $\tau$ times its
row's scale summed against $|v|$: a wrong formula (a sign, a transpose, a missing term: $O(1)$)
fails by orders of magnitude. One that fails is then checked whole (:mod:`jaxgrads.measure.accuracy`),
which names the worst entry and gives the reference the other methods are judged against.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxgrads.measure.tolerance import eps
from jaxgrads.methods.common import partial_fn

__all__ = ["PROJECT_MIN_ELEMENTS", "Projections", "autodiff_projections", "projected_verdict"]

# a closed form whose Jacobian has at least this many entries is checked by projections (a smaller
# one's whole float64 jacrev costs little and says more)
PROJECT_MIN_ELEMENTS = 2**20

Projections = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # v, J v, u, u^T J (float64)


def autodiff_projections(problem, derivative, inputs64: dict[str, np.ndarray]) -> Projections:
    """``(v, J v, u, uᵀ J)`` by one JVP and one VJP in float64 on the CPU (of the gradient, for a
    Hessian); ``inputs64`` the case's inputs in float64."""
    cpu = jax.devices("cpu")[0]
    args = {k: jax.device_put(v, cpu) for k, v in inputs64.items()}
    f, w = partial_fn(problem, derivative, args)
    g = jax.grad(f) if derivative.order == 2 else f
    out_shape = jax.eval_shape(g, w).shape
    rng = np.random.default_rng(0)
    v, u = rng.standard_normal(w.shape), rng.standard_normal(out_shape)

    @jax.jit
    def products(w, v, u):
        jv = jax.jvp(g, (w,), (v,))[1]
        uj = jax.vjp(g, w)[1](u)[0]
        return jv, uj

    jv, uj = products(w, jax.device_put(v, cpu), jax.device_put(u, cpu))
    return v, np.asarray(jv, np.float64), u, np.asarray(uj, np.float64)


def projected_verdict(
    closed: np.ndarray, scale: np.ndarray | None, projections: Projections, tol: float
) -> tuple[bool, str]:
    """Whether the float64 closed form ``closed`` maps ``v`` and ``u`` as autodiff does (see above):
    entrywise against ``scale`` (Σ|terms|) within ``tol`` where given, normwise within ``tol`` where
    None; and what was found, for the message."""
    v, jv, u, uj = projections
    n, m = v.size, u.size
    if closed.size != m * n:
        return False, f"shape {closed.shape} against {u.shape} x {v.shape}"
    J = closed.reshape(m, n)
    pad = 2 * max(m, n) * eps(np.float64)  # the two products' own rounding (gamma_N)
    cv, cu = J @ v.ravel(), u.ravel() @ J
    if not (np.all(np.isfinite(cv)) and np.all(np.isfinite(cu))):
        return False, "the closed form has a NaN or Inf"
    if not (np.all(np.isfinite(jv)) and np.all(np.isfinite(uj))):
        return False, "autodiff's projections have a NaN or Inf"
    if scale is None:
        def norm(a: np.ndarray) -> float:
            return float(np.linalg.norm(a.ravel()))

        worst = max(norm(cv - jv.ravel()) / (norm(v) or 1.0), norm(cu - uj.ravel()) / (norm(u) or 1.0))
        worst /= norm(J) or 1.0
        return worst <= tol + pad, f"projected relative error {worst:.2g}"
    S = np.abs(J) + np.broadcast_to(scale, closed.shape).reshape(m, n)
    bounds = ((tol + pad) * (S @ np.abs(v.ravel())), (tol + pad) * (np.abs(u.ravel()) @ S))
    worst = 0.0
    for err, bound in ((np.abs(cv - jv.ravel()), bounds[0]), (np.abs(cu - uj.ravel()), bounds[1])):
        ratio = err / np.where(bound > 0, bound, tol + pad)  # a zero row: exact within tol
        worst = max(worst, float(ratio.max(initial=0.0)))
    return worst <= 1.0, f"worst projected |error| / bound {worst:.2g}"

