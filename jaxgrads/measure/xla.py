"""What XLA says a kernel costs: flops and bytes from ``cost_analysis``, buffers from ``memory_analysis``.

``cost_analysis()`` returns a dict whose keys vary by backend and version, so every key is read with
``.get`` and a missing one becomes NaN; a release without either analysis leaves its columns empty
and says so in the row's ``message`` (:mod:`jaxgrads.compat`).
A loop kernel runs its step once per output element: its flops and bytes are each executable's
cost times its call count, and its memory is the largest executable's.
"""

from __future__ import annotations

import math

from jaxgrads import compat

__all__ = ["cost_and_memory"]


def cost_and_memory(executables) -> dict[str, float | str]:
    """flops, bytes_accessed, temp_bytes, output_bytes, peak_bytes for ``((compiled, calls), ...)``;
    and ``message``, why, where this release lacks an analysis."""
    flops = bytes_accessed = 0.0 if executables else math.nan  # no XLA program: the torch peer
    temp = output = peak = math.nan
    missing: list[str] = []
    for compiled, calls in executables:
        cost, why_cost = compat.cost_analysis(compiled)
        mem, why_mem = compat.memory_analysis(compiled)
        missing += [w for w in (why_cost, why_mem) if w and w not in missing]
        absent = 0.0 if cost else math.nan  # a key missing from a non-empty analysis counted nothing
        flops += calls * float(cost.get("flops", absent))
        bytes_accessed += calls * float(cost.get("bytes accessed", absent))
        if mem is not None:
            t = float(getattr(mem, "temp_size_in_bytes", math.nan))
            o = float(getattr(mem, "output_size_in_bytes", math.nan))
            a = float(getattr(mem, "argument_size_in_bytes", 0.0))
            p = float(getattr(mem, "peak_memory_in_bytes", 0.0) or (a + o + t))
            temp = t if math.isnan(temp) else max(temp, t)
            output = o if math.isnan(output) else max(output, o)
            peak = p if math.isnan(peak) else max(peak, p)
    columns = {
        "flops": flops,
        "bytes_accessed": bytes_accessed,
        "temp_bytes": temp,
        "output_bytes": output,
        "peak_bytes": peak,
    }
    return columns | ({"message": "; ".join(missing)} if missing else {})
