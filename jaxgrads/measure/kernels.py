"""Compiled Jacobian kernels: (problem, wrt, method, size, dtype, device) -> a callable on the device.

Compilation is ahead of time (``jax.jit(f).lower(*args).compile()``) and timed on its own, and the
inputs are on the device before the kernel exists, so calling a kernel times the Jacobian alone. A
sharded method's kernel runs on a 1-D mesh of devices (``devices``), its inputs replicated there and
its result a padded block split over it (:mod:`jaxgrads.methods.sharded`); ``host_jacobian`` gathers
any kernel's result into the closed form's layout.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import sparse

from jaxgrads.methods import Method, applicable_methods, get_method
from jaxgrads.methods.sharded import assemble, basis_mesh, gather, replicated
from jaxgrads.problems.registry import Derivative, Problem, Size, get_problem
from jaxgrads.results.labels import kernel_id, size_text
from jaxgrads.validation import (
    JaxgradsError,
    parse_size,
    positive_int,
    require_x64,
    resolve_device,
    resolve_dtype,
)

__all__ = ["Kernel", "as_size", "basis_size", "build_kernel", "resolve_chunk_size"]


def as_size(size: Size | int | str | tuple[int, int] = 1, batch: int | str = 1) -> Size:
    """A :class:`Size` from ``1024``, ``"4096x64"``, ``(m, n)`` or a Size, with the batch."""
    if isinstance(size, Size):
        return size  # dims a problem does not use may be 0; build_kernel checks the used ones
    if isinstance(size, str):
        m, n = parse_size(size)
    elif isinstance(size, tuple) and len(size) == 2:
        m, n = positive_int("m", size[0]), positive_int("n", size[1])
    else:
        m = n = positive_int("size", size)
    return Size(m, n, positive_int("batch", batch))


DEFAULT_CHUNK_SIZE = 64


def basis_size(problem: Problem, derivative: Derivative, method: Method, shapes: dict) -> int:
    """How many basis vectors ``method`` walks: output elements (``out``) or input elements (``in``)."""
    specs = {k: jax.ShapeDtypeStruct(v, np.float32) for k, v in shapes.items()}
    out = jax.eval_shape(lambda kw: problem.fn(jnp, **kw), specs)
    which = method.steps or method.basis
    return max(1, int(np.prod(out.shape if which == "out" else shapes[derivative.wrt])))


def resolve_chunk_size(method: Method, chunk_size: int | None, basis: int) -> int:
    """The chunk a chunked method runs with: ``chunk_size`` (default 64), clamped to the basis."""
    if not method.chunked:
        return 0
    chunk = DEFAULT_CHUNK_SIZE if chunk_size is None else positive_int("chunk size", chunk_size)
    return min(chunk, basis)


@dataclass(frozen=True, eq=False)
class Kernel:
    """A compiled Jacobian with its inputs already on the device.

    Attributes:
      problem, derivative, method: what it computes and how.
      size: the case's dimensions (unused ones 0); dtype; device.
      inputs: host copies of the inputs, in ``dtype``, by argument name.
      args: the same inputs on ``device``, in argument order.
      executables: each compiled XLA program with the number of calls it gets per Jacobian.
      compile_s: seconds to trace, lower and compile every executable.
      jac_shape: shape of the returned Jacobian.
      chunk_size: basis vectors per step of a chunked method (clamped to the basis), else 0.
      mesh: the device mesh of a sharded method (``args`` replicated on it), else None.
      prepared, prep_s: what ``method.prepare`` made (a coloring), and the seconds it took.
      out_shape, wrt_shape: the shapes of f(inputs) and of the differentiated argument.
    """

    problem: Problem
    derivative: Derivative
    method: Method
    size: Size
    dtype: np.dtype
    device: jax.Device
    inputs: dict[str, np.ndarray]
    args: tuple  # jax.Array (or torch.Tensor for the torch backend)
    executables: tuple[tuple[jax.stages.Compiled, int], ...]
    compile_s: float
    jac_shape: tuple[int, ...]
    run: Callable[[], jax.Array]
    chunk_size: int = 0
    mesh: jax.sharding.Mesh | None = None
    out_shape: tuple[int, ...] = ()
    wrt_shape: tuple[int, ...] = ()
    prepared: object = None
    prep_s: float = math.nan

    def __call__(self) -> jax.Array:
        """Computes the Jacobian (asynchronously: block on the result to time it)."""
        return self.run()

    @property
    def devices(self) -> int:
        """How many devices compute the Jacobian: the mesh's, or 1."""
        return self.mesh.size if self.mesh is not None else 1

    def host_jacobian(self, J) -> np.ndarray:
        """``J``, this kernel's result, on the host in float64 and in the closed form's layout.

        A sharded kernel's block is gathered from every device first (across processes this is a
        collective: every process must call it) and its padding dropped.
        """
        from jaxgrads.measure.accuracy import host_array

        if isinstance(J, sparse.BCOO):
            J = J.todense()
        if self.mesh is None:
            return host_array(J)
        block = np.asarray(gather(J), np.float64)
        return assemble(block, self.method.mode, self.out_shape, self.wrt_shape)

    @property
    def id(self) -> str:
        return kernel_id(
            self.problem.name,
            self.derivative.name,
            self.method.name,
            size_text(self.size.m, self.size.n, self.size.batch),
            self.dtype.name,
            self.chunk_size,
        )

    @property
    def jac_bytes(self) -> int:
        return int(np.prod(self.jac_shape)) * self.dtype.itemsize


def _positional(problem: Problem, jac: Callable) -> Callable:
    def fn(*args):
        return jac(dict(zip(problem.args, args, strict=True)))

    return fn


def _compile_jit(problem, derivative, method, args, chunk_size=0):
    jac = (
        method.build(problem, derivative, chunk_size=chunk_size)
        if chunk_size
        else method.build(problem, derivative)
    )
    compiled = jax.jit(_positional(problem, jac)).lower(*args).compile()
    return ((compiled, 1),), lambda: compiled(*args)


def _compile_loop(problem, derivative, method, args, device):
    """A Python loop of one compiled step per output element, writing into a donated buffer."""
    step = method.build(problem, derivative)
    out = jax.eval_shape(_positional(problem, lambda inp: problem.fn(jnp, **inp)), *args)
    w = args[problem.args.index(derivative.wrt)]
    jac_shape = (*out.shape, *w.shape)
    sharding = jax.sharding.SingleDeviceSharding(device)
    init = jax.jit(lambda: jnp.zeros(jac_shape, out.dtype), out_shardings=sharding).lower().compile()

    def fill(J, i, *args):
        return step(J, dict(zip(problem.args, args, strict=True)), i)

    spec = jax.ShapeDtypeStruct(jac_shape, out.dtype, sharding=sharding)
    index = jax.ShapeDtypeStruct((), jnp.int32, sharding=sharding)
    fill_c = jax.jit(fill, donate_argnums=0).lower(spec, index, *args).compile()
    count = max(int(np.prod(out.shape)), 1)
    indices = [jax.device_put(np.int32(i), device) for i in range(count)]

    def run():
        J = init()
        for i in indices:
            J = fill_c(J, i, *args)
        return J

    return ((init, 1), (fill_c, count)), run


def _host_inputs(prob: Problem, size: Size, dtype: np.dtype, seed: int, inputs) -> dict[str, np.ndarray]:
    """The problem's seeded inputs in ``dtype``, or the given ones checked and cast."""
    if inputs is None:
        return prob.inputs(size, dtype, seed)
    missing = set(prob.args) - set(inputs)
    if missing:
        raise JaxgradsError(f"inputs for {prob.name} lack {sorted(missing)}; needed: {prob.args}")
    return {a: np.asarray(inputs[a]).astype(dtype) for a in prob.args}


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
      devices: the mesh size of a sharded method: the first ``devices`` devices of the device's
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
    np_dtype = resolve_dtype(dtype)
    require_x64(np_dtype)
    dev = resolve_device(device)
    host = _host_inputs(prob, size, np_dtype, seed, inputs)
    chunk = 0
    if meth.chunked:
        basis = basis_size(prob, derivative, meth, {a: v.shape for a, v in host.items()})
        chunk = resolve_chunk_size(meth, chunk_size, basis)

    out = jax.eval_shape(lambda kw: prob.fn(jnp, **kw), {a: jax.ShapeDtypeStruct(v.shape, v.dtype)
                                                           for a, v in host.items()})  # fmt: skip
    out_shape, wrt_shape = tuple(out.shape), tuple(host[derivative.wrt].shape)
    mesh, prepared, prep_s = None, None, math.nan
    if meth.compile is not None:  # a peer compiles (or first-calls) its own way
        args, run, compile_s = meth.compile(prob, derivative, meth, host, dev.platform)
        executables, jac_shape = (), tuple(run().shape)
    elif meth.prepare is not None:  # a coloring first, timed apart; then one compiled program
        start = time.perf_counter()
        prepared = meth.prepare(prob, derivative, host)
        prep_s = time.perf_counter() - start
        args = tuple(jax.device_put(host[a], dev) for a in prob.args)
        start = time.perf_counter()
        compiled = jax.jit(_positional(prob, meth.build(prob, derivative, prepared))).lower(*args).compile()
        compile_s = time.perf_counter() - start
        executables, run = ((compiled, 1),), lambda: compiled(*args)
        jac_shape = (*out_shape, *wrt_shape)
    elif meth.family == "sharded":
        mesh = basis_mesh(dev.platform, devices)
        where = replicated(mesh)
        args = tuple(
            jax.make_array_from_callback(host[a].shape, where, lambda i, a=a: host[a][i]) for a in prob.args
        )
        start = time.perf_counter()
        jac = _positional(prob, meth.build(prob, derivative, mesh))
        compiled = jax.jit(jac).lower(*args).compile()
        compile_s = time.perf_counter() - start
        executables, run = ((compiled, 1),), lambda: compiled(*args)
        jac_shape = (*out_shape, *wrt_shape)
    else:
        args = tuple(jax.device_put(host[a], dev) for a in prob.args)
        start = time.perf_counter()
        if meth.kind == "loop":
            executables, run = _compile_loop(prob, derivative, meth, args, dev)
        else:
            executables, run = _compile_jit(prob, derivative, meth, args, chunk)
        compile_s = time.perf_counter() - start
        jac_shape = tuple(executables[-1][0].out_info.shape)
    return Kernel(
        problem=prob,
        derivative=derivative,
        method=meth,
        size=size,
        dtype=np_dtype,
        device=dev,
        inputs=host,
        args=args,
        executables=executables,
        compile_s=compile_s,
        jac_shape=jac_shape,
        run=run,
        chunk_size=chunk,
        mesh=mesh,
        out_shape=out_shape,
        wrt_shape=wrt_shape,
        prepared=prepared,
        prep_s=prep_s,
    )
