r"""The floor of one kernel: the least time any method can take for its derivative on this device.

A derivative has a compulsory cost whatever the method (Hong and Kung's compulsory traffic):

- **traffic**: the inputs its value depends on, read once, plus the Jacobian, written once, in
  bytes. Which inputs that is comes from the closed form: the arguments its jaxpr reads (shapes
  alone do not count: $\partial(Ax)/\partial A = \delta_{ik} x_l$ reads x, not A). A derivative
  without a closed form is charged the Jacobian alone.
- **flops**: the fewest the closed form needs (``Derivative.min_flops``; 0 where undeclared, which
  is always a lower bound: placing entries, as in $\partial(Ax)/\partial x = A$, costs none).

With the run's ceilings (:mod:`jaxgrads.measure.roofline`) and dispatch floor $t_d$,

$$t_\text{floor} = \max\Big(t_d,\ \frac{R + W}{B_\ell},\ \frac{\text{flops}}{P}\Big),
  \qquad \text{floor\_frac} = t_\text{floor} / t,$$

with $t_d$ 0 for a peer's call, which dispatches no XLA program (:func:`dispatch_term`), and
$B_\ell$ the bandwidth of the smallest level $\ell$ that holds the working set $R + W$. An
output of at least the first-touch size is written at the first-touch rate instead when that is
slower: $R / B_{\ell(R)} + W / B_\text{first-touch}$. That rate is XLA's allocator's (fresh 4 KiB
pages); a peer allocates its own output (NumPy asks Linux for huge pages, and wrote a fresh 64 MiB
Jacobian faster than XLA's first-touch rate allows), so a peer's floor has no first-touch term
(:func:`method_floor`).
``floor_level`` names the term that binds:
``dispatch``, ``L1``, ``L2``, ``L3``, ``memory``, ``first-touch`` or ``compute``. ``floor_frac`` is 1
at the limit, 0.1 ten times above it; below :data:`INVARIANT` it is a defect of the floor, not a
fast kernel, and the report names the kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np

from jaxgrads.measure.roofline import FIRST_TOUCH, Ceilings
from jaxgrads.methods.registry import METHODS
from jaxgrads.problems.registry import Derivative, Problem, Size

__all__ = ["INVARIANT", "REGIMES", "Floor", "Traffic", "compulsory", "dispatch_term", "kernel_floor",
           "method_floor", "regime", "reads"]  # fmt: skip

# no kernel may run faster than this fraction of its floor: the timing's own spread is a few percent
INVARIANT = 0.9
# the bounding levels, grouped into the regimes the report counts
REGIMES = {"dispatch": "dispatch", "L1": "cache", "L2": "cache", "L3": "cache", "memory": "memory",
           FIRST_TOUCH: "memory", "compute": "compute"}  # fmt: skip


@dataclass(frozen=True)
class Traffic:
    """A derivative's compulsory cost: bytes read, bytes written, flops."""

    read_bytes: int
    write_bytes: int
    flops: float

    @property
    def bytes(self) -> int:
        return self.read_bytes + self.write_bytes


@dataclass(frozen=True)
class Floor:
    seconds: float
    level: str  # the binding term (module docstring)


_READS: dict[tuple, tuple[str, ...]] = {}


def reads(problem: Problem, derivative: Derivative) -> tuple[str, ...]:
    """The arguments the derivative's value depends on: those its closed form's jaxpr reads.

    Traced once per target at a small size; () without a closed form or where tracing fails (a
    plug-in's closed form that needs particular sizes): the floor then charges the Jacobian alone.
    """
    key = (problem.name, problem.args, derivative)
    if key not in _READS:
        _READS[key] = _traced_reads(problem, derivative)
    return _READS[key]


def _traced_reads(problem: Problem, derivative: Derivative) -> tuple[str, ...]:
    import jax.numpy as jnp

    if derivative.closed_form is None:
        return ()
    try:
        small = problem.inputs(problem.canonical(Size(3, 2, 2)), np.dtype("float32"))
        specs = [jax.ShapeDtypeStruct(small[a].shape, small[a].dtype) for a in problem.args]
        form = derivative.closed_form
        closed = jax.make_jaxpr(lambda *xs: form(jnp, **dict(zip(problem.args, xs, strict=True))))(*specs)
    except Exception:  # noqa: BLE001 - a plug-in's closed form: charged the Jacobian alone
        return ()
    try:
        from jax.extend.core import Literal  # constants in a jaxpr: not arguments, and unhashable
    except ImportError:  # an older jax
        from jax.core import Literal

    variables = [*(v for eqn in closed.jaxpr.eqns for v in eqn.invars), *closed.jaxpr.outvars]
    used = {v for v in variables if not isinstance(v, Literal)}
    return tuple(a for a, v in zip(problem.args, closed.jaxpr.invars, strict=True) if v in used)


def compulsory(problem: Problem, derivative: Derivative, size: Size, shapes, dtype) -> Traffic:
    """The compulsory traffic and flops of ``derivative``.

    Args:
      problem, derivative: the target.
      size: the case's dimensions (for ``Derivative.min_flops``).
      shapes: ``(output shape, wrt shape, {arg: shape})``, as :attr:`jaxgrads.measure.case.Case.shapes`.
      dtype: the case's dtype.
    """
    out, wrt, inputs = shapes
    itemsize = np.dtype(dtype).itemsize
    read = sum(math.prod(inputs[a]) for a in reads(problem, derivative)) * itemsize
    jac = derivative.layout(tuple(out), tuple(wrt))
    flops = float(derivative.min_flops(size)) if derivative.min_flops else 0.0
    return Traffic(read, math.prod(jac) * itemsize, flops)


def dispatch_term(method: str, dispatch_s: float) -> float:
    """The dispatch term of ``method``'s floor: the compiled no-op's time where each call dispatches an
    XLA program, 0 for a peer (a NumPy call dispatches nothing, and may well beat XLA's no-op)."""
    known = METHODS.get(method)
    return dispatch_s if known is None or known.xla_dispatch else 0.0  # as method_floor decides


def kernel_floor(traffic: Traffic, ceilings: Ceilings, dispatch_s: float, fresh_pages: bool = True) -> Floor:
    """The floor of a kernel with ``traffic`` under ``ceilings`` (module docstring); ``fresh_pages``:
    whether a large output is written on XLA's fresh pages, at the first-touch rate."""
    level = ceilings.level_of(traffic.bytes)
    terms = {"dispatch": dispatch_s, "compute": traffic.flops / ceilings.flops_per_s}
    moving = traffic.bytes / ceilings.bandwidth[level]
    if (fresh_pages and traffic.write_bytes >= ceilings.first_touch_min_bytes
            and math.isfinite(ceilings.first_touch_bytes_per_s)):  # fmt: skip
        fresh = traffic.read_bytes / ceilings.bandwidth[ceilings.level_of(traffic.read_bytes)] + (
            traffic.write_bytes / ceilings.first_touch_bytes_per_s
        )
        if fresh > moving:
            level, moving = FIRST_TOUCH, fresh
    terms[level] = moving
    binding = max(terms, key=lambda k: terms[k] if math.isfinite(terms[k]) else -1.0)
    return Floor(terms[binding], binding)


def method_floor(method: str, traffic: Traffic, ceilings: Ceilings, dispatch_s: float) -> Floor:
    """The floor of ``method``'s kernel: an XLA program's pays the dispatch floor and XLA's first
    touch of a large output; a peer's call pays neither (its library dispatches and allocates)."""
    known = METHODS.get(method)
    xla = known is None or known.xla_dispatch
    return kernel_floor(traffic, ceilings, dispatch_s if xla else 0.0, fresh_pages=xla)


def regime(level: str) -> str:
    """``dispatch``, ``cache``, ``memory`` or ``compute`` for a ``floor_level``."""
    return REGIMES.get(level, "unknown")
