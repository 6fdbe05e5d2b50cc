r"""How far a Jacobian is from its references, computed by XLA where the Jacobian is.

One compiled pass over the kernel's result on its own device and threads, against the case's
float64 reference put there once and shared by every method of the case
(:class:`jaxgrads.measure.accuracy.Reference`), gives every number the verdict needs:

* whether every entry of $J$ (and of the reference) is finite;
* $\|J - J_{64}\|_F$ and $\|J_{64}\|_F$, each as $m\sqrt{\sum (x/m)^2}$ with $m = \max|x|$, so no
  square overflows where float64 holds the entries;
* $\max|J - J_{64}|$ and, for the componentwise check, $\max |J - J_{64}| / s$ over the entries
  ($s$ the per-entry scale, 1 where it is 0);
* $\|J - J_c\|_F$ and $\|J_c\|_F$ against the closed form in the kernel's dtype.

The verdict is :func:`jaxgrads.measure.tolerance.judge`'s, made from these numbers; only a row that
fails goes to the host, where ``judge`` says which entry is worst. Without x64 (no float64 on the
device), for a Jacobian gathered from a mesh or computed by a peer, the host computes it all.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import sparse

__all__ = ["Agreement", "agreement"]

Agreement = dict  # the statistics named in the module docstring, as Python floats and bools


def _norm(x):
    m = jnp.max(jnp.abs(x))
    safe = jnp.where((m > 0) & jnp.isfinite(m), m, 1.0)
    return jnp.where(jnp.isfinite(m), safe * jnp.sqrt(jnp.sum(jnp.square(x / safe))), m)


@jax.jit
def _statistics(actual, desired, scale, same):
    a = actual.astype(jnp.float64)
    err = jnp.abs(a - desired)
    stats = {
        "finite": jnp.all(jnp.isfinite(a)),
        "reference_finite": jnp.all(jnp.isfinite(desired)),
        "err_norm": _norm(a - desired),
        "reference_norm": _norm(desired),
        "max_abs": jnp.max(err),
    }
    if scale is not None:
        stats["worst_ratio"] = jnp.max(err / jnp.where(scale > 0, scale, 1.0))
    if same is not None:
        s = same.astype(jnp.float64)
        stats |= {"same_err_norm": _norm(a - s), "same_norm": _norm(s)}
    return stats


def _on_device(ref, device: jax.Device) -> tuple:
    """The reference's float64 arrays on ``device``, put there once per reference."""
    key = ("agreement", device.id, device.platform)
    if key not in ref.on_device:
        same = ref.same_dtype
        same = same if same is None or np.shape(same) == ref.f64.shape else None
        ref.on_device[key] = tuple(
            None if x is None else jax.device_put(x, device) for x in (ref.f64, ref.scale, same)
        )
    return ref.on_device[key]


def agreement(J, ref, device: jax.Device) -> Agreement | None:
    """The statistics of ``J`` (a kernel's result on ``device``) against ``ref``; None where the host
    must compute them (no x64, not a JAX array, a shape that is not the reference's, no entries)."""
    if isinstance(J, sparse.BCOO):
        J = J.todense()
    if not (jax.config.jax_enable_x64 and isinstance(J, jax.Array)):
        return None
    if J.shape != ref.f64.shape or J.size == 0 or not J.is_fully_addressable or len(J.devices()) != 1:
        return None
    desired, scale, same = _on_device(ref, device)
    stats = jax.device_get(_statistics(J, desired, scale, same))
    return {k: (bool(v) if np.asarray(v).dtype == bool else float(v)) for k, v in stats.items()}
