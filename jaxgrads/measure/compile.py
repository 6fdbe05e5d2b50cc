"""The build steps: a decided case and its host inputs -> compiled programs on the device.

One function per ``Method.kind`` (:data:`jaxgrads.methods.registry.KINDS`), looked up in
:data:`BUILD_STEPS`; each places the inputs, compiles ahead of time (``jax.jit(f).lower(*args)
.compile()``) and times that alone (``compile_s``), so calling the result times the Jacobian alone.
A chunked method's program is built with the case's ``chunk_size``; a mesh method's on the case's
``devices``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxgrads.measure.case import Case
from jaxgrads.methods.sharded import basis_mesh, replicated

__all__ = ["BUILD_STEPS", "Built", "build"]


@dataclass(frozen=True)
class Built:
    """What a build step made: the device arguments, each compiled program with its calls per
    Jacobian, the callable, the seconds compiling took, and what the kind adds (a mesh, a
    prepared pattern and the seconds preparing took)."""

    args: tuple
    executables: tuple
    run: Callable[[], jax.Array]
    compile_s: float
    mesh: jax.sharding.Mesh | None = None
    prepared: object = None
    prep_s: float = math.nan


def _positional(case: Case, jac: Callable) -> Callable:
    def fn(*args):
        return jac(dict(zip(case.problem.args, args, strict=True)))

    return fn


def _placed(case: Case, host, device) -> tuple:
    return tuple(jax.device_put(host[a], device) for a in case.problem.args)


def _jitted(case: Case, jac: Callable, args: tuple, **kw) -> Built:
    start = time.perf_counter()
    compiled = jax.jit(_positional(case, jac)).lower(*args).compile()
    return Built(args, ((compiled, 1),), lambda: compiled(*args), time.perf_counter() - start, **kw)


def _jit(case: Case, host, device) -> Built:
    """One jitted program; a chunked method's with the case's chunk."""
    m = case.method
    jac = m.build(case.problem, case.derivative, chunk_size=case.chunk_size) if m.chunked else m.build(
        case.problem, case.derivative
    )
    return _jitted(case, jac, _placed(case, host, device))


def _loop(case: Case, host, device) -> Built:
    """A Python loop of one compiled step per output element, writing into a donated buffer."""
    problem, args = case.problem, _placed(case, host, device)
    start = time.perf_counter()
    step = case.method.build(problem, case.derivative)
    dtype = np.dtype(case.dtype)  # J's rows are VJPs: the case's dtype, which its inputs have
    sharding = jax.sharding.SingleDeviceSharding(device)
    init = jax.jit(lambda: jnp.zeros(case.jac_shape, dtype), out_shardings=sharding).lower().compile()

    def fill(J, i, *args):
        return step(J, dict(zip(problem.args, args, strict=True)), i)

    spec = jax.ShapeDtypeStruct(case.jac_shape, dtype, sharding=sharding)
    index = jax.ShapeDtypeStruct((), jnp.int32, sharding=sharding)
    fill_c = jax.jit(fill, donate_argnums=0).lower(spec, index, *args).compile()
    count = max(case.steps, 1)
    indices = [jax.device_put(np.int32(i), device) for i in range(count)]

    def run():
        J = init()
        for i in indices:
            J = fill_c(J, i, *args)
        return J

    return Built(args, ((init, 1), (fill_c, count)), run, time.perf_counter() - start)


def _pattern(case: Case, host, device) -> Built:
    """The pattern prepared first (timed apart, ``prep_s``), then one jitted program built on it."""
    start = time.perf_counter()
    prepared = case.method.prepare(case.problem, case.derivative, host)
    prep_s = time.perf_counter() - start
    jac = case.method.build(case.problem, case.derivative, prepared)
    return _jitted(case, jac, _placed(case, host, device), prepared=prepared, prep_s=prep_s)


def _mesh(case: Case, host, device) -> Built:
    """One program over a 1-D mesh of the case's ``devices``, the inputs replicated on it."""
    mesh = basis_mesh(device.platform, case.devices)
    where = replicated(mesh)
    args = tuple(jax.make_array_from_callback(host[a].shape, where, lambda i, a=a: host[a][i])
                 for a in case.problem.args)  # fmt: skip
    return _jitted(case, case.method.build(case.problem, case.derivative, mesh), args, mesh=mesh)


def _peer(case: Case, host, device) -> Built:
    """A peer compiles (or first-calls) its own way."""
    m = case.method
    args, run, compile_s = m.compile(case.problem, case.derivative, m, host, device.platform)
    return Built(args, (), run, compile_s)


BUILD_STEPS: dict[str, Callable[[Case, dict, jax.Device], Built]] = {
    "jit": _jit, "loop": _loop, "pattern": _pattern, "mesh": _mesh, "peer": _peer,
}  # fmt: skip


def build(case: Case, host: dict[str, np.ndarray], device: jax.Device) -> Built:
    """Compiles ``case`` for ``device`` from its ``host`` inputs by its method's build step."""
    return BUILD_STEPS[case.method.kind](case, host, device)
