"""Problem records and the one registry that the CLI, the runner, the tests and plug-ins share.

A problem is a frozen bundle of pure functions written against an array namespace ``xp`` (NumPy or
``jax.numpy``), so the same closed form runs as a JIT-compiled kernel and as a float64 NumPy
reference on the host.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jaxgrads.validation import JaxgradsError, choose

__all__ = [
    "DIMS",
    "Derivative",
    "Problem",
    "Size",
    "gaussian_inputs",
    "get_problem",
    "list_problems",
    "nonzeros",
    "problem_names",
    "register",
    "unregister",
]

DIMS = ("m", "n", "batch")
ArrayFn = Callable[..., Any]  # (xp, **inputs) -> array


@dataclass(frozen=True)
class Size:
    """The dimensions of one benchmark case; a problem uses some of them (0 = unused)."""

    m: int = 1  # output rows: A is m×n, W is n×m
    n: int = 1  # input length
    batch: int = 1  # rows of x in the linear layer


@dataclass(frozen=True)
class Derivative:
    r"""One differentiation target of a problem: $\partial^{order} f / \partial\,wrt^{order}$.

    Attributes:
      wrt: the argument differentiated with respect to.
      closed_form: ``(xp, **inputs) -> J`` in JAX's layout, ``out.shape + wrt.shape`` (order 1) or
        ``wrt.shape + wrt.shape`` (order 2, scalar output); None where no closed form is known.
      textbook: the literal textbook form where it costs differently from ``closed_form``.
      order: 1 for the Jacobian, 2 for the Hessian.
      linear: whether ``f`` is linear in ``wrt`` with the other inputs fixed (``linear_transpose``).
      doc: the math, one line.
      min_flops: ``size -> flops``, the fewest floating-point operations that compute the
        derivative (the closed form's, counted by hand); None counts 0, which is always a lower
        bound (:mod:`jaxgrads.measure.floor`).
      sparsity: ``input shapes -> (rows, cols)``, the structural nonzeros of the Jacobian flattened
        to (out.size, wrt.size), declared from the closed form (true for every input value); None:
        dense, every entry (:mod:`jaxgrads.methods.colored` then uses one color per column).
      per_example: the per-example Jacobians of a batch: ``wrt`` and the output share a leading
        axis of B examples, and the target is $J_b = \partial f(x)_b / \partial x_b$ for each b, in the
        layout ``(B, *out.shape[1:], *wrt.shape[1:])`` (what ``jax.vmap(jax.jacrev(f_1))`` returns
        for ``f_1`` the function of one example); only the per-example methods apply.
    """

    wrt: str
    closed_form: ArrayFn | None
    textbook: ArrayFn | None = None
    order: int = 1
    linear: bool = False
    doc: str = ""
    min_flops: Callable[[Size], float] | None = None
    sparsity: Callable[[Mapping[str, tuple[int, ...]]], tuple[np.ndarray, np.ndarray]] | None = None
    per_example: bool = False

    @property
    def name(self) -> str:
        """``x`` for the Jacobian in x, ``xx`` for the Hessian in x."""
        return self.wrt * self.order

    def layout(self, out: tuple[int, ...], wrt: tuple[int, ...]) -> tuple[int, ...]:
        """The derivative's shape for an output of shape ``out`` and an argument of shape ``wrt``:
        ``out + wrt`` (a Jacobian), ``wrt + wrt`` (a Hessian), ``(B, *out[1:], *wrt[1:])`` (the
        per-example Jacobians of a batch of B). The one place the layout is decided."""
        if self.order == 2:
            return (*wrt, *wrt)
        if self.per_example:
            return (*out[:1], *out[1:], *wrt[1:])
        return (*out, *wrt)


@dataclass(frozen=True)
class Problem:
    r"""A function to differentiate and its known derivatives.

    Attributes:
      name: registry key, e.g. ``quadratic``.
      fn: ``(xp, **inputs) -> output``.
      args: argument names, in the order kernels take them.
      make_inputs: ``(size, dtype, rng) -> {arg: np.ndarray}``, seeded through ``rng``.
      derivatives: the targets; their names are the problem's valid ``wrt`` values.
      dims: which of m, n, batch the problem uses.
      scalar_output: whether ``fn`` returns a scalar (``grad`` applies).
      doc: the function's math, one line.
      componentwise: every closed form is a polynomial in the inputs with non-negative coefficients
        (or each entry a single term), so evaluated on the inputs' absolute values it bounds each
        entry's $\sum|\text{terms}|$ and the accuracy check may be componentwise
        (:mod:`jaxgrads.measure.tolerance`); otherwise (the default, any function) it is normwise.
    """

    name: str
    fn: ArrayFn
    args: tuple[str, ...]
    make_inputs: Callable[[Size, np.dtype, np.random.Generator], dict[str, np.ndarray]]
    derivatives: tuple[Derivative, ...]
    dims: tuple[str, ...]
    scalar_output: bool
    doc: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    componentwise: bool = False

    @property
    def wrt_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.derivatives)

    def derivative(self, wrt: str) -> Derivative:
        """The target named ``wrt`` (``x``, ``A``, ``xx``, ...); raises naming the valid ones."""
        choose(f"wrt for problem {self.name!r}", wrt, self.wrt_names)
        return next(d for d in self.derivatives if d.name == wrt)

    def canonical(self, size: Size) -> Size:
        """``size`` with the dimensions this problem does not use set to 0, so duplicates merge."""
        return Size(**{d: (getattr(size, d) if d in self.dims else 0) for d in DIMS})

    def inputs(self, size: Size, dtype: np.dtype, seed: int = 0) -> dict[str, np.ndarray]:
        """Seeded host inputs in ``dtype``, in argument order."""
        made = self.make_inputs(size, np.dtype(dtype), np.random.default_rng(seed))
        return {a: made[a] for a in self.args}


def gaussian_inputs(
    shapes: Callable[[Size], dict[str, tuple[int, ...]]], symmetric: tuple[str, ...] = ()
) -> Callable[[Size, np.dtype, np.random.Generator], dict[str, np.ndarray]]:
    """An input maker drawing standard normals in float64, then rounding to the dtype.

    Args:
      shapes: maps a size to each argument's shape.
      symmetric: square arguments replaced by $(S + S^T)/2$.
    """

    def make(size: Size, dtype: np.dtype, rng: np.random.Generator) -> dict[str, np.ndarray]:
        out = {}
        for name, shape in shapes(size).items():
            a = rng.standard_normal(shape)
            if a.size and not any(a.strides):  # a shape-only draw (the planner's): no memory
                out[name] = np.broadcast_to(np.zeros((), dtype), np.shape(a))
                continue
            if name in symmetric:
                a = (a + a.T) / 2
            out[name] = a.astype(dtype)
        return out

    return make


_REGISTRY: dict[str, Problem] = {}


def register(problem: Problem, *, replace: bool = False) -> Problem:
    """Adds ``problem`` to the registry: the call the built-ins and user plug-ins both use."""
    if not isinstance(problem, Problem):
        raise JaxgradsError(f"register() takes a Problem, got {type(problem).__name__}")
    if problem.name in _REGISTRY and not replace:
        raise JaxgradsError(
            f"problem {problem.name!r} is already registered; pass replace=True to override it"
        )
    unknown = set(problem.dims) - set(DIMS)
    if unknown:
        raise JaxgradsError(f"problem {problem.name!r}: unknown dims {sorted(unknown)}; valid: m, n, batch")
    for d in problem.derivatives:
        choose(f"wrt argument of problem {problem.name!r}", d.wrt, problem.args)
        if d.order == 2 and not problem.scalar_output:
            raise JaxgradsError(f"problem {problem.name!r}: a Hessian needs a scalar output")
    _REGISTRY[problem.name] = problem
    return problem


def unregister(name: str) -> None:
    """Removes a problem (tests and plug-in reloads)."""
    _REGISTRY.pop(name, None)


def get_problem(name: str) -> Problem:
    """The registered problem called ``name``; raises naming the registered ones."""
    return _REGISTRY[choose("problem", name, _REGISTRY)]


def problem_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def list_problems() -> tuple[Problem, ...]:
    return tuple(_REGISTRY.values())


def nonzeros(derivative: Derivative, shapes: Mapping[str, tuple[int, ...]], out_shape) -> int:
    """The Jacobian's structural nonzeros: the declared pattern's size, or every entry of its layout
    (a Hessian, per-example Jacobians, or a derivative without a declared pattern)."""
    if derivative.sparsity is None or derivative.order == 2:
        return math.prod(derivative.layout(tuple(out_shape), tuple(shapes[derivative.wrt])))
    return int(np.asarray(derivative.sparsity(shapes)[0]).size)
