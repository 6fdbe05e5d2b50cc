"""What differs between the JAX releases jaxgrads measures under: every release-specific branch, here.

The measuring process (``jaxgrads run``, its callgrind children) runs under every release from jax
0.4.30 to 0.10.2 and the 0.11 of the GPU machine (``jaxgrads releases`` measures the same sweep under
several of them). Each function asks the installed jax for the newer API and falls back to the older
one; where no release has an equivalent, it returns None (or a reason) and the caller leaves its
column empty with a message, never a crash.

=================================  ==========================  =====================================
what                               newer API                   older releases
=================================  ==========================  =====================================
a compiled program's output shape  ``Compiled.out_info``       ``Compiled._executable.out_avals``
``lax.map`` in chunks              ``batch_size=`` (0.4.31)    vmap over chunks under ``lax.scan``
``lax.optimization_barrier``       public                      ``jax._src.ad_checkpoint``'s
host (CPU) device count            ``jax_num_cpu_devices``     ``--xla_force_host_platform_device_count``
                                   (0.4.38)                    in ``XLA_FLAGS``, before the backend
``cost_analysis()``                a dict                      a list of one dict per device
=================================  ==========================  =====================================

Each branch reads the API when called, so tests fake an older release by removing or replacing the
newer attribute (``tests/test_compat.py``).
"""

from __future__ import annotations

import inspect
import os
import re

import jax

__all__ = [
    "HOST_DEVICE_FLAG",
    "cost_analysis",
    "host_device_env",
    "lax_map",
    "memory_analysis",
    "optimization_barrier",
    "out_shape",
    "set_config",
    "set_host_devices",
    "version",
]

HOST_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def version(text: str | None = None) -> tuple[int, ...]:
    """``(0, 4, 30)`` for jax 0.4.30 (``text``: any version string; default the installed jax)."""
    return tuple(int(p) for p in re.findall(r"\d+", (text or jax.__version__).split("+")[0])[:3])


def out_shape(compiled) -> tuple[int, ...] | None:
    """The shape of a compiled one-output program's result; None when the release cannot say."""
    info = getattr(compiled, "out_info", None)
    if info is not None:
        return tuple(jax.tree.leaves(info)[0].shape)
    avals = getattr(getattr(compiled, "_executable", None), "out_avals", None)
    return tuple(avals[0].shape) if avals else None


def lax_map(f, xs, batch_size: int | None = None):
    """``lax.map(f, xs, batch_size=batch_size)``; where ``lax.map`` has no ``batch_size`` (before
    0.4.31), what it does there: ``vmap(f)`` over ``batch_size`` rows per step of a ``lax.scan``,
    then the remainder rows in one more ``vmap``."""
    from jax import lax

    if batch_size is None or "batch_size" in inspect.signature(lax.map).parameters:
        return lax.map(f, xs) if batch_size is None else lax.map(f, xs, batch_size=batch_size)
    n = jax.tree.leaves(xs)[0].shape[0]
    steps, rest = divmod(n, batch_size)
    head = jax.tree.map(lambda x: x[: steps * batch_size].reshape(steps, batch_size, *x.shape[1:]), xs)
    _, ys = lax.scan(lambda _, x: ((), jax.vmap(f)(x)), (), head)
    ys = jax.tree.map(lambda y: y.reshape(-1, *y.shape[2:]), ys)
    if rest:
        tail = jax.vmap(f)(jax.tree.map(lambda x: x[steps * batch_size :], xs))
        ys = jax.tree.map(lambda a, b: jax.numpy.concatenate([a, b]), ys, tail)
    return ys


def optimization_barrier(x):
    """``lax.optimization_barrier(x)`` (public since 0.4.31; before, jax's internal one)."""
    from jax import lax

    barrier = getattr(lax, "optimization_barrier", None)
    if barrier is None:
        from jax._src.ad_checkpoint import _optimization_barrier as barrier
    return barrier(x)


def set_config(name: str, value) -> bool:
    """``jax.config.update(name, value)``; False where this release has no such option."""
    try:
        jax.config.update(name, value)
    except AttributeError:  # "Unrecognized config option"
        return False
    return True


def set_host_devices(count: int) -> None:
    """``count`` host (CPU) devices, before the CPU backend starts: the ``jax_num_cpu_devices`` option
    (0.4.38), else XLA's flag in ``XLA_FLAGS``, which the backend reads when it starts.

    Raises RuntimeError (as jax does) when the backend has started already.
    """
    if set_config("jax_num_cpu_devices", count):
        return
    flags = re.sub(rf"{HOST_DEVICE_FLAG}=\S*", "", os.environ.get("XLA_FLAGS", "")).strip()
    os.environ["XLA_FLAGS"] = f"{HOST_DEVICE_FLAG}={count} {flags}".strip()


def host_device_env(count: int, env: dict[str, str]) -> dict[str, str]:
    """``env`` for a child process that must start with ``count`` host devices on any release:
    ``JAX_NUM_CPU_DEVICES`` (read from the environment by releases that have the option) and XLA's
    flag (read by those that do not), first: an older XLA stops reading ``XLA_FLAGS`` at a word that
    is not a flag."""
    flags = re.sub(rf"{HOST_DEVICE_FLAG}=\S*", "", env.get("XLA_FLAGS", "")).strip()
    flags = f"{HOST_DEVICE_FLAG}={count} {flags}".strip()
    return env | {"JAX_NUM_CPU_DEVICES": str(count), "XLA_FLAGS": flags}


def cost_analysis(compiled) -> tuple[dict, str | None]:
    """(XLA's cost analysis as a dict, None) or ({}, why it is not there)."""
    fn = getattr(compiled, "cost_analysis", None)
    if fn is None:
        return {}, f"jax {jax.__version__} has no cost_analysis"
    try:
        cost = fn()
    except Exception as exc:  # a backend without cost analysis
        return {}, f"cost_analysis failed under jax {jax.__version__}: {type(exc).__name__}"
    if isinstance(cost, list | tuple):  # before 0.4.36: one dict per device
        cost = cost[0] if cost else {}
    if not cost:
        return {}, f"cost_analysis is empty under jax {jax.__version__}"
    return dict(cost), None


def memory_analysis(compiled) -> tuple[object | None, str | None]:
    """(XLA's memory analysis, None) or (None, why it is not there)."""
    fn = getattr(compiled, "memory_analysis", None)
    if fn is None:
        return None, f"jax {jax.__version__} has no memory_analysis"
    try:
        mem = fn()
    except Exception as exc:
        return None, f"memory_analysis failed under jax {jax.__version__}: {type(exc).__name__}"
    return (mem, None) if mem is not None else (None, f"memory_analysis is empty under jax {jax.__version__}")
