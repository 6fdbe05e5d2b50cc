"""Formatting shared by the runner, the report, the findings, the plots and the gate: kernel ids,
size and method labels, times, markdown tables. One definition each."""

from __future__ import annotations

import math

__all__ = [
    "format_seconds",
    "kernel_id",
    "method_label",
    "row_kernel_id",
    "size_label",
    "size_text",
    "table",
]


def kernel_id(problem: str, wrt: str, method: str, label: str, dtype: str, chunk_size: int = 0) -> str:
    """The case id, e.g. ``quadratic-x-jacrev-1024-float32``; ``-c64`` appended for chunk size 64."""
    return f"{problem}-{wrt}-{method}-{label}-{dtype}" + (f"-c{chunk_size}" if chunk_size else "")


def size_text(m: int, n: int, batch: int = 0, *, sep: str = "-b") -> str:
    """``1024`` when square or one-dimensional (m = 0), ``4096x64`` when not; ``-b8`` for a batch."""
    core = f"{n}" if m in (0, n) else f"{m}x{n}"
    return f"{core}{sep}{batch}" if batch else core


def _int(value) -> int:
    """The integer in a results cell; 0 for a missing one (None, NaN, pandas' NA)."""
    try:
        return 0 if value is None or value != value else int(value)
    except TypeError:  # pandas' NA has no truth value
        return 0


def row_kernel_id(row) -> str:
    """The runner's case id from a results row (0 marks a dimension the problem does not use)."""
    label = size_text(_int(row["m"]), _int(row["n"]), _int(row["batch"]))
    return kernel_id(
        row["problem"], row["wrt"], row["method"], label, row["dtype"], _int(row.get("chunk_size"))
    )


def format_seconds(t: float) -> str:
    """``12.3 µs``, ``4.56 ms``, ``1.23 s``."""
    if t is None or not math.isfinite(t):
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t / 1e-9:.3g} ns"


def method_label(row) -> str:
    """The method's name, with ``·c64`` for a chunked method's chunk size."""
    chunk = _int(row.get("chunk_size", 0))
    return f"{row['method']}·c{chunk}" if chunk else str(row["method"])


def size_label(row) -> str:
    """``1024 float32``, ``512x16 float32``, ``64x64, batch 4 float32`` (0 marks an unused dimension)."""
    return f"{size_text(_int(row['m']), _int(row['n']), _int(row['batch']), sep=', batch ')} {row['dtype']}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
