r"""A method's time and peak memory predicted before it runs, from the function's unit costs and the
machine's measured ceilings: what :func:`jaxgrads.advise` ranks.

**The unit costs.** For $f: \mathbb R^n \to \mathbb R^m$ at the case's inputs, XLA's cost analysis of
three *lowered* programs (traced and lowered, never compiled: tens of milliseconds): $f$ itself
($F_p$ flops, $B_p$ bytes), one JVP ($F_j$, $B_j$) and one VJP ($F_v$, $B_v$). A direction's own
work is what the derivative adds to the primal: $\Delta F_j = F_j - F_p$, $\Delta B_j = B_j - B_p$
(likewise for the VJP), each at least the bytes of the direction's input and output, so a
derivative never comes out free.

**The machine.** The probes a run measures (:mod:`jaxgrads.sweep.context`): the flop rate $P$ (a
square matmul), the in-place bandwidth of each cache level $W(\ell)$, the dispatch floor $D$ (a
compiled no-op), and one constant measured here: $L$, a ``lax.map`` iteration's own cost
(:func:`loop_iteration_s`). A program of $F$ flops and $B$ bytes takes
$r(F, B) = \max(F / P,\ B / W(\ell(B)))$, $\ell(B)$ the level its bytes fit.

**A method** pushes $k$ directions (forward: the input's $n$; reverse: the output's $m$; colored:
its colors; per example: one example's $n/B$ or $m/B$, the whole batch's $n$ or $m$ for a method that
materializes the whole basis), $c$ at a time (``chunk_size``; all of them for a vectorized method,
one for a walk), in $S = \lceil k / c \rceil$ sequential steps:

$$ t = D + r(F_p, B_p) + S \cdot \big( r(c\,\Delta F, c\,\Delta B) + L\,[S > 1] \big) $$

and a Python loop of dispatched steps (``kind="loop"``, which redoes the forward pass every step)
$t = S\,(D + r(F_p + \Delta F, B_p + \Delta B))$. The bytes take no credit for the reuse a vmapped
program gets (a weight read once for $c$ directions), so wide chunks are predicted no cheaper per
direction than narrow ones, only free of $L$ and of dispatches: the study
(``bench/studies/advise.py``, docs/advice.md) measures what that costs the ranking. A Hessian
method's cost is its own program's, lowered (:func:`program_cost`): the three ways of nesting the
transforms differ by more than unit costs tell (forward-over-forward pushes $n^2$ directions), and
only scalar functions have one.

**Writing the result** is compulsory: a dense Jacobian's bytes $J$ (a prepared pattern's dense
form also fills its zeros, then scatters its nonzeros), a BCOO result's nonzeros and their indices
only: $r(0, \text{written})$ more.

**Peak memory** (:func:`peak_bytes`) is what XLA's buffer assignment holds at once: the inputs and
the result, and what the method holds beside them: a colored method's compressed products (colors x
rows). The identity basis a vectorized method pushes is no buffer of its own (XLA makes it inside
the fusions that use it), nor is the whole batch's Jacobian whose diagonal blocks
``jacrev_diagonal`` keeps, and an input the derivative never reads is dropped from the program. The
sweep's own estimate (:func:`jaxgrads.measure.case.device_bytes`: the Jacobian twice and the
basis) is a bound for skipping a case, not a prediction.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxgrads.measure.case import Case, colors_at_least
from jaxgrads.measure.floor import reads
from jaxgrads.measure.roofline import Ceilings

__all__ = [
    "Costs", "Prediction", "directions", "kernel_s", "loop_iteration_s", "peak_bytes", "predict",
    "program_cost", "unit_costs",
]  # fmt: skip


@dataclass(frozen=True)
class Costs:
    """XLA's (flops, bytes, kernels) of one lowered program each: the primal, one JVP, one VJP."""

    primal: tuple[float, float, float]
    jvp: tuple[float, float, float]
    vjp: tuple[float, float, float]
    seconds: float = 0.0  # what lowering the three took


@dataclass(frozen=True)
class Prediction:
    """One case's predicted time per call and peak device memory, and the model's terms."""

    case: Case
    time_s: float
    peak_bytes: int
    directions: int  # k
    steps: int  # S
    why: str = ""  # where the case is not predicted: why


# operations that XLA runs as kernels of their own (never fused into a neighbour's loop), each of
# which also ends the elementwise fusion before it
_KERNEL_OPS = re.compile(
    r"stablehlo\.(dot_general|dot|convolution|reduce|reduce_window|select_and_scatter|while|case|if|gather|"
    r"scatter|sort|custom_call|dynamic_slice|dynamic_update_slice|concatenate|transpose|pad|cholesky|"
    r"triangular_solve|fft|rng_bit_generator|reverse)\b"
)


def _lowered_cost(fn, *args) -> tuple[float, float, float]:
    """(flops, bytes, kernels) of ``fn``'s lowered program: XLA's cost analysis, and the kernels it
    runs, each kernel-of-its-own operation and the fused elementwise run before it: 2 per such
    operation, and 1."""
    from jaxgrads.compat import cost_analysis

    try:
        lowered = jax.jit(fn).lower(*args)
        kernels = 2.0 * len(_KERNEL_OPS.findall(lowered.as_text())) + 1.0
    except Exception:  # a function that cannot be lowered: nothing known
        return math.nan, math.nan, math.nan
    cost, why = cost_analysis(lowered)
    if why is not None:  # a backend or jax without the lowered analysis: nothing known
        return math.nan, math.nan, math.nan
    return float(cost.get("flops", 0.0)), float(cost.get("bytes accessed", 0.0)), kernels


def unit_costs(problem, derivative, inputs: dict) -> Costs:
    """The primal's, one JVP's and one VJP's lowered cost at ``inputs`` (arrays or shape specs)."""
    start = time.perf_counter()
    specs = {k: jax.ShapeDtypeStruct(np.shape(v), np.asarray(v).dtype) for k, v in inputs.items()}
    wrt = derivative.wrt

    def primal(kw):
        return problem.fn(jnp, **kw)

    def jvp(kw, t):
        return jax.jvp(lambda w: problem.fn(jnp, **{**kw, wrt: w}), (kw[wrt],), (t,))[1]

    out = jax.eval_shape(primal, specs)

    def vjp(kw, ct):
        return jax.vjp(lambda w: problem.fn(jnp, **{**kw, wrt: w}), kw[wrt])[1](ct)[0]

    costs = Costs(_lowered_cost(primal, specs), _lowered_cost(jvp, specs, specs[wrt]),
                  _lowered_cost(vjp, specs, jax.ShapeDtypeStruct(out.shape, out.dtype)))  # fmt: skip
    return Costs(costs.primal, costs.jvp, costs.vjp, time.perf_counter() - start)


def program_cost(case: Case, inputs: dict) -> tuple[float, float, float]:
    """(flops, bytes, kernels) of the case's own program (a ``jit`` method's), lowered at the shapes
    of ``inputs``."""
    m = case.method
    jac = m.build(case.problem, case.derivative, chunk_size=case.chunk_size) if m.chunked else m.build(
        case.problem, case.derivative
    )
    specs = {k: jax.ShapeDtypeStruct(np.shape(v), np.asarray(v).dtype) for k, v in inputs.items()}
    return _lowered_cost(jac, specs)


_PROBED: dict = {}


def _median_call_s(compiled, *args) -> float:
    jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(7):
        t = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def loop_iteration_s(device) -> float:
    """A ``lax.map`` iteration's own seconds on ``device``: a map of 2048 trivial steps against one
    of 1, the difference per step (median of 7 each); measured once per process and device."""
    from jax import lax

    def walk(k):
        x = jax.device_put(np.zeros(k, np.float32), device)
        return _median_call_s(jax.jit(lambda v: lax.map(lambda s: s * 2.0 + 1.0, v)).lower(x).compile(), x)

    key = ("loop", device)
    if key not in _PROBED:
        _PROBED[key] = max(0.0, (walk(2048) - walk(1)) / 2047)
    return _PROBED[key]


def kernel_s(device) -> float:
    """A kernel's own seconds on ``device`` beyond the dispatch of its program: a chain of 64 small
    matrix products (each its own kernel) against one, the difference per product; once per process."""

    def chain(k):
        x = jax.device_put(np.eye(8, dtype=np.float32), device)

        def f(a):
            for _ in range(k):
                a = jnp.tanh(a @ a)
            return a

        return _median_call_s(jax.jit(f).lower(x).compile(), x)

    key = ("kernel", device)
    if key not in _PROBED:
        _PROBED[key] = max(0.0, (chain(64) - chain(1)) / 63 / 2)  # a product and its tanh: 2 kernels
    return _PROBED[key]


def _rate(flops: float, nbytes: float, ceilings: Ceilings) -> float:
    """$r(F, B)$: the roofline time of a program of ``flops`` and ``nbytes``."""
    level = ceilings.level_of(nbytes)
    return max(flops / ceilings.flops_per_s, nbytes / ceilings.bandwidth[level])


def directions(case: Case, colors: int | None = None) -> int:
    """$k$: the JVPs or VJPs the method pushes (module docstring)."""
    n, m = math.prod(case.wrt_shape), math.prod(case.out_shape)
    if case.method.kind == "pattern":
        return max(1, colors if colors is not None else colors_at_least(case))
    k = m if case.method.mode == "reverse" else n
    if case.derivative.per_example and case.method.basis is None:
        k = max(1, k // max(1, case.size.batch))  # one example's: B examples at once
    return max(1, k)


def predict(case: Case, costs: Costs, ceilings: Ceilings, dispatch_s: float, loop_s: float, kernel: float,
            colors: int | None = None, whole: tuple[float, float, float] | None = None,
            nnz: int | None = None) -> Prediction:  # fmt: skip
    """The case's predicted time per call and peak memory (module docstring); ``whole``: the
    method's own lowered program's (flops, bytes, kernels), where the caller lowered it
    (:func:`program_cost`); ``colors``, ``nnz``: a prepared pattern's (else the case's bounds)."""
    peak = peak_bytes(case, colors, nnz)
    if case.method.kind in ("mesh", "peer") or case.error:
        why = case.error or f"a {case.method.kind} method is not predicted"
        return Prediction(case, math.nan, peak, 0, 0, why)
    itemsize = case.itemsize
    (fp, bp, kp), (fj, bj, kj), (fv, bv, kv) = costs.primal, costs.jvp, costs.vjp
    n, m = math.prod(case.wrt_shape), math.prod(case.out_shape)
    if whole is not None:  # the method's own program, lowered (a Hessian's)
        f, b, k_ops = whole
        t = dispatch_s + kernel * k_ops + _rate(f, b, ceilings)
        return Prediction(case, t, peak, directions(case), 1)
    pattern_rows = case.method.kind == "pattern" and case.method.mode != "forward"  # a row coloring
    reverse = case.method.mode == "reverse" or pattern_rows
    f1, b1, k1 = (fv, bv, kv) if reverse else (fj, bj, kj)
    df, db, dk = max(f1 - fp, 0.0), max(b1 - bp, itemsize * (n + m)), max(k1 - kp, 1.0)
    k = directions(case, colors)
    width = case.chunk_size or (1 if case.method.steps is not None else k)
    steps = -(-k // max(1, width))
    if case.method.kind == "loop":  # a program making J, then each step one of the forward pass and a VJP
        t = dispatch_s + steps * (dispatch_s + kernel * (kp + dk) + _rate(fp + df, bp + db, ceilings))
    else:
        each = _rate(width * df, width * db, ceilings) + kernel * dk + (loop_s if steps > 1 else 0.0)
        t = dispatch_s + kernel * kp + _rate(fp, bp, ceilings) + steps * each
    nonzeros = case.nnz if nnz is None else nnz
    sparse = nonzeros * (itemsize + 4 * len(case.jac_shape))
    if case.method.output == "bcoo":
        t += _rate(0.0, sparse, ceilings) + kernel
    elif case.method.kind == "pattern":  # the dense result's zeros, then the decompression's scatter
        t += _rate(0.0, case.jac_bytes + sparse, ceilings) + kernel
    else:
        t += _rate(0.0, case.jac_bytes, ceilings)
    return Prediction(case, t, peak, k, steps)


def peak_bytes(case: Case, colors: int | None = None, nnz: int | None = None) -> int:
    """The case's predicted peak device memory, as XLA's buffer assignment counts it (module
    docstring)."""
    itemsize = case.itemsize
    # XLA drops an argument the program never reads: the inputs a closed form reads (the floor's
    # compulsory reads); every input of a function without one
    closed = case.derivative.closed_form is not None
    used = reads(case.problem, case.derivative) if closed else case.problem.args
    inputs = itemsize * sum(math.prod(s) for a, s in case.args if a in used)
    nonzeros = case.nnz if nnz is None else nnz
    result = nonzeros * (itemsize + 4 * len(case.jac_shape)) if case.output == "bcoo" else case.jac_bytes
    held = 0
    if case.method.kind == "pattern":  # the compressed products: one row (or column) per color
        n = math.prod(case.wrt_shape)
        rows = math.prod(case.jac_shape) // max(1, n)
        held = itemsize * (colors or colors_at_least(case)) * (rows if case.method.mode == "forward" else n)
    return inputs + result + held
