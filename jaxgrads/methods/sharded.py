r"""The sharded JAX methods: the basis split over a 1-D device mesh, the Jacobian left in shares.

For $f: \mathbb R^n \to \mathbb R^m$ on a mesh of D devices along the axis ``basis``:

- ``jacrev_sharded`` pulls the m output cotangents back with one VJP each, vmapped; the cotangents
  are the rows of $E = [I_m; 0]$, padded with zero rows to $m_p = D\lceil m/D\rceil$ and constrained to
  be split by rows, so device d builds and pulls back only rows $d\,m_p/D \ldots (d+1)\,m_p/D - 1$:
  its share of $J$ (rows of $J$, shape $(m_p/D, *w)$), never the whole of it.
- ``jacfwd_sharded`` pushes the n input tangents forward with one JVP each the same way: device d
  holds its columns of $J$ (shape $(n_p/D, *y)$).

Both are built on ``jax.vjp``/``jax.jvp`` with explicit shardings (jacrev and jacfwd themselves do not
carry a sharding through their vmap: jax-ml/jax #25844). An axis that does not divide by D cannot be
split evenly (JAX refuses the sharding, or replicates a constrained value), so the basis is padded: the
padding rows are zero cotangents (or tangents) and give zero rows, which :func:`assemble` drops. The
compiled result is that padded *block*, sharded over the mesh; :func:`assemble` gathers it, on
request, into the closed form's layout ``out.shape + wrt.shape``.

Inputs are replicated on every device (they are small beside the Jacobian); per-device memory is
what ``memory_analysis`` reports for the partitioned program.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxgrads.errors import JaxgradsError
from jaxgrads.methods.common import partial_fn
from jaxgrads.methods.registry import Method

__all__ = ["AXIS", "SHARDED", "assemble", "basis_mesh", "gather", "padded", "replicated", "split"]

AXIS = "basis"


def padded(n: int, devices: int) -> int:
    """The basis length split over ``devices``: ``n`` rounded up to a multiple of it."""
    return devices * -(-n // devices)


def basis_mesh(platform: str, count: int | None = None) -> Mesh:
    """A 1-D mesh over the first ``count`` devices of ``platform`` (all of them when None); across
    processes (``jax.distributed``), the devices of every process.

    Raises a one-line JaxgradsError when the platform has fewer devices than asked for.
    """
    devices = jax.devices(platform)
    if count is not None and not 1 <= count <= len(devices):
        raise JaxgradsError(
            f"--devices {count}: JAX sees {len(devices)} {platform} device(s); valid: 1-{len(devices)}"
        )
    return Mesh(np.array(devices[: count or len(devices)]), (AXIS,))


def split(mesh: Mesh) -> NamedSharding:
    """Leading axis split over the mesh."""
    return NamedSharding(mesh, PartitionSpec(AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """A whole copy on every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec())


def _unit_block(count: int, shape: tuple[int, ...], dtype, mesh: Mesh) -> jax.Array:
    """The ``count`` unit vectors (each reshaped to ``shape``) padded with zero ones to a multiple of
    the mesh size and split over it: each device materializes its own rows only."""
    eye = jnp.eye(padded(count, mesh.size), count, dtype=dtype)
    return jax.lax.with_sharding_constraint(eye, split(mesh)).reshape((-1, *shape))


def _jacrev_sharded(problem, derivative, mesh: Mesh):
    """Rows of J: one VJP per (padded) output cotangent, the cotangents split over the mesh."""

    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        y, vjp = jax.vjp(f, w)
        rows = jax.vmap(lambda ct: vjp(ct)[0])(_unit_block(y.size, y.shape, y.dtype, mesh))
        return jax.lax.with_sharding_constraint(rows, split(mesh))

    return jac


def _jacfwd_sharded(problem, derivative, mesh: Mesh):
    """Columns of J: one JVP per (padded) input tangent, the tangents split over the mesh."""

    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        cols = jax.vmap(lambda t: jax.jvp(f, (w,), (t,))[1])(_unit_block(w.size, w.shape, w.dtype, mesh))
        return jax.lax.with_sharding_constraint(cols, split(mesh))

    return jac


def gather(block: jax.Array) -> np.ndarray:
    """The whole of a sharded block on this host; across processes, gathered from all of them (a
    collective every process calls)."""
    if block.is_fully_addressable:
        return np.asarray(block)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(block, tiled=True))


def assemble(block: np.ndarray, mode: str, out_shape, wrt_shape) -> np.ndarray:
    """A gathered block (rows for reverse mode, columns for forward mode, padded) in the closed
    form's layout ``out_shape + wrt_shape``."""
    out_size, wrt_size = math.prod(out_shape), math.prod(wrt_shape)
    if mode == "reverse":
        return block[:out_size].reshape((*out_shape, *wrt_shape))
    cols = block[:wrt_size].reshape(wrt_size, out_size)
    return cols.T.reshape((*out_shape, *wrt_shape))


SHARDED: tuple[Method, ...] = (
    Method("jacrev_sharded", 1, _jacrev_sharded, basis="out", mode="reverse", family="sharded", kind="mesh",
           doc="VJPs over the output basis split over a device mesh; J left in row shares"),
    Method("jacfwd_sharded", 1, _jacfwd_sharded, basis="in", mode="forward", family="sharded", kind="mesh",
           doc="JVPs over the input basis split over a device mesh; J left in column shares"),
)  # fmt: skip
