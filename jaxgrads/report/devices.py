"""The report's devices section: the sharded methods against the number of devices.

- **Strong scaling**: one case (target, size) on 1, 2, 4, 8 ... devices: the time and each device's
  peak memory (XLA's ``memory_analysis`` of the partitioned program) per device count, and the time
  over the one-device time (ideal: 1/D).
- **Weak scaling**: the size growing with the devices so each device's share of the Jacobian stays
  the same (``jac_bytes / devices`` equal): time per device count (ideal: flat).
- **Reach**: per device count, the largest Jacobian a sharded method computed, and its peak per
  device: the memory frontier's answer to "how large a Jacobian fits on D devices".

Host devices of one CPU share its cores and memory bandwidth, so CPU figures measure partitioning
and communication overhead, not speedup; the section says so with the machine's core count.
"""

from __future__ import annotations

import pandas as pd

from jaxgrads.results.labels import format_seconds, method_label, size_label, table
from jaxgrads.results.schema import timed_rows

__all__ = ["devices_section", "scaling_rows"]

TARGET = ["problem", "wrt", "method", "batch", "dtype"]


def _mib(v: float) -> str:
    return f"{v / 2**20:.3g} MiB"


def scaling_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(strong, weak): the accurate, timed rows of the sharded methods that form each kind of series.

    Strong: a case (target and size) timed on at least two device counts. Weak: the other rows of
    one target whose per-device share ``jac_bytes / devices`` is the same at two or more device
    counts (one size per count); a series is labelled by that share.
    """
    t = timed_rows(df)
    t = t[t["ok"] & t["mesh_shape"].astype(str).str.len().gt(0)] if "mesh_shape" in t else t.iloc[0:0]
    if t.empty:
        return t, t
    t = t.assign(share=(t["jac_bytes"].astype(float) / t["devices"].astype(float)).round())
    strong = t.groupby([*TARGET, "m", "n"]).filter(lambda g: g["devices"].nunique() > 1)
    rest = t.drop(index=strong.index).drop_duplicates([*TARGET, "share", "devices"])
    weak = rest.groupby([*TARGET, "share"]).filter(lambda g: g["devices"].nunique() > 1)
    return strong, weak


def _target(r) -> str:
    return f"{r['problem']} / {r['wrt']}"


def _counts(g: pd.DataFrame) -> list[int]:
    return sorted(int(d) for d in g["devices"].unique())


def _strong_table(strong: pd.DataFrame) -> str:
    counts = _counts(strong)
    rows = []
    for _, g in strong.groupby([*TARGET, "m", "n"], sort=False):
        by = g.set_index(g["devices"].astype(int))
        base = float(by["time_median_s"].get(min(counts), float("nan")))
        cells = []
        for d in counts:
            if d not in by.index:
                cells.append("")
                continue
            t, peak = float(by.loc[d]["time_median_s"]), float(by.loc[d]["peak_bytes"])
            ratio = f" ({t / base:.2g}×)" if d != min(counts) else ""
            cells.append(f"{format_seconds(t)}{ratio}, {_mib(peak)}")
        first = g.iloc[0]
        rows.append([_target(first), size_label(first), method_label(first), *cells])
    header = ["target", "size", "method", *(f"{d} device{'s' * (d > 1)}" for d in counts)]
    return table(header, rows)


def _weak_table(weak: pd.DataFrame) -> str:
    counts = _counts(weak)
    rows = []
    for _, g in weak.groupby([*TARGET, "share"], sort=False):
        by = g.set_index(g["devices"].astype(int))
        first = g.iloc[0]
        cells = [
            f"{size_label(by.loc[d])}: {format_seconds(float(by.loc[d]['time_median_s']))}"
            if d in by.index else ""
            for d in counts
        ]  # fmt: skip
        rows.append([_target(first), method_label(first), _mib(first["share"]), *cells])
    header = ["target", "method", "share per device", *(f"{d} device{'s' * (d > 1)}" for d in counts)]
    return table(header, rows)


def _reach_table(df: pd.DataFrame) -> str:
    t = timed_rows(df)
    t = t[t["ok"] & t["mesh_shape"].astype(str).str.len().gt(0)]
    rows = []
    for d, g in t.groupby(t["devices"].astype(int)):
        r = g.loc[g["jac_bytes"].astype(float).idxmax()]
        rows.append([str(d), _target(r), size_label(r), method_label(r), _mib(float(r["jac_bytes"])),
                     _mib(float(r["peak_bytes"])), format_seconds(float(r["time_median_s"]))])  # fmt: skip
    return table(["devices", "target", "size", "method", "Jacobian", "peak per device", "time"], rows)


def devices_section(df: pd.DataFrame) -> str:
    """The section's markdown; "" when no sharded method ran on more than one device count."""
    if "mesh_shape" not in df.columns:
        return ""
    strong, weak = scaling_rows(df)
    if strong.empty and weak.empty:
        return ""
    parts = []
    backends = set(df["backend"].astype(str))
    if "cpu" in backends:
        cores = int(pd.to_numeric(df["cpu_count"], errors="coerce").max())
        parts += [
            f"These are host devices of one CPU: all of them share its {cores} core(s) and its memory "
            "bandwidth, so more devices cannot be faster here: the figures show the overhead of "
            "splitting the basis over devices (XLA's partitioned program), not speedup. Peak memory is "
            "XLA's, per device.",
            "",
        ]
    if not strong.empty:
        parts += ["Strong scaling (one case on more devices: time (÷ the fewest devices' time), peak per "
                  "device):", "", _strong_table(strong), ""]  # fmt: skip
    if not weak.empty:
        parts += ["Weak scaling (the size grows with the devices, each device's share of the Jacobian "
                  "fixed: ideal is flat):", "", _weak_table(weak), ""]  # fmt: skip
    parts += ["Largest Jacobian per device count (sharded methods):", "", _reach_table(df)]
    return "\n".join(parts)
