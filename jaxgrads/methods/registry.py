r"""The ways to compute a Jacobian, and which of them apply to which derivative.

Every method returns the Jacobian in the closed form's layout: ``out.shape + wrt.shape`` for order 1,
``wrt.shape + wrt.shape`` for a Hessian. Cost model for $f: \mathbb R^n \to \mathbb R^m$: forward mode
pushes n tangents (one JVP per input), reverse mode pulls m cotangents (one VJP per output), so
forward wins when $n < m$ and reverse when $m < n$.

Applicability is data here (order, scalar output, linearity, a known closed form), so the registry
answers "does this method apply?" before anything is traced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxgrads.peers import torch as torch_backend
from jaxgrads.problems.registry import Derivative, Problem
from jaxgrads.validation import choose

__all__ = [
    "METHODS",
    "Method",
    "applicable_methods",
    "get_method",
    "method_names",
    "partial_fn",
]

Inputs = dict[str, jax.Array]
JacFn = Callable[[Inputs], jax.Array]


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
    doc: str = ""

    def applies(self, problem: Problem, derivative: Derivative) -> bool:
        """Whether this method computes ``derivative`` of ``problem``."""
        return (
            self.order in (None, derivative.order)
            and (problem.scalar_output or not self.scalar_only)
            and (derivative.linear or not self.linear_only)
            and (self.needs is None or getattr(derivative, self.needs) is not None)
        )


def partial_fn(problem: Problem, derivative: Derivative, inputs: Inputs) -> tuple[Callable, Any]:
    """``f(w)``: the problem as a function of the differentiated argument alone, and ``w`` itself."""

    def f(w):
        return problem.fn(jnp, **{**inputs, derivative.wrt: w})

    return f, inputs[derivative.wrt]


def _basis(n: int, shape: tuple[int, ...], dtype) -> jax.Array:
    """The n unit vectors, each reshaped to ``shape``: an (n, *shape) identity."""
    return jnp.eye(n, dtype=dtype).reshape((n, *shape))


def _columns_to_jacobian(cols: jax.Array, out_shape, in_shape) -> jax.Array:
    """(in.size, *out.shape) JVP columns -> (*out.shape, *in.shape)."""
    n_in = cols.shape[0]
    return cols.reshape(n_in, -1).T.reshape((*out_shape, *in_shape))


def _ad(transform: Callable) -> Callable[[Problem, Derivative], JacFn]:
    def build(problem, derivative):
        def jac(inputs):
            f, w = partial_fn(problem, derivative, inputs)
            return transform(f)(w)

        return jac

    return build


def _closed(attr: str) -> Callable[[Problem, Derivative], JacFn]:
    def build(problem, derivative):
        form = getattr(derivative, attr)

        def jac(inputs):
            return form(jnp, **inputs)

        return jac

    return build


def _linearize(problem, derivative):
    """One linearization, then the linear map vmapped over the whole input basis."""

    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        y, f_jvp = jax.linearize(f, w)
        cols = jax.vmap(f_jvp)(_basis(w.size, w.shape, w.dtype))
        return _columns_to_jacobian(cols, y.shape, w.shape)

    return jac


def _linear_transpose(problem, derivative):
    """The transposed linear map, vmapped over the output basis: rows of J directly."""

    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        y = jax.eval_shape(f, w)
        f_t = jax.linear_transpose(f, w)
        rows = jax.vmap(lambda ct: f_t(ct)[0])(_basis(y.size, y.shape, y.dtype))
        return rows.reshape((*y.shape, *w.shape))

    return jac


def _map_vjp(problem, derivative, chunk_size=None):
    """VJPs over the output basis under ``lax.map``: one basis vector at a time, or ``chunk_size``
    of them vmapped together per step (``lax.map``'s ``batch_size``), which trades memory for speed."""

    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        y, vjp = jax.vjp(f, w)

        def row(i):
            ct = jax.nn.one_hot(i, y.size, dtype=y.dtype).reshape(y.shape)
            return vjp(ct)[0]

        rows = lax.map(row, jnp.arange(y.size), batch_size=chunk_size)
        return rows.reshape((*y.shape, *w.shape))

    return jac


def _map_jvp(problem, derivative, chunk_size=None):
    """JVPs over the input basis under ``lax.map`` after a single linearization, one basis vector at
    a time or ``chunk_size`` vmapped together per step."""

    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        y, f_jvp = jax.linearize(f, w)

        def col(j):
            return f_jvp(jax.nn.one_hot(j, w.size, dtype=w.dtype).reshape(w.shape))

        cols = lax.map(col, jnp.arange(w.size), batch_size=chunk_size)
        return _columns_to_jacobian(cols, y.shape, w.shape)

    return jac


def _loop_vjp_step(problem, derivative):
    """The notes' ``y[i].backward()`` loop: a compiled step that fills row i of J with one VJP.

    The forward pass is recomputed in every step (JAX keeps no graph between calls); J is donated so
    each step updates it in place.
    """

    def step(J, inputs, i):
        f, w = partial_fn(problem, derivative, inputs)
        y, vjp = jax.vjp(f, w)
        ct = jax.nn.one_hot(i, y.size, dtype=y.dtype).reshape(y.shape)
        g = vjp(ct)[0]
        return J.reshape(y.size, -1).at[i].set(g.reshape(-1)).reshape(J.shape)

    return step


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("jacfwd", 1, _ad(jax.jacfwd), basis="in", doc="jax.jacfwd: vmap of JVPs over the input basis"),
        Method(
            "jacrev", 1, _ad(jax.jacrev), basis="out", doc="jax.jacrev: vmap of VJPs over the output basis"
        ),
        Method("grad", 1, _ad(jax.grad), scalar_only=True, doc="jax.grad: one VJP (scalar output)"),
        Method("linearize", 1, _linearize, basis="in", doc="jax.linearize once, vmap the linear map"),
        Method(
            "linear_transpose",
            1,
            _linear_transpose,
            linear_only=True,
            basis="out",
            doc="jax.linear_transpose of f (linear in the argument), vmap over outputs",
        ),
        Method(
            "loop_vjp",
            1,
            _loop_vjp_step,
            kind="loop",
            steps="out",
            doc="Python loop over a jitted VJP, one output element per call (the notes' pattern)",
        ),
        Method("map_vjp", 1, _map_vjp, steps="out", doc="lax.map of VJPs over output elements (low memory)"),
        Method("map_jvp", 1, _map_jvp, steps="in", doc="lax.map of JVPs over input elements (low memory)"),
        Method(
            "jacrev_chunked",
            1,
            _map_vjp,
            steps="out",
            basis="out",
            chunked=True,
            doc="VJPs vmapped over chunk_size output basis vectors at a time, lax.map over chunks",
        ),
        Method(
            "jacfwd_chunked",
            1,
            _map_jvp,
            steps="in",
            basis="in",
            chunked=True,
            doc="JVPs vmapped over chunk_size input basis vectors at a time, lax.map over chunks",
        ),
        Method(
            "hessian_fwd_rev",
            2,
            _ad(lambda f: jax.jacfwd(jax.jacrev(f))),
            basis="in",
            doc="forward-over-reverse, what jax.hessian does",
        ),
        Method(
            "hessian_rev_rev",
            2,
            _ad(lambda f: jax.jacrev(jax.jacrev(f))),
            basis="in",
            doc="reverse-over-reverse",
        ),
        Method(
            "hessian_fwd_fwd",
            2,
            _ad(lambda f: jax.jacfwd(jax.jacfwd(f))),
            basis="in",
            doc="forward-over-forward",
        ),
        Method("analytic", None, _closed("closed_form"), needs="closed_form", doc="the fast closed form"),
        Method(
            "analytic_textbook",
            None,
            _closed("textbook"),
            needs="textbook",
            doc="the literal textbook closed form",
        ),
        Method(
            "torch_jacrev", 1, torch_backend.jacrev, basis="out", backend="torch", doc="torch.func.jacrev"
        ),
        Method("torch_jacfwd", 1, torch_backend.jacfwd, basis="in", backend="torch", doc="torch.func.jacfwd"),
        Method(
            "torch_autograd",
            1,
            torch_backend.autograd_rev,
            basis="out",
            backend="torch",
            doc="torch.autograd.functional.jacobian, vectorize=True, reverse mode",
        ),
        Method(
            "torch_autograd_fwd",
            1,
            torch_backend.autograd_fwd,
            basis="in",
            backend="torch",
            doc="torch.autograd.functional.jacobian, vectorize=True, forward mode",
        ),
        Method(
            "torch_loop",
            1,
            torch_backend.loop,
            steps="out",
            backend="torch",
            doc="the notes' loop: one backward(retain_graph=True) per output element",
        ),
        Method(
            "torch_analytic",
            None,
            torch_backend.analytic,
            needs="closed_form",
            backend="torch",
            doc="the closed form in PyTorch",
        ),
    )
}
BACKENDS = ("jax", "torch")


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
