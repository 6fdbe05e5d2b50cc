r"""What a sparse result costs a user who needs it dense: ``BCOO.todense()`` timed at the result's shape,
nonzero count and dtype.

A BCOO Jacobian with $k$ nonzeros of a dense shape of $N$ entries turns dense by filling $N$ zeros and
scattering $k$ values: its cost depends on $N$, $k$ and the dtype, not on which entries are nonzero
(beyond cache effects of the scatter's order). So it is timed on a BCOO of the same shape, count and
dtype whose nonzeros are spread evenly over the entries, compiled once, by the timing protocol
(:mod:`jaxgrads.measure.timing`): one number a recommendation can quote beside the BCOO method's own
time.
"""

from __future__ import annotations

import math

import jax
import numpy as np
from jax.experimental import sparse

from jaxgrads.measure.timing import time_callable
from jaxgrads.validation import resolve_dtype

__all__ = ["todense_seconds"]


def todense_seconds(shape: tuple[int, ...], nnz: int, dtype: str, device=None, *, samples: int = 5) -> float:
    """Median seconds of ``BCOO.todense()`` for ``nnz`` nonzeros in ``shape`` (``dtype``) on ``device``."""
    device = device or jax.devices("cpu")[0]
    total = math.prod(shape)
    nnz = max(1, min(int(nnz), total))
    flat = np.linspace(0, total - 1, nnz).astype(np.int64)  # evenly spread, sorted, unique for nnz <= total
    flat = np.unique(flat)
    indices = np.stack(np.unravel_index(flat, shape), axis=1).astype(np.int32)
    data = jax.device_put(np.ones(len(flat), resolve_dtype(dtype)), device)
    idx = jax.device_put(indices, device)
    dense = jax.jit(lambda d, i: sparse.BCOO((d, i), shape=tuple(shape)).todense()).lower(data, idx).compile()
    timing = time_callable(lambda: dense(data, idx), samples=samples, min_sample_s=0.002)
    return timing.median
