r"""The machine's probes measured again at the end of a run, and every floor from the best of both.

A floor is a bound no kernel may beat: a kernel's time $t \ge$ ``floor_s``. It is computed from the
ceilings (bandwidth per level, FLOP/s, first-touch rate) and the dispatch floor, probed once at the
start of a run. A slow first second (the machine busy for a moment, frequencies still ramping) makes
those ceilings low, so the floors high, and a later kernel then "beats its floor": a defect of the
measurement, not of the kernel. So a run probes the machine again once its rows are written and
takes, per dtype, each ceiling's *higher* value and the *lower* dispatch floor of the two
(:meth:`jaxgrads.measure.roofline.Ceilings.best`): the floor can only move down, the bound only
get safer. The rows this run timed are then written again with those ceilings and their floor and
roofline columns (``floor_s``, ``floor_frac``, ``floor_level``, ``roofline_frac``, ...), in one atomic
rewrite (as :mod:`jaxgrads.sweep.instructions` adds its counts): an interrupted rewrite leaves the rows
as they were, with the start's ceilings. Rows an earlier process wrote (``--resume``) keep their own.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from pathlib import Path

from jaxgrads.measure.floor import Traffic, method_floor
from jaxgrads.measure.roofline import Ceilings, achieved

__all__ = ["floor_columns", "refloor", "rewrite_floors"]


def floor_columns(row: Mapping, ceilings: Ceilings, dispatch_s: float) -> dict[str, float | str]:
    """The ceiling, roofline and floor columns of a timed ``row`` under ``ceilings``."""
    seconds = float(row["time_median_s"])
    columns: dict[str, float | str] = {**ceilings.columns(), "dispatch_floor_s": dispatch_s}
    columns |= achieved(float(row["flops"]), float(row["bytes_accessed"]), seconds, ceilings)
    traffic_bytes, read_bytes = float(row["traffic_bytes"]), float(row["traffic_read_bytes"])
    traffic = Traffic(read_bytes, traffic_bytes - read_bytes, float(row["min_flops"]))
    floor = method_floor(row["method"], traffic, ceilings, dispatch_s)
    frac = floor.seconds / seconds if seconds > 0 and math.isfinite(seconds) else math.nan
    return columns | {"floor_s": floor.seconds, "floor_frac": frac, "floor_level": floor.level}


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def rewrite_floors(
    out: Path, keys: Collection[tuple], ceilings: Mapping[str, Ceilings | None], dispatch_s: float
) -> int:
    """Writes the timed rows of ``out`` whose key is in ``keys`` again under ``ceilings`` (per dtype)
    and ``dispatch_s``; the other rows as they are. Returns the number of rows rewritten."""
    import pandas as pd

    from jaxgrads.results.files import atomic_write_text
    from jaxgrads.results.schema import row_key

    rows = pd.read_csv(out, dtype=str, keep_default_na=False)
    changed = 0
    for i, r in enumerate(rows.to_dict("records")):
        c = ceilings.get(r["dtype"])
        if r["status"] != "ok" or c is None or row_key(r) not in keys or not r["floor_s"]:
            continue
        for column, value in floor_columns(r, c, dispatch_s).items():
            rows.loc[i, column] = _cell(value)
        changed += 1
    if changed:
        atomic_write_text(out, rows.to_csv(index=False))
    return changed


def refloor(out: Path, ctx, keys: Collection[tuple]) -> int:
    """Probes the machine again (``ctx``'s sweep and device, as at the start) and rewrites the rows
    of ``keys`` in ``out`` from the best of both probes. Returns the number of rows rewritten."""
    from jaxgrads.sweep.context import ended_with, machine_probes

    if not keys or all(c is None for c in ctx.ceilings.values()) or not ctx.probe_again:
        return 0
    with ctx.phases("probes"):
        start = {dtype: c for dtype, c in ctx.ceilings.items() if c is not None}
        # the first-touch rate again where the start measured it (its outputs are large enough)
        touch = math.inf if any(math.isfinite(c.first_touch_min_bytes) for c in start.values()) else 0
        probes, again = machine_probes(ctx.sweep, ctx.device, largest_output_bytes=touch, warm=True)
        best = {dtype: c.best(again.get(dtype)) for dtype, c in start.items()}
        dispatch = min(float(ctx.meta["dispatch_floor_s"]), probes["dispatch_floor_s"])
        ended_with(ctx.device, dispatch, {**again, **best})  # the next run's start, where reused
        return rewrite_floors(out, keys, best, dispatch)
