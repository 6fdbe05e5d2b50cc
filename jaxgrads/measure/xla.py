"""What XLA says a kernel costs: flops and bytes from ``cost_analysis``, buffers from ``memory_analysis``.

``cost_analysis()`` returns a dict whose keys vary by backend and version, so every key is read with
``.get`` and a missing one becomes NaN. A loop kernel runs its step once per output element: its
flops and bytes are each executable's cost times its call count, and its memory is the largest
executable's.
"""

from __future__ import annotations

import math

__all__ = ["cost_and_memory"]


def _cost(compiled) -> dict:
    try:
        cost = compiled.cost_analysis()
    except Exception:  # a backend without cost analysis
        return {}
    if isinstance(cost, list | tuple):  # older jax returned one dict per device
        cost = cost[0] if cost else {}
    return cost or {}


def _memory(compiled):
    try:
        return compiled.memory_analysis()
    except Exception:
        return None


def cost_and_memory(executables) -> dict[str, float]:
    """flops, bytes_accessed, temp_bytes, output_bytes, peak_bytes for ``((compiled, calls), ...)``."""
    flops = bytes_accessed = 0.0 if executables else math.nan  # no XLA program: the torch peer
    temp = output = peak = math.nan
    for compiled, calls in executables:
        cost = _cost(compiled)
        absent = 0.0 if cost else math.nan  # a key missing from a non-empty analysis counted nothing
        flops += calls * float(cost.get("flops", absent))
        bytes_accessed += calls * float(cost.get("bytes accessed", absent))
        mem = _memory(compiled)
        if mem is not None:
            t = float(getattr(mem, "temp_size_in_bytes", math.nan))
            o = float(getattr(mem, "output_size_in_bytes", math.nan))
            a = float(getattr(mem, "argument_size_in_bytes", 0.0))
            p = float(getattr(mem, "peak_memory_in_bytes", 0.0) or (a + o + t))
            temp = t if math.isnan(temp) else max(temp, t)
            output = o if math.isnan(output) else max(output, o)
            peak = p if math.isnan(peak) else max(peak, p)
    return {
        "flops": flops,
        "bytes_accessed": bytes_accessed,
        "temp_bytes": temp,
        "output_bytes": output,
        "peak_bytes": peak,
    }
