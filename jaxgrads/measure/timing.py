"""The timing protocol: warm up, autorange, sample, keep every sample, quote the median.

One untimed warm-up call; then the inner loop count grows until one sample lasts ``min_sample_s``
(pyperf aims at 100 ms, asv at 10 ms); the sample that first meets it is kept, and more follow up to
``samples``, each the mean over that many calls, every call ending in ``jax.block_until_ready``.
Compilation happened before (see ``kernels``), so it is never inside a sample.

A slow kernel gets fewer samples: their count is decided once, from the calibration sample, so
that all of them together last about ``max_time_s``, but never fewer than :data:`MIN_SAMPLES`
(pytest-benchmark's ``max_time`` and ``min_rounds``, asv's ``repeat=(min, max, max_time)``). With
d the calibration sample's length, the count is ``clip(ceil(max_time_s / d), MIN_SAMPLES, samples)``:
a kernel of 10 µs keeps all its samples, one of 0.9 s a call keeps three. Deciding before sampling,
not from the samples seen, keeps the median free of a stopping rule's bias.
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

__all__ = [
    "DEFAULT_MAX_TIME_S", "DEFAULT_MIN_SAMPLE_S", "DEFAULT_SAMPLES", "MIN_SAMPLES", "Timing",
    "dispatch_floor", "sample_count", "time_callable",
]  # fmt: skip

DEFAULT_SAMPLES = 7
# 5 ms: at least ~600 calls of the fastest kernels (8 µs) per sample; what the scaling and structure
# presets always took (a sweep's time is mostly its samples: 7 of 10 ms each were 84 ms a fast row)
DEFAULT_MIN_SAMPLE_S = 0.005
DEFAULT_MAX_TIME_S = math.inf  # time_callable's own default: every sample asked for
MIN_SAMPLES = 3  # the fewest a time cap leaves: a median and an interquartile range still mean something
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


def sample_count(samples: int, sample_s: float, max_time_s: float) -> int:
    """How many samples a kernel whose calibration sample lasted ``sample_s`` keeps (see above)."""
    if samples <= MIN_SAMPLES or not math.isfinite(max_time_s):
        return samples
    fit = math.ceil(max_time_s / max(sample_s, 1e-12))
    return int(min(samples, max(MIN_SAMPLES, fit)))


def time_callable(
    fn: Callable[[], object],
    *,
    samples: int = DEFAULT_SAMPLES,
    min_sample_s: float = DEFAULT_MIN_SAMPLE_S,
    max_time_s: float = DEFAULT_MAX_TIME_S,
    warmup: bool = True,
    agree: Callable[[tuple[float, ...]], tuple[float, ...]] | None = None,
) -> Timing:
    """Times ``fn()`` by the protocol above.

    Args:
      fn: a zero-argument callable returning JAX arrays (a compiled kernel with bound inputs).
      samples: number of samples kept (fewer for a slow kernel under ``max_time_s``).
      min_sample_s: the shortest a sample may last; the loop count grows until it does.
      max_time_s: about how long all the samples together may last; a slow kernel keeps fewer,
        at least :data:`MIN_SAMPLES` (:func:`sample_count`).
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
    count = sample_count(samples, per_call * loops, max_time_s)
    if agree is not None:  # every process takes as many
        count = int(agree((count,))[0])
    # the calibration sample that met the target is a sample like the others
    rest = tuple(_sample(fn, loops) for _ in range(count - 1))
    times = (per_call, *rest)
    return Timing(times if agree is None else agree(times), loops)


def dispatch_floor(device: jax.Device, samples: int = 15, min_sample_s: float = 0.02) -> float:
    """Seconds per call of a compiled no-op on ``device``, its fastest sample: the least any kernel
    can cost (a busy moment while it is measured must not raise it)."""
    x = jax.device_put(jnp.zeros((), jnp.float32), device)
    noop = jax.jit(lambda a: a + 0).lower(x).compile()
    return time_callable(lambda: noop(x), samples=samples, min_sample_s=min_sample_s).min
