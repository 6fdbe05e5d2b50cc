r"""The closed form checked against autodiff by projections, where the whole float64 Jacobian costs
more than the kernels it judges.

jacrev in float64 builds $J_{ad}$ one VJP per output (per input for a Hessian): $O(n^3)$ for the
$n = 4096$ matvec or Hessian of a memory-regime case, seconds where the kernels take milliseconds.
A Jacobian is wrong exactly when it maps some direction wrongly, so two products decide it:
with the entries of $v$ and $u$ drawn uniformly from $[-\sqrt 3, \sqrt 3]$ (zero mean, unit variance; a
fixed seed),

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

import math

import jax
import numpy as np

from jaxgrads.measure.tolerance import eps
from jaxgrads.methods.common import partial_fn

__all__ = ["PROJECT_MIN_ELEMENTS", "Projections", "autodiff_projections", "projected_verdict"]

# a closed form whose Jacobian has at least this many entries is checked by projections (a smaller
# one's whole float64 jacrev costs little and says more)
PROJECT_MIN_ELEMENTS = 2**20
# entries of one tile of the products (512 KiB of float64: it and its |J| + S stay in a core's L2)
TILE_ENTRIES = 2**16

Projections = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # v, J v, u, u^T J (float64)


def _direction(rng: np.random.Generator, shape) -> np.ndarray:
    """Entries uniform on [-sqrt(3), sqrt(3)]: zero mean and unit variance, as the argument above needs,
    a third of the time of normal ones (0.05 s against 0.17 s for the 16M entries of a memory-regime A)."""
    x = rng.random(shape)
    x -= 0.5
    x *= 2 * math.sqrt(3)
    return x


def autodiff_projections(problem, derivative, inputs64: dict[str, np.ndarray], out_shape) -> Projections:
    """``(v, J v, u, uᵀ J)`` by one JVP and one VJP in float64 on the CPU (of the gradient, for a
    Hessian); ``inputs64`` the case's inputs in float64, ``out_shape`` what the products map to (the
    case's output shape; its wrt shape for a Hessian, the gradient's).

    Every input is an argument of the compiled products, none a constant of the program: a
    memory-regime case's 128 MiB matrix folded into the program would be hashed and compiled with
    it (a second per case, for one call).
    """
    cpu = jax.devices("cpu")[0]
    args = {k: jax.device_put(v, cpu) for k, v in inputs64.items()}

    def g_of(args):
        f, w = partial_fn(problem, derivative, args)
        return (jax.grad(f) if derivative.order == 2 else f), w

    g, w = g_of(args)
    rng = np.random.default_rng(0)
    v, u = (_direction(rng, shape) for shape in (w.shape, out_shape))

    @jax.jit
    def products(args, v, u):
        g, w = g_of(args)
        jv = jax.jvp(g, (w,), (v,))[1]
        uj = jax.vjp(g, w)[1](u)[0]
        return jv, uj

    jv, uj = products(args, jax.device_put(v, cpu), jax.device_put(u, cpu))
    return v, np.asarray(jv, np.float64), u, np.asarray(uj, np.float64)


def _tiles(m: int, n: int, entries: int = TILE_ENTRIES):
    """Row and column slices covering an (m, n) matrix in tiles of about ``entries`` entries."""
    cols = min(n, entries)
    rows = max(1, entries // cols)
    for r in range(0, m, rows):
        for c in range(0, n, cols):
            yield slice(r, min(m, r + rows)), slice(c, min(n, c + cols))


def _tiled_products(J: np.ndarray, S: np.ndarray | None, v: np.ndarray, u: np.ndarray,
                    entries: int = TILE_ENTRIES):
    """``J v``, ``u J``, and with ``S`` also ``(|J| + S) |v|`` and ``|u| (|J| + S)``, one tile at a
    time: each tile of J (and S) is read once while it is in cache, and no temporary is larger
    than a tile (the whole-matrix ``|J| + S`` was two fresh float64 copies of the Jacobian)."""
    m, n = J.shape
    cv, cu = np.zeros(m), np.zeros(n)
    bv, bu = (np.zeros(m), np.zeros(n)) if S is not None else (None, None)
    av, au = np.abs(v), np.abs(u)
    for rows, cols in _tiles(m, n, entries):
        tile = J[rows, cols]
        cv[rows] += tile @ v[cols]
        cu[cols] += u[rows] @ tile
        if S is not None:
            bound = np.abs(tile)
            bound += S[rows, cols]
            bv[rows] += bound @ av[cols]
            bu[cols] += au[rows] @ bound
    return cv, cu, bv, bu


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
    S = None if scale is None else np.broadcast_to(scale, closed.shape).reshape(m, n)
    cv, cu, bv, bu = _tiled_products(J, S, v.ravel(), u.ravel())
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
    slack, worst = tol + pad, 0.0
    # in place: u^T J of a gradient's Jacobian has as many entries as J itself
    for product, autodiff, bound in ((cv, jv.ravel(), bv), (cu, uj.ravel(), bu)):
        err = np.abs(np.subtract(product, autodiff, out=product), out=product)
        bound *= slack
        bound[bound <= 0] = slack  # a zero row: exact within tol
        worst = max(worst, float(np.divide(err, bound, out=err).max(initial=0.0)))
    return worst <= 1.0, f"worst projected |error| / bound {worst:.2g}"
