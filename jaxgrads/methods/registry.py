r"""The method registry: what a method is, which derivatives it applies to, and where reports look.

Every method returns the Jacobian in the closed form's layout: ``out.shape + wrt.shape`` for order 1,
``wrt.shape + wrt.shape`` for a Hessian. Cost model for $f: \mathbb R^n \to \mathbb R^m$: forward mode
pushes n tangents (one JVP per input), reverse mode pulls m cotangents (one VJP per output), so
forward wins when $n < m$ and reverse when $m < n$.

Applicability is data here (order, scalar output, linearity, a known closed form), so the registry
answers "does this method apply?" before anything is traced. Methods register themselves
(:func:`register_method`): the JAX families in this package, a peer in :mod:`jaxgrads.peers`; the
registry imports neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax

from jaxgrads.errors import JaxgradsError
from jaxgrads.problems.registry import Derivative, Problem
from jaxgrads.validation import choose

__all__ = [
    "BACKENDS",
    "METHODS",
    "Method",
    "applicable_methods",
    "expand_methods",
    "get_method",
    "method_names",
    "register_method",
    "representative",
]


@dataclass(frozen=True)
class Method:
    """A way to compute a derivative.

    Attributes:
      name: registry key, e.g. ``jacrev``.
      order: 1 (Jacobian), 2 (Hessian), or None for a closed form of either order.
      build: ``(problem, derivative) -> jac(inputs)``, a traceable function; for ``kind="loop"`` it is
        ``(problem, derivative) -> step(J, inputs, i)`` that fills row i of J.
      kind: ``jit`` (one compiled program) or ``loop`` (a Python loop over a compiled step).
      scalar_only: needs a scalar output (``grad``).
      linear_only: needs ``f`` linear in the argument (``linear_transpose``).
      needs: ``closed_form`` or ``textbook`` where the method evaluates that form.
      basis: the identity basis the method materializes at once: ``in`` (one tangent per input
        element), ``out`` (one cotangent per output element) or None; the memory estimate uses it.
      steps: what the method walks one element at a time (``in`` or ``out``), or None: its number of
        sequential steps, which the runner caps.
      chunked: ``build`` takes ``chunk_size``: that many basis vectors per step (memory ~ chunk).
      backend: ``jax``, or ``torch`` for the PyTorch peer (see :mod:`jaxgrads.peers.torch`).
      family: ``vectorized``, ``walk``, ``chunked``, ``sharded``, ``colored``, ``hessian`` or
        ``closed_form``; a
        ``sharded`` method's ``build`` takes the device mesh (``build(problem, derivative, mesh)``),
        returns its padded block of rows or columns split over it (:mod:`jaxgrads.methods.sharded`),
        and runs in a sweep when named or when the run has more than one device.
      mode: ``forward`` or ``reverse`` where the method has one.
      prepare: ``(problem, derivative, host inputs) -> prepared``, work done once per case before
        compiling and timed apart (``prep_s``): a colored method's sparsity pattern and coloring;
        ``build`` then takes it as a third argument and it says ``nnz`` and ``colors``.
      output: ``dense`` (an array in the closed form's layout) or ``bcoo`` (a
        ``jax.experimental.sparse.BCOO`` of that shape).
      doc: one line.
    """

    name: str
    order: int | None
    build: Callable[[Problem, Derivative], Callable[..., jax.Array]]
    kind: str = "jit"
    scalar_only: bool = False
    linear_only: bool = False
    needs: str | None = None
    basis: str | None = None
    steps: str | None = None
    chunked: bool = False
    backend: str = "jax"
    family: str = "vectorized"
    mode: str | None = None
    compile: Callable[..., tuple[Any, Callable, float]] | None = None
    prepare: Callable[..., Any] | None = None
    output: str = "dense"
    doc: str = ""

    def applies(self, problem: Problem, derivative: Derivative) -> bool:
        """Whether this method computes ``derivative`` of ``problem``."""
        return (
            self.order in (None, derivative.order)
            and (problem.scalar_output or not self.scalar_only)
            and (derivative.linear or not self.linear_only)
            and (self.needs is None or getattr(derivative, self.needs) is not None)
        )


METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Adds ``method`` to the registry (in registration order, which listings keep)."""
    if method.name in METHODS:
        raise JaxgradsError(f"method {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def representative(
    family: str, mode: str | None = None, *, backend: str = "jax", textbook: bool = False
) -> str:
    """The first registered method of a family (and mode): what reports single out by role (the
    closed form ``analytic``, or with ``textbook`` its literal form; ``jacfwd`` and ``jacrev`` for
    the vectorized modes)."""
    for name, m in METHODS.items():
        if m.family == family and m.backend == backend and (mode is None or m.mode == mode):
            if (m.needs == "textbook") == textbook:
                return name
    raise JaxgradsError(f"no {backend} method of family {family!r} (mode {mode}) is registered")


BACKENDS = ("jax", "torch", "asdex")  # the names --methods accepts as groups


def expand_methods(names) -> list[str]:
    """Method names with the groups ``jax`` and ``torch`` expanded to their backend's methods."""
    out = []
    for name in names:
        if name in BACKENDS:
            out += [m for m, meth in METHODS.items() if meth.backend == name]
        else:
            out.append(choose("method", name, [*METHODS, *BACKENDS]))
    return list(dict.fromkeys(out))


def method_names() -> tuple[str, ...]:
    return tuple(METHODS)


def get_method(name: str) -> Method:
    """The method called ``name``; raises naming the valid ones."""
    return METHODS[choose("method", name, METHODS)]


def applicable_methods(problem: Problem, wrt: str) -> tuple[str, ...]:
    """Names of the methods that compute ``problem``'s derivative ``wrt``, in registry order."""
    derivative = problem.derivative(wrt)
    return tuple(name for name, m in METHODS.items() if m.applies(problem, derivative))
