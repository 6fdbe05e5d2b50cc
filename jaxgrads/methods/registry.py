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
    "KINDS",
    "METHODS",
    "Method",
    "applicable_methods",
    "default_methods",
    "expand_methods",
    "get_method",
    "method_names",
    "reference_method",
    "register_method",
    "role_method",
]

# a method's build step: how the measure layer turns it into compiled programs
# (:mod:`jaxgrads.measure.compile`): one jitted program; a Python loop of a jitted step; a prepared
# pattern (``prepare`` first, timed apart, then one jitted program); one program over a device mesh;
# a peer's own ``compile``
KINDS = ("jit", "loop", "pattern", "mesh", "peer")


@dataclass(frozen=True)
class Method:
    """A way to compute a derivative.

    Attributes:
      name: registry key, e.g. ``jacrev``.
      order: 1 (Jacobian), 2 (Hessian), or None for a closed form of either order.
      build: ``(problem, derivative) -> jac(inputs)``, a traceable function; for ``kind="loop"`` it is
        ``(problem, derivative) -> step(J, inputs, i)`` that fills row i of J.
      kind: the build step (:data:`KINDS`): ``jit`` (one compiled program), ``loop`` (a Python loop
        over a compiled step), ``pattern`` (``prepare`` first; ``build`` takes what it made),
        ``mesh`` (``build`` takes the device mesh), ``peer`` (``compile`` builds it its own way).
      scalar_only: needs a scalar output (``grad``).
      linear_only: needs ``f`` linear in the argument (``linear_transpose``).
      needs: ``closed_form`` or ``textbook`` where the method evaluates that form.
      basis: the identity basis the method materializes at once: ``in`` (one tangent per input
        element), ``out`` (one cotangent per output element) or None; the memory estimate uses it.
      steps: what the method walks one element at a time (``in`` or ``out``), or None: its number of
        sequential steps, which the runner caps.
      chunked: ``build`` takes ``chunk_size``: that many basis vectors per step (memory ~ chunk).
      backend: ``jax``, or a peer's (:mod:`jaxgrads.peers`): ``torch`` (PyTorch), ``asdex`` (automatic
        sparse differentiation), ``numpy`` (the closed form in NumPy); :data:`BACKENDS`.
      family: ``vectorized``, ``walk``, ``chunked``, ``sharded``, ``colored``, ``hessian``, ``per_example`` or
        ``closed_form``: a label for listings and the user; nothing outside the family's own module
        tests it (the build step and the traits below say what a method needs). A ``mesh``
        method's ``build`` takes the device mesh (``build(problem, derivative, mesh)``) and returns
        its padded block of rows or columns split over it (:mod:`jaxgrads.methods.sharded`).
      mode: ``forward`` or ``reverse`` where the method has one.
      prepare: ``(problem, derivative, host inputs) -> prepared``, work done once per case before
        compiling and timed apart (``prep_s``): a colored method's sparsity pattern and coloring;
        ``build`` then takes it as a third argument and it says ``nnz`` and ``colors``.
      output: ``dense`` (an array in the closed form's layout) or ``bcoo`` (a
        ``jax.experimental.sparse.BCOO`` of that shape).
      opt_in: runs in a sweep only when named (the colored methods: the structure preset's);
        a ``mesh`` method runs by default only when the run has more than one device.
      per_example: computes the per-example Jacobians of a batch (``Derivative.per_example``), and
        only those: :mod:`jaxgrads.methods.batched`.
      roles: what reports and references single it out for: ``closed_form`` (every time is divided
        by it), ``textbook``, ``forward`` and ``reverse`` (the cost model's modes), ``reference``
        (the autodiff reference of its order where a closed form is missing or untrusted).
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
    opt_in: bool = False
    per_example: bool = False
    roles: frozenset[str] = frozenset()
    doc: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise JaxgradsError(f"method {self.name!r}: kind {self.kind!r}; valid: {', '.join(KINDS)}")
        needs = {"pattern": ("prepare", self.prepare), "peer": ("compile", self.compile)}
        if self.kind in needs and needs[self.kind][1] is None:
            step = needs[self.kind][0]
            raise JaxgradsError(f"method {self.name!r}: kind {self.kind!r} needs a {step} step")
        object.__setattr__(self, "roles", frozenset(self.roles))

    @property
    def needs_mesh(self) -> bool:
        """Whether the kernel runs on a device mesh (its row's ``devices`` is the mesh's size)."""
        return self.kind == "mesh"

    @property
    def xla_dispatch(self) -> bool:
        """Whether every call dispatches a compiled XLA program, so that the floor's dispatch term (a
        compiled no-op's time) bounds it; a peer's call does not (NumPy's is a plain host call)."""
        return self.kind != "peer"

    def applies(self, problem: Problem, derivative: Derivative) -> bool:
        """Whether this method computes ``derivative`` of ``problem``."""
        return (
            self.order in (None, derivative.order)
            and (problem.scalar_output or not self.scalar_only)
            and (derivative.linear or not self.linear_only)
            and (self.needs is None or getattr(derivative, self.needs) is not None)
            and self.per_example == derivative.per_example
        )


METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Adds ``method`` to the registry (in registration order, which listings keep)."""
    if method.name in METHODS:
        raise JaxgradsError(f"method {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def role_method(
    role: str, *, backend: str = "jax", order: int | None = None, per_example: bool = False
) -> str:
    """The first registered method of ``backend`` with ``role`` (see :class:`Method`), of ``order``
    where given (a method of either order qualifies), for per-example Jacobians or not."""
    for name, m in METHODS.items():
        if (role in m.roles and m.backend == backend and (order is None or m.order in (None, order))
                and m.per_example == per_example):  # fmt: skip
            return name
    raise JaxgradsError(f"no {backend} method with the role {role!r} (order {order}) is registered")


def reference_method(order: int, per_example: bool = False) -> str:
    """The autodiff reference for a derivative of ``order``: jacrev, or forward-over-reverse; for
    per-example Jacobians, the block diagonal of jacrev (exact whether or not the examples are
    independent)."""
    return role_method("reference", order=order, per_example=per_example)


BACKENDS = ("jax", "torch", "asdex", "numpy")  # the names --methods accepts as groups
DEFAULT_BACKENDS = ("jax", "numpy")  # what a sweep runs unnamed: the NumPy closed form needs no extra


def default_methods(devices: int) -> list[str]:
    """What a sweep runs when no method is named: every JAX method but the opt-in ones (and the
    mesh methods only on more than one device), and the closed form in NumPy beside them."""
    return [n for n, m in METHODS.items() if m.backend in DEFAULT_BACKENDS and not m.opt_in
            and (devices > 1 or not m.needs_mesh)]  # fmt: skip


def expand_methods(names) -> list[str]:
    """Method names with the groups (:data:`BACKENDS`: ``jax``, ``torch``, ``asdex``, ``numpy``)
    expanded to their backend's methods."""
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
