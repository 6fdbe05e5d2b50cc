r"""The device's ceilings, measured in the run itself, in the run's dtype: bandwidth and matmul FLOP/s.

A roofline needs two numbers a spec sheet does not give for a shared VM or a throttled GPU, so every
run measures them next to its kernels, timed by the same protocol (:mod:`jaxgrads.measure.timing`):

- **bandwidth**: $y = x + 1$ over $N$ elements reads $N$ and writes $N$ elements, so one call moves
  $2 N \cdot \text{itemsize}$ bytes. $N$ is far past the last-level cache (32 MiB on a CPU, 1 GiB on
  a GPU), so the copy streams from memory.
- **FLOP/s**: $C = AB$ with $n \times n$ operands is $2n^3$ flops per call (a multiply and an add per
  term).

A kernel's place under the roof (Williams et al., 2009) is

$$\text{roofline\_frac} = \frac{\max(\text{flops} / P,\ \text{bytes} / B)}{t},$$

the fraction of the time the binding ceiling says it needs: 1 is at the roof; 0.01 is 100× above
its floor. XLA's ``flops`` are counted before optimisation (the work the program asks for, the
same for every backend's fusion choices) and its ``bytes accessed`` after (fusion changes what
really crosses memory; the pre-optimisation count charges every intermediate twice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxgrads.measure.timing import time_callable

__all__ = ["Ceilings", "achieved", "measure_ceilings"]

# elements of the copy and the matmul's side, per platform: past the caches, a few ms per call
COPY_BYTES = {"cpu": 32 * 2**20, "default": 2**30}
MATMUL_N = {"cpu": 1024, "default": 8192}


@dataclass(frozen=True)
class Ceilings:
    """Measured ceilings of one device in one dtype."""

    bytes_per_s: float  # streaming copy, bytes read + written per second
    flops_per_s: float  # square matmul


def measure_ceilings(device: jax.Device, dtype, *, samples: int = 5, min_sample_s: float = 0.02) -> Ceilings:
    """Times a large copy and a large matmul on ``device`` in ``dtype``.

    Args:
      device: where the run's kernels run.
      dtype: the run's dtype (bfloat16 and float64 ceilings differ from float32's).
      samples: samples per kernel (median taken).
      min_sample_s: seconds per sample.

    Returns:
      :class:`Ceilings`.
    """
    dtype = jnp.dtype(dtype)
    platform = device.platform if device.platform in COPY_BYTES else "default"
    count = COPY_BYTES[platform] // dtype.itemsize
    x = jax.device_put(jnp.ones((count,), dtype), device)
    copy = jax.jit(lambda a: a + jnp.ones((), a.dtype)).lower(x).compile()
    t_copy = time_callable(lambda: copy(x), samples=samples, min_sample_s=min_sample_s).median

    n = MATMUL_N[platform]
    rng = np.random.default_rng(0)
    a = jax.device_put(jnp.asarray(rng.standard_normal((n, n)), dtype), device)
    b = jax.device_put(jnp.asarray(rng.standard_normal((n, n)), dtype), device)
    matmul = jax.jit(jnp.matmul).lower(a, b).compile()
    t_mm = time_callable(lambda: matmul(a, b), samples=samples, min_sample_s=min_sample_s).median
    return Ceilings(bytes_per_s=2 * count * dtype.itemsize / t_copy, flops_per_s=2 * n**3 / t_mm)


def achieved(flops: float, bytes_accessed: float, seconds: float, ceilings: Ceilings) -> dict[str, float]:
    """A row's achieved FLOP/s and bytes/s and its ``roofline_frac`` (NaN where a count is missing)."""
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
