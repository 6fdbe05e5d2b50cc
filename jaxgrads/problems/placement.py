r"""Writing a Jacobian whose entries are an input's, placed: the forms XLA:CPU writes near its floor.

A closed form that only places entries (no flops: $\partial z/\partial x = I_B \otimes W^T$, the Hessian
$A + A^T$) is bound by its traffic, and two access patterns keep XLA:CPU far from it:

- **a transpose of a power-of-two matrix**: reading $A^T$ walks A with a stride of $n$ entries, and at
  $n = 2^k$ every line of a column falls into the same few cache sets, so each read misses (NumPy's
  ``A + A.T`` pays the same). :func:`transposed` first copies A into rows of $n + 16$ entries (one
  contiguous pass), whose transpose walks a stride that maps to every set.
- **a block-diagonal Jacobian as a broadcast product** ($\delta_{bb'} W^T_{ji}$, the textbook
  Kronecker form): XLA's 4-D broadcast loop writes every entry through an index computation and a
  multiply. :func:`block_diagonal` writes zeros (a fill, at the write rate) and then copies the block
  into its B places.

Both are timed beside the textbook forms (``analytic_textbook``) in every run; ``make closed-forms``
writes their distances to the floor at 512 and 1024 into docs/methodology.md.

The ``optimization_barrier`` keeps XLA from fusing the padded copy back into the strided read. The
padded copy is for XLA:CPU: XLA:GPU tiles a transpose through shared memory, where the copy would only
add a pass, so :func:`transposed` pads where JAX's default backend is the CPU (a ``--device cpu`` run
on a GPU machine takes the plain form: the same values, the old speed). Under any other namespace
(NumPy, PyTorch) both functions are the plain forms: their libraries take them as written.
"""

from __future__ import annotations

__all__ = ["block_diagonal", "transposed"]

PAD = 16  # entries added to each row: one 64-byte line of float32, so no stride is a power of two


def _is_jax(xp) -> bool:
    return getattr(xp, "__name__", "").startswith("jax")


def transposed(xp, M):  # M: shape=(r, c)
    r"""$M^T$, shape (c, r), read from a copy of M with padded rows under ``jax.numpy`` on a CPU."""
    if not _is_jax(xp):
        return M.T
    import jax

    from jaxgrads.compat import optimization_barrier

    if jax.default_backend() != "cpu":
        return M.T
    padded = optimization_barrier(xp.pad(M, ((0, 0), (0, PAD))))
    return padded[:, : M.shape[1]].T


def block_diagonal(xp, block, count: int):  # block: shape=(r, c)
    r"""$J_{b j b' i} = \delta_{bb'}\,\text{block}_{ji}$, shape (count, r, count, c): zeros, then the
    block copied into its ``count`` diagonal places."""
    r, c = block.shape
    shape = (count, r, count, c)
    if _is_jax(xp):
        from jax import lax

        J = xp.zeros(shape, block.dtype)
        piece = block[None, :, None, :]
        for b in range(count):
            J = lax.dynamic_update_slice(J, piece, (b, 0, b, 0))
        return J
    new_zeros = getattr(block, "new_zeros", None)  # PyTorch: on the block's device
    J = new_zeros(shape) if new_zeros is not None else xp.zeros(shape, dtype=block.dtype)
    for b in range(count):
        J[b, :, b, :] = block
    return J
