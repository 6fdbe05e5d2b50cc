"""``--save-arrays``: one row's inputs and Jacobian as an .npz file that ``np.load`` alone reads."""

from __future__ import annotations

import os
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxgrads.results.files import write_error

__all__ = ["SAVE_ARRAYS_MAX_BYTES", "save_arrays"]

SAVE_ARRAYS_MAX_BYTES = 16 * 2**20  # a larger Jacobian is not saved


def save_arrays(path: Path, inputs: dict, J) -> None:
    """Writes one row's inputs and Jacobian to ``path`` (.npz) that ``np.load`` alone reads.

    bfloat16 inputs are stored as float32 (every bfloat16 is exactly a float32) with the case's
    dtype name under ``dtype``; the Jacobian is float64. Written beside and renamed, so a failure
    (a full disk) leaves no partial file, and stops the sweep with one line.
    """
    bf16 = np.dtype(jnp.bfloat16)
    arrays = {k: (np.asarray(v, np.float32) if np.asarray(v).dtype == bf16 else np.asarray(v))
              for k, v in inputs.items()}  # fmt: skip
    arrays["dtype"] = np.array(str(np.asarray(next(iter(inputs.values()))).dtype))
    arrays["jacobian"] = np.asarray(J, np.float64)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(
            path, exc, "the rows before it are kept; free space and rerun with --resume"
        ) from None
