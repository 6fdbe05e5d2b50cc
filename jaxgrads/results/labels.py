"""Formatting shared by the report, the findings, the plots and the gate: times, labels, tables."""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["format_seconds", "method_label", "size_label", "table"]


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
    chunk = row.get("chunk_size", 0)
    chunk = 0 if chunk is None or pd.isna(chunk) else int(chunk)
    return f"{row['method']}·c{chunk}" if chunk else str(row["method"])


def size_label(row) -> str:
    """``1024 float32``, ``512x16 float32``, ``64x64, batch 4 float32`` (0 marks an unused dimension)."""
    m, n, b = int(row["m"]), int(row["n"]), int(row["batch"])
    core = f"{n}" if m in (0, n) else f"{m}x{n}"
    core = f"{core}, batch {b}" if b else core
    return f"{core} {row['dtype']}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
