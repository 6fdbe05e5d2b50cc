r"""The gate's calibration workload: ``TERMS`` stacked tanh layers, so its work scales with ``TERMS``.

$y = \sum_{k<K} \tanh(A_k x)$ with $A$ of shape (K, m, n), and
$\partial y/\partial x = \sum_k \mathrm{diag}(1 - \tanh^2(A_k x))\,A_k$. Every method's work is K
times one layer's (jacrev: m VJPs through K layers; XLA's flop count is exactly proportional),
so ``bench/studies/calibrate_gate.py`` injects an honest 10% or 20% slowdown by loading a copy of this file
with ``TERMS = 11`` or ``12`` through ``--problems-from``.
"""

import jaxgrads as jg

TERMS = 10


def workload(xp, A, x):  # A: shape=(K, m, n); x: shape=(n,)
    return xp.tanh(A @ x).sum(axis=0)


def d_workload_dx(xp, A, x):
    r"""$\sum_k \mathrm{diag}(1 - \tanh^2(A_k x)) A_k$, shape (m, n)."""
    t = xp.tanh(A @ x)
    return ((1 - t * t)[:, :, None] * A).sum(axis=0)


jg.register(
    jg.Problem(
        name="workload",
        fn=workload,
        args=("A", "x"),
        make_inputs=jg.gaussian_inputs(lambda s: {"A": (TERMS, s.m, s.n), "x": (s.n,)}),
        derivatives=(jg.Derivative("x", d_workload_dx, doc="sum_k diag(1 - tanh(A_k x)^2) A_k"),),
        dims=("m", "n"),
        scalar_output=False,
        doc=f"y = sum_k tanh(A_k x), {TERMS} terms (A: {TERMS}×m×n, x: n)",
    ),
    replace=True,
)
