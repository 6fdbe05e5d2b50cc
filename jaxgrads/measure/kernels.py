"""Compiled Jacobian kernels: a decided case (:mod:`jaxgrads.measure.case`) on a device -> a callable.

The inputs are on the device before the kernel exists and compilation is timed on its own
(:mod:`jaxgrads.measure.compile`), so calling a kernel times the Jacobian alone. A mesh method's
kernel runs on a 1-D mesh of the case's devices, its inputs replicated there and its result a
padded block split over it (:mod:`jaxgrads.methods.sharded`); ``host_jacobian`` gathers any
kernel's result into the closed form's layout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np
from jax.experimental import sparse

from jaxgrads.compat import out_shape
from jaxgrads.measure.case import Case, decide
from jaxgrads.measure.compile import build
from jaxgrads.measure.shapes import as_size, shapes_of_inputs
from jaxgrads.methods import Method, applicable_methods, get_method
from jaxgrads.methods.sharded import assemble, gather
from jaxgrads.problems.registry import Problem, Size, get_problem
from jaxgrads.validation import JaxgradsError, positive_int, require_x64, resolve_device, resolve_dtype

__all__ = ["Kernel", "as_size", "build_kernel", "compile_case", "host_array"]


def host_array(J) -> np.ndarray:
    """A Jacobian as a float64 NumPy array on the host, from JAX or PyTorch."""
    if hasattr(J, "detach"):  # a torch.Tensor, maybe bfloat16 or on a GPU
        import torch

        return J.detach().to("cpu", torch.float64).numpy()
    return np.asarray(J, np.float64)


@dataclass(frozen=True, eq=False)
class Kernel:
    """A compiled Jacobian with its inputs already on the device.

    Attributes:
      case: what it computes and how, decided once (problem, derivative, method, size, dtype,
        chunk, devices, shapes).
      device: where it runs.
      inputs: host copies of the inputs, in the case's dtype, by argument name.
      args: the same inputs on the device, in argument order.
      executables: each compiled XLA program with the number of calls it gets per Jacobian.
      compile_s: seconds to trace, lower and compile every executable.
      jac_shape: the shape the kernel returns (the case's layout for a correct method).
      mesh: the device mesh of a mesh method (``args`` replicated on it), else None.
      prepared, prep_s: what ``method.prepare`` made (a coloring), and the seconds it took.
    """

    case: Case
    device: jax.Device
    inputs: dict[str, np.ndarray]
    args: tuple  # jax.Array (or torch.Tensor for the torch backend)
    executables: tuple[tuple[jax.stages.Compiled, int], ...]
    compile_s: float
    jac_shape: tuple[int, ...]
    run: Callable[[], jax.Array]
    mesh: jax.sharding.Mesh | None = None
    prepared: object = None
    prep_s: float = math.nan

    def __call__(self) -> jax.Array:
        """Computes the Jacobian (asynchronously: block on the result to time it)."""
        return self.run()

    problem = property(lambda self: self.case.problem)
    derivative = property(lambda self: self.case.derivative)
    method = property(lambda self: self.case.method)
    size = property(lambda self: self.case.size)
    chunk_size = property(lambda self: self.case.chunk_size)
    out_shape = property(lambda self: self.case.out_shape)
    wrt_shape = property(lambda self: self.case.wrt_shape)
    id = property(lambda self: self.case.id)

    @property
    def dtype(self) -> np.dtype:
        return resolve_dtype(self.case.dtype)

    @property
    def devices(self) -> int:
        """How many devices compute the Jacobian: the mesh's, or 1."""
        return self.mesh.size if self.mesh is not None else 1

    @property
    def jac_bytes(self) -> int:
        return int(np.prod(self.jac_shape)) * self.dtype.itemsize

    def host_jacobian(self, J) -> np.ndarray:
        """``J``, this kernel's result, on the host in float64 and in the closed form's layout.

        A sharded kernel's block is gathered from every device first (across processes this is a
        collective: every process must call it) and its padding dropped.
        """
        if isinstance(J, sparse.BCOO):
            J = J.todense()
        if self.mesh is None:
            return host_array(J)
        block = np.asarray(gather(J), np.float64)
        return assemble(block, self.method.mode, self.out_shape, self.wrt_shape)


def _host_inputs(case: Case, seed: int, inputs) -> dict[str, np.ndarray]:
    """The problem's seeded inputs in the case's dtype, or the given ones checked and cast."""
    prob, dtype = case.problem, resolve_dtype(case.dtype)
    if inputs is None:
        return prob.inputs(case.size, dtype, seed)
    missing = set(prob.args) - set(inputs)
    if missing:
        raise JaxgradsError(f"inputs for {prob.name} lack {sorted(missing)}; needed: {prob.args}")
    return {a: np.asarray(inputs[a]).astype(dtype) for a in prob.args}


def compile_case(
    case: Case, device: jax.Device, *, inputs: dict[str, np.ndarray] | None = None, seed: int = 0
) -> Kernel:
    """The kernel of a decided ``case`` on ``device``: its chunk, devices and shapes are the case's.

    Args:
      inputs: explicit host inputs by argument name (default: the problem's, drawn with ``seed``).

    Raises:
      JaxgradsError: the case could not be decided (its ``error``), or ``inputs`` lack an argument.
    """
    if case.error:
        raise JaxgradsError(case.error)
    host = _host_inputs(case, seed, inputs)
    built = build(case, host, device)
    jac_shape = out_shape(built.executables[-1][0]) if built.executables else None
    if jac_shape is None:  # a peer's program (or a release that cannot say): its result says
        jac_shape = tuple(built.run().shape)
    return Kernel(case, device, host, built.args, built.executables, built.compile_s, jac_shape, built.run,
                  built.mesh, built.prepared, built.prep_s)  # fmt: skip


def build_kernel(
    problem: str | Problem,
    wrt: str,
    method: str | Method,
    size: Size | int | str | tuple[int, int] = 1,
    dtype: str = "float32",
    device: str | jax.Device = "cpu",
    *,
    batch: int | str = 1,
    seed: int = 0,
    inputs: dict[str, np.ndarray] | None = None,
    chunk_size: int | None = None,
    devices: int | None = None,
) -> Kernel:
    """Builds and compiles the kernel computing ``problem``'s derivative ``wrt`` by ``method``.

    Args:
      problem: a registered problem name, or a :class:`Problem`.
      wrt: a derivative name of the problem (``x``, ``A``, ``xx`` for the Hessian in x, ...).
      method: a method applicable to that derivative (see ``applicable_methods``), or its :class:`Method`.
      size: ``1024``, ``"4096x64"``, ``(m, n)`` or a :class:`Size`.
      dtype: ``float32``, ``float64`` (needs x64) or ``bfloat16``.
      device: ``cpu``, ``gpu``, ``auto`` or a ``jax.Device``.
      batch: rows of x for the linear layer problems.
      seed: seed of the input maker.
      inputs: explicit host inputs by argument name (then ``size`` only labels the case).
      chunk_size: basis vectors per step for ``jacrev_chunked``/``jacfwd_chunked`` (default 64); a
        chunk larger than the basis is clamped to it.
      devices: the mesh size of a mesh method: the first ``devices`` devices of the device's
        platform (default: all of them, in every process); ignored by the other methods.

    Returns:
      A :class:`Kernel`; ``kernel()`` returns the Jacobian on the device.

    Raises:
      JaxgradsError: on an unknown name, an inapplicable method, a bad size, dtype or device.
    """
    prob = problem if isinstance(problem, Problem) else get_problem(problem)
    derivative = prob.derivative(wrt)
    meth = method if isinstance(method, Method) else get_method(method)
    if not meth.applies(prob, derivative):
        raise JaxgradsError(
            f"method {meth.name!r} does not apply to {prob.name}/{wrt}; "
            f"applicable: {', '.join(applicable_methods(prob, wrt))}"
        )
    size = prob.canonical(as_size(size, batch))
    for dim in prob.dims:
        positive_int(dim, getattr(size, dim))
    require_x64(resolve_dtype(dtype))
    dev = resolve_device(device)
    if meth.needs_mesh and devices is None:
        devices = len(jax.devices(dev.platform))
    shapes = None
    if inputs is not None:  # the given inputs' shapes, not the size's
        given = {a: inputs[a] for a in prob.args if a in inputs}
        shapes = shapes_of_inputs(prob, derivative, given) if len(given) == len(prob.args) else None
    case = decide(prob, derivative, meth, size, np.dtype(resolve_dtype(dtype)).name, chunk_size=chunk_size,
                  devices=devices or 1, platform=dev.platform, shapes=shapes)  # fmt: skip
    return compile_case(case, dev, inputs=inputs, seed=seed)

