r"""A pytree's Jacobian checked block by block: each (output leaf, argument leaf) block against the
same block of the float64 reference.

A function of pytrees (:mod:`jaxgrads.problems.trees`) has one Jacobian matrix whose blocks are
$\partial o_i / \partial \ell_j$; a normwise check of the whole matrix lets a small block (a bias's,
a norm layer's scale) be wrong by far more than its own size while the large blocks hide it. So each
block is judged on its own, normwise against its own norm:
$e_{ij} = \|J_{ij} - R_{ij}\|_F / \|R_{ij}\|_F$ (the error itself where the reference block is 0),
within ``normwise_tolerance(dtype, k, r_ij)`` where $r_{ij}$ is the same-dtype reference's error in
that block (:mod:`jaxgrads.measure.tolerance`). The row's ``err_f64`` is the worst block's, its
``ok`` whether every block passes, and its message names the worst block by its leaves' paths.
"""

from __future__ import annotations

import math

import numpy as np

from jaxgrads.measure.tolerance import normwise_tolerance

__all__ = ["block_accuracy"]


def _relative(a: np.ndarray, r: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        diff, norm = float(np.linalg.norm((a - r).ravel())), float(np.linalg.norm(r.ravel()))
    return diff / norm if norm > 0 else diff


def block_accuracy(flat, order: int, actual: np.ndarray, reference: np.ndarray, same, dtype, k: int,
                   name: str) -> dict:  # fmt: skip
    """``err_f64``, ``ok`` and, for a row that fails, ``message``, from the blocks of ``flat``
    (:class:`jaxgrads.problems.trees.Flat`); ``same``: the reference in the kernel's dtype, or None;
    ``name``: what the reference is, for the message."""
    A, R = flat.matrix(actual, order), flat.matrix(reference, order)
    S = None if same is None else flat.matrix(np.asarray(same, np.float64), order)
    worst_err, failing = -1.0, None  # the largest error; the block furthest over its tolerance
    for label, rows, cols in flat.blocks(order):
        a, r = A[..., rows, cols], R[..., rows, cols]
        err = _relative(a, r)
        if not math.isfinite(err):
            err = math.inf
        worst_err = max(worst_err, err)
        tol = normwise_tolerance(dtype, k, math.nan if S is None else _relative(S[..., rows, cols], r))
        if not err <= tol and (failing is None or err / tol > failing[1] / failing[2]):
            failing = (label, err, tol)
    out = {"err_f64": worst_err, "ok": failing is None}
    if failing is not None:
        label, err, tol = failing
        out["message"] = (f"inaccurate against the {name} in the block {label}: normwise error {err:.2g} "
                          f"over the tolerance {tol:.2g}")  # fmt: skip
    return out
