r"""The device's ceilings, measured in the run itself, in the run's dtype: a cache-aware roofline.

A floor needs numbers a spec sheet does not give for a shared VM or a throttled GPU, so every run
measures them next to its kernels, timed by the same protocol (:mod:`jaxgrads.measure.timing`), each
rate from the probe's fastest sample (as STREAM reports its best time: a ceiling is what the machine
can do, and a busy moment during a probe must not raise the floor):

- **bandwidth per level** (a cache-aware roofline: Ilic, Pratas and Sousa, 2014; Intel Advisor's
  CARM): for each data cache the machine reports, its last level checked by bandwidth
  (:func:`jaxgrads.measure.caches.defended_caches`), a
  working set of half its size, and for main memory one of at least 4× the last cache, swept $R$
  times inside one compiled call so the dispatch cost is spread over $R \cdot S$ bytes. Two probes,
  the faster kept: an update $b \leftarrow b/2 + 1$ ($2RS$ bytes: read and written) and a fill
  $b \leftarrow i$ ($RS$ bytes). Both donate their buffer and loop on it in place, so no call
  touches a fresh page: they measure the level, not the kernel's page faults. A working set that
  fits a level also fits every larger one, so each level's bandwidth is at least the next one's.
- **first-touch write rate**: XLA allocates every output afresh, and an output too large for the
  allocator to recycle lands on pages the kernel is the first to touch (on Linux, glibc hands
  allocations of more than 32 MiB, its largest ``mmap`` threshold, to ``mmap``, and gives them back
  on free). ``full((N,), s)`` of 256 MiB, a fresh output per call, measures that rate (its fastest of
  three times the run's samples: page faults vary by ±20% from call to call, and larger outputs fault
  a little faster per byte, so the probe is larger than most Jacobians that pay the rate).
- **FLOP/s**: $C = AB$ with $n \times n$ operands is $2n^3$ flops per call (a multiply and an add
  per term).
- the **dispatch floor** (:func:`jaxgrads.measure.timing.dispatch_floor`) is a probe of its own.

XLA's own counts stay apart from these floors. A kernel's place under XLA's roofline
(Williams et al., 2009) is

$$\text{roofline\_frac} = \frac{\max(\text{flops} / P,\ \text{bytes} / B)}{t},$$

with $B$ the main-memory bandwidth. XLA's ``flops`` are counted before optimisation and its ``bytes
accessed`` after; the latter charges traffic that a cache serves, so ``roofline_frac`` can exceed 1.
The floor that no kernel beats is :mod:`jaxgrads.measure.floor`'s.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from jaxgrads.measure.caches import defended_caches, in_place_rate
from jaxgrads.measure.timing import time_callable

__all__ = ["LEVELS", "Ceilings", "achieved", "measure_ceilings"]

MEMORY = "memory"
FIRST_TOUCH = "first-touch"
LEVELS = ("L1", "L2", "L3", MEMORY)
# bytes one probe call moves at least (the loop count R grows for small working sets)
PROBE_BYTES = {"cpu": 32 * 2**20, "default": 2**31}
# main memory's working set: at least this, and at least 4x the largest cache
MEMORY_BYTES = {"cpu": 64 * 2**20, "default": 2**30}
# outputs of at least this many bytes are written to fresh pages (CPU only: glibc's largest mmap
# threshold on 64-bit Linux); a GPU's allocator pools device memory, so none are
FIRST_TOUCH_MIN_BYTES = {"cpu": 32 * 2**20}
# the first-touch probe's output: the rate rises with the size (here, fastest of 7 calls: 3.6 GB/s
# at 64 MiB, 3.8 at 256 MiB, 4.1 at 512 MiB), and a 512 MiB Jacobian beat a 64 MiB probe by 10%
FIRST_TOUCH_PROBE_BYTES = 256 * 2**20
# page faults vary by ±20% from one call to the next (fastest 4.25, median 3.3 GB/s over 15 calls
# at 64 MiB), so the rate takes the fastest of 3x the run's samples, each a single call, and of at
# least 15 calls (a 3-sample test sweep's 9 once all came out slower than a 64 MiB Jacobian's median)
FIRST_TOUCH_SAMPLES_PER_SAMPLE = 3
FIRST_TOUCH_MIN_SAMPLES = 15
MATMUL_N = {"cpu": 1024, "default": 8192}


@dataclass(frozen=True)
class Ceilings:
    """Measured ceilings of one device in one dtype.

    Attributes:
      bandwidth: bytes read + written per second for a working set that fits each level (``L1``,
        ``L2``, ``L3`` where the machine reports them, and ``memory``); never rising with the level.
      flops_per_s: a square matmul.
      capacity: bytes of each cache level (``memory`` has none: everything fits).
      cache_source: where the capacities come from, and whether the bandwidth probe backs the last
        (:class:`jaxgrads.measure.caches.Caches`).
      first_touch_bytes_per_s: writing an output on fresh pages (NaN where outputs never are).
      first_touch_min_bytes: outputs this large or larger are written on fresh pages.
    """

    bandwidth: Mapping[str, float]
    flops_per_s: float
    capacity: Mapping[str, int] = field(default_factory=dict)
    cache_source: str = ""
    first_touch_bytes_per_s: float = math.nan
    first_touch_min_bytes: float = math.inf

    @classmethod
    def flat(cls, bytes_per_s: float, flops_per_s: float) -> Ceilings:
        """One memory level and no first-touch penalty: the plain two-ceiling roofline."""
        return cls({MEMORY: bytes_per_s}, flops_per_s)

    @property
    def bytes_per_s(self) -> float:
        """Main-memory bandwidth: the roof of XLA's ``bytes accessed``."""
        return self.bandwidth[MEMORY]

    def level_of(self, working_set: float) -> str:
        """The smallest level whose capacity holds ``working_set`` bytes (``memory`` if none)."""
        for level in LEVELS:
            if level in self.bandwidth and working_set <= self.capacity.get(level, math.inf):
                return level
        return MEMORY

    def best(self, other: Ceilings | None) -> Ceilings:
        """These ceilings and ``other``'s (the same device and dtype, probed at another moment), each
        at the higher of the two: a floor under them is at most either's (a moment the machine was
        slow lowers no ceiling). The capacities are this one's."""
        if other is None:
            return self

        def higher(a: float, b: float) -> float:
            return max(a, b) if math.isfinite(a) and math.isfinite(b) else (a if math.isfinite(a) else b)

        bandwidth = {level: higher(rate, other.bandwidth.get(level, math.nan))
                     for level, rate in self.bandwidth.items()}  # fmt: skip
        return dataclasses.replace(
            self, bandwidth=bandwidth, flops_per_s=higher(self.flops_per_s, other.flops_per_s),
            first_touch_bytes_per_s=higher(self.first_touch_bytes_per_s, other.first_touch_bytes_per_s),
        )  # fmt: skip

    def columns(self) -> dict[str, float]:
        """The CSV columns of these ceilings (see :data:`jaxgrads.results.schema.FIELDS`)."""
        cols = {"ceiling_bytes_per_s": self.bytes_per_s, "ceiling_flops_per_s": self.flops_per_s,
                "ceiling_first_touch_bytes_per_s": self.first_touch_bytes_per_s}  # fmt: skip
        for level in LEVELS[:-1]:
            cols[f"ceiling_{level.lower()}_bytes_per_s"] = self.bandwidth.get(level, math.nan)
            cols[f"cache_{level.lower()}_bytes"] = self.capacity.get(level, "")
        cols["cache_source"] = self.cache_source
        return cols


def measure_ceilings(
    device: jax.Device, dtype, *, samples: int = 5, min_sample_s: float = 0.02, first_touch: bool = True
) -> Ceilings:
    """Times the bandwidth probes per level, the first-touch write and a large matmul on ``device``.

    Args:
      device: where the run's kernels run.
      dtype: the run's dtype (bfloat16 and float64 ceilings differ from float32's).
      samples: samples per probe (the fastest taken; the first-touch probe takes three times as many).
      min_sample_s: seconds per sample.
      first_touch: measure the first-touch rate; a run none of whose outputs reaches
        ``FIRST_TOUCH_MIN_BYTES`` has no floor it bounds, and skips its 16 fresh 256 MiB outputs
        (~1.6 s and 4 GiB of page faults here); its ceilings then have no first-touch level.

    Returns:
      :class:`Ceilings`.
    """
    dtype = jnp.dtype(dtype)
    platform = device.platform if device.platform == "cpu" else "default"
    checked = defended_caches() if platform == "cpu" else None
    caches = dict(checked.sizes) if checked else {}
    timing = {"samples": samples, "min_sample_s": min_sample_s}
    sets = {level: size // 2 for level, size in caches.items() if level in LEVELS}
    sets[MEMORY] = max([MEMORY_BYTES[platform], *(4 * s for s in caches.values())])
    rates = {
        level: in_place_rate(device, dtype, ws, PROBE_BYTES[platform], **timing)
        for level, ws in sets.items()
    }
    bandwidth, fastest = {}, 0.0
    for level in reversed(LEVELS):  # a set that fits L1 fits L2: each level at least the next one
        if level in rates:
            fastest = bandwidth[level] = max(fastest, rates[level])

    first_touch_rate, min_bytes = math.nan, FIRST_TOUCH_MIN_BYTES.get(platform, math.inf)
    if not first_touch:
        min_bytes = math.inf
    if math.isfinite(min_bytes):
        count = FIRST_TOUCH_PROBE_BYTES // dtype.itemsize
        s = jax.device_put(jnp.ones((), dtype), device)
        fill = jax.jit(lambda v: jnp.full((count,), v)).lower(s).compile()
        probe_samples = max(FIRST_TOUCH_MIN_SAMPLES, FIRST_TOUCH_SAMPLES_PER_SAMPLE * samples)
        t_fill = time_callable(lambda: fill(s), samples=probe_samples, min_sample_s=0).min
        first_touch_rate = count * dtype.itemsize / t_fill

    n = MATMUL_N[platform]
    rng = np.random.default_rng(0)
    a = jax.device_put(jnp.asarray(rng.standard_normal((n, n)), dtype), device)
    b = jax.device_put(jnp.asarray(rng.standard_normal((n, n)), dtype), device)
    matmul = jax.jit(jnp.matmul).lower(a, b).compile()
    t_mm = time_callable(lambda: matmul(a, b), **timing).min
    return Ceilings(
        bandwidth, 2 * n**3 / t_mm, capacity={k: v for k, v in caches.items() if k in bandwidth},
        cache_source=checked.source if checked else "",
        first_touch_bytes_per_s=first_touch_rate, first_touch_min_bytes=min_bytes,
    )  # fmt: skip


def achieved(flops: float, bytes_accessed: float, seconds: float, ceilings: Ceilings) -> dict[str, float]:
    """A row's achieved FLOP/s and bytes/s by XLA's counts, and its ``roofline_frac`` (NaN where a
    count is missing)."""
    if not (seconds > 0 and math.isfinite(seconds)):
        return {"achieved_flops_per_s": math.nan, "achieved_bytes_per_s": math.nan, "roofline_frac": math.nan}
    floors = [
        count / ceiling
        for count, ceiling in ((flops, ceilings.flops_per_s), (bytes_accessed, ceilings.bytes_per_s))
        if math.isfinite(count)
    ]
    return {
        "achieved_flops_per_s": flops / seconds,
        "achieved_bytes_per_s": bytes_accessed / seconds,
        "roofline_frac": max(floors) / seconds if floors else math.nan,
    }
