"""The timing protocol: warm up, autorange, sample, keep every sample, quote the median.

One untimed warm-up call; then the inner loop count grows until one sample lasts ``min_sample_s``
(pyperf aims at 100 ms, asv at 10 ms); the sample that first meets it is kept, and more follow up to
``samples``, each the mean over that many calls, every call ending in ``jax.block_until_ready``.
Compilation happened before (see ``kernels``), so it is never inside a sample.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["DEFAULT_MIN_SAMPLE_S", "DEFAULT_SAMPLES", "Timing", "dispatch_floor", "time_callable"]

DEFAULT_SAMPLES = 7
DEFAULT_MIN_SAMPLE_S = 0.01
MAX_LOOPS = 1_000_000


@dataclass(frozen=True)
class Timing:
    """Raw samples (seconds per call) and the loop count each was averaged over."""

    samples: tuple[float, ...]
    inner_loops: int

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    @property
    def iqr(self) -> float:
        q1, q3 = np.percentile(self.samples, [25, 75])
        return float(q3 - q1)

    @property
    def min(self) -> float:
        return float(np.min(self.samples))


def _sample(fn: Callable[[], object], loops: int) -> float:
    """Seconds per call, averaged over ``loops`` calls that each wait for their result.

    The garbage collector is off inside a sample, as in ``timeit``: a collection triggered by the
    harness's own allocations is not the kernel's cost.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(loops):
            jax.block_until_ready(fn())
        return (time.perf_counter() - start) / loops
    finally:
        if was_enabled:
            gc.enable()


def time_callable(
    fn: Callable[[], object],
    *,
    samples: int = DEFAULT_SAMPLES,
    min_sample_s: float = DEFAULT_MIN_SAMPLE_S,
    warmup: bool = True,
    agree: Callable[[tuple[float, ...]], tuple[float, ...]] | None = None,
) -> Timing:
    """Times ``fn()`` by the protocol above.

    Args:
      fn: a zero-argument callable returning JAX arrays (a compiled kernel with bound inputs).
      samples: number of samples kept.
      min_sample_s: the shortest a sample may last; the loop count grows until it does.
      warmup: make the untimed first call here (False: the caller already made it).
      agree: across processes running one SPMD kernel, the elementwise maximum over them
        (:func:`jaxgrads.sweep.distributed.agree`): the loop count and the end of calibration are
        agreed, so every process calls ``fn`` as often, and each sample is the slowest process's.

    Returns:
      A :class:`Timing`.
    """
    loops = 1
    if warmup:
        warm_start = time.perf_counter()
        jax.block_until_ready(fn())  # first-call allocations, caches; untimed
        warm = time.perf_counter() - warm_start
        # first guess from the warm-up (an overestimate: it pays the first-call costs)
        loops = min(MAX_LOOPS, max(1, math.ceil(min_sample_s / max(warm, 1e-9))))
        if agree is not None:
            loops = int(agree((loops,))[0])
    while True:
        per_call = _sample(fn, loops)
        short = not (per_call * loops >= min_sample_s or loops >= MAX_LOOPS)
        # aim 20% past the target from the estimate, at least doubling (timeit's autorange grows too)
        grown = min(MAX_LOOPS, max(2 * loops, math.ceil(1.2 * min_sample_s / max(per_call, 1e-9))))
        if agree is not None:
            flag, most = agree((float(short), grown))
            short, grown = bool(flag), int(most)
        if not short:
            break
        loops = grown
    # the calibration sample that met the target is a sample like the others
    rest = tuple(_sample(fn, loops) for _ in range(samples - 1))
    times = (per_call, *rest)
    return Timing(times if agree is None else agree(times), loops)


def dispatch_floor(device: jax.Device, samples: int = 15, min_sample_s: float = 0.02) -> float:
    """Seconds per call of a compiled no-op on ``device``, its fastest sample: the least any kernel
    can cost (a busy moment while it is measured must not raise it)."""
    x = jax.device_put(jnp.zeros((), jnp.float32), device)
    noop = jax.jit(lambda a: a + 0).lower(x).compile()
    return time_callable(lambda: noop(x), samples=samples, min_sample_s=min_sample_s).min
