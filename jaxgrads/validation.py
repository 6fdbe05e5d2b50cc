"""Checks of user input, each failing with one line that names what was wrong and what is valid.

Every check raises :class:`JaxgradsError`, a ``ValueError``: the API lets it propagate, the CLI prints
its message and exits 2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import jax
import jax.numpy as jnp
import numpy as np

from jaxgrads.errors import JaxgradsError

__all__ = [
    "DTYPES",
    "JaxgradsError",
    "MAX_INT",
    "choose",
    "parse_size",
    "positive_int",
    "require_x64",
    "resolve_device",
    "resolve_dtype",
]

DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "bfloat16": np.dtype(jnp.bfloat16),
}
DEVICES = ("cpu", "gpu", "auto")

# a dimension, count or batch above this is a typo: XLA indexes dimensions with 32-bit integers here,
# and the CSV's integer columns must stay within int64 whatever the Jacobian's rank
MAX_INT = 2**31 - 1

_SIZE = re.compile(r"^([1-9][0-9]*)(?:x([1-9][0-9]*))?$")


def choose(kind: str, name: str, valid: Iterable[str]) -> str:
    """Returns ``name`` if it is one of ``valid``, else raises naming the valid choices."""
    valid = list(valid)
    if name not in valid:
        raise JaxgradsError(f"unknown {kind} {name!r}; valid: {', '.join(valid)}")
    return name


def positive_int(what: str, value: object) -> int:
    """Returns ``value`` as an int if it is a positive integer up to :data:`MAX_INT` (an int, or a
    string of digits)."""
    number = None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"[1-9][0-9]*", value):
        number = int(value)
    if number is None or number <= 0:
        raise JaxgradsError(f"{what} must be a positive integer, got {value!r}")
    if number > MAX_INT:
        raise JaxgradsError(f"{what} must be at most {MAX_INT}, got {value!r}")
    return number


def parse_size(text: str) -> tuple[int, int]:
    """Parses ``"1024"`` as (1024, 1024) and ``"4096x64"`` as (m, n) = (4096, 64)."""
    match = _SIZE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise JaxgradsError(
            f"invalid size {text!r}: expected a positive integer N or MxN, e.g. 1024 or 4096x64"
        )
    m = int(match.group(1))
    n = int(match.group(2)) if match.group(2) else m
    if max(m, n) > MAX_INT:
        raise JaxgradsError(f"invalid size {text!r}: each dimension at most {MAX_INT}")
    return m, n


def resolve_dtype(name: str) -> np.dtype:
    """Maps a dtype name to its NumPy dtype; only the names in :data:`DTYPES` are valid."""
    return DTYPES[choose("dtype", str(name), DTYPES)]


def require_x64(dtype: np.dtype) -> None:
    """Raises unless JAX can hold ``dtype``: float64 needs x64 mode, which is off by default."""
    if dtype == np.float64 and not jax.config.jax_enable_x64:
        raise JaxgradsError(
            "float64 needs JAX's x64 mode: set JAX_ENABLE_X64=1 or "
            "jax.config.update('jax_enable_x64', True) (the CLI turns it on unless --no-x64); "
            "valid without it: float32, bfloat16"
        )


def resolve_device(device: str | jax.Device = "auto") -> jax.Device:
    """The device to place inputs and kernels on: ``cpu``, ``gpu``, or ``auto`` (the GPU if JAX sees one)."""
    if isinstance(device, jax.Device):
        return device
    choose("device", str(device), DEVICES)
    if device in ("gpu", "auto"):
        try:
            return jax.local_devices(backend="gpu")[0]
        except RuntimeError:
            if device == "gpu":
                raise JaxgradsError(
                    f"--device gpu: JAX sees no GPU (backend: {jax.default_backend()}); "
                    "install the CUDA build with pip install '.[cuda]', or use --device cpu"
                ) from None
    return jax.local_devices(backend="cpu")[0]  # this process's own (jax.distributed: each has some)
