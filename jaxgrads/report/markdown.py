"""Markdown reports from a results CSV: machine header, a summary, and per-target method tables.

Per problem and wrt, sizes are rows and methods columns; a cell holds the median time and, in
brackets, that time over the row's fastest closed form's (:func:`jaxgrads.report.roles.fastest_closed_form`,
named in the table: ``0.5×`` is twice as fast as it).
The fastest method of each row is bold; ``†`` marks kernels within 10× of the dispatch floor (their
time is mostly call overhead); failed accuracy, skipped and error rows say so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from jaxgrads.report.roles import (
    CLOSED_FORM,
    FORWARD,
    HOST_CLOSED_FORM,
    REVERSE,
    TEXTBOOK,
    backend_of,
    fastest_closed_form,
    frontier_methods,
)
from jaxgrads.results.labels import format_seconds, method_label, size_label, table
from jaxgrads.results.schema import KEY, one_per_case, timed_rows

__all__ = ["markdown_report", "peer_table", "status_counts", "summary_table"]

DISPATCH_BOUND_FACTOR = 10


def _cell(row, analytic: float | None, fastest: bool, floor: float, divisor: str | None = None) -> str:
    if row["status"] == "skipped":
        return "skipped"
    if row["status"] == "error":
        return "error"
    t = float(row["time_median_s"])
    text = format_seconds(t)
    if analytic and method_label(row) != divisor:
        text += f" ({t / analytic:.2g}×)"
    if fastest:
        text = f"**{text}**"
    if math.isfinite(floor) and t < DISPATCH_BOUND_FACTOR * floor:
        text += " †"
    if not row["ok"]:
        text += " ✗acc"
    return text


def _timed(df: pd.DataFrame) -> pd.DataFrame:
    """Timed rows whose Jacobian was right: an inaccurate or NaN kernel is never named fastest."""
    t = timed_rows(df)
    return t[t["ok"]]


def status_counts(df: pd.DataFrame) -> str:
    """``5 ok, 1 skipped, 0 error, 2 inaccurate``: the row counts the report and the CLI quote."""
    status = df["status"]
    inaccurate = int((~df["ok"] & (status == "ok")).sum())
    return (
        f"{int((status == 'ok').sum())} ok, {int((status == 'skipped').sum())} skipped, "
        f"{int((status == 'error').sum())} error, {inaccurate} inaccurate"
    )


def summary_table(df: pd.DataFrame) -> str:
    """One line per (problem, wrt, size, dtype): the fastest method and the common ones' times."""
    rows = []
    for (problem, wrt, *_), group in df.groupby(list(KEY[:2]) + ["m", "n", "batch", "dtype"], sort=False):
        timed = _timed(group)
        if timed.empty:
            continue
        best = timed.loc[timed["time_median_s"].idxmin()]
        by = timed.set_index("method")["time_median_s"]
        by = by[~by.index.duplicated()]
        rows.append(
            [
                problem,
                wrt,
                size_label(best),
                method_label(best),
                format_seconds(best["time_median_s"]),
                *(format_seconds(by.get(m, math.nan)) for m in (CLOSED_FORM, FORWARD, REVERSE)),
            ]
        )
    header = ["problem", "wrt", "size", "fastest", "time", CLOSED_FORM, FORWARD, REVERSE]
    return table(header, rows)


def _target_table(group: pd.DataFrame, floor: float) -> str:
    methods = list(dict.fromkeys(method_label(r) for r in group.to_dict("records")))
    rows = []
    for _, case in group.groupby(["m", "n", "batch", "dtype"], sort=False):
        by = {method_label(r): r for r in case.to_dict("records")}
        timed = _timed(case)
        fastest = method_label(timed.loc[timed["time_median_s"].idxmin()]) if not timed.empty else None
        closed = fastest_closed_form(case)
        divisor, analytic = closed if closed is not None else (None, None)
        first = next(iter(by.values()))
        rows.append(
            [size_label(first)]
            + [_cell(by[m], analytic, m == fastest, floor, divisor) if m in by else "" for m in methods]
        )
    return table(["size"] + methods, rows)


def _run_header(df: pd.DataFrame, title: str, floor: float) -> list[str]:
    """The title and the run's machine, software, dispatch floor and row counts; how to read cells."""
    first = df.iloc[0]
    runs = ", ".join(dict.fromkeys(df["run_id"].astype(str)))
    return [
        f"# {title}",
        "",
        f"- run: {runs}, started {first['started_at']}, commit {first['git_commit'] or 'unknown'}",
        f"- machine: {first['host']}, {first['cpu_model']}, {first.get('cpu_count', '?')} cores",
        f"- device: {first['backend']} ({first['device_kind']}); matmul precision "
        f"{first.get('matmul_precision', '?')}; x64 {first['x64']}",
        f"- software: jax {first['jax_version']}, jaxlib {first['jaxlib_version']}; "
        f"persistent compilation cache: {first.get('compile_cache', '?')}",
        f"- dispatch floor (compiled no-op): {format_seconds(floor)}; rows: {len(df)} ({status_counts(df)})",
        "",
        f"Cells: median time per Jacobian (time ÷ the fastest closed form's in the row: `{CLOSED_FORM}`, "
        f"`{TEXTBOOK}` or `{HOST_CLOSED_FORM}`, the one without a ratio). **Bold**: fastest "
        f"in the row. †: within {DISPATCH_BOUND_FACTOR}× the dispatch floor (dispatch-bound). "
        "✗acc: outside the dtype's tolerance.",
    ]


def markdown_report(
    df: pd.DataFrame,
    title: str = "jaxgrads results",
    *,
    figures: Mapping[str, Sequence[Path]] | None = None,
    relative_to: Path | None = None,
) -> str:
    """The whole report for one results table (one run, or several concatenated).

    Args:
      df: the rows.
      title: the first heading.
      figures: {name: [png, svg, ...]} from :func:`jaxgrads.report.figures.plot_all`, embedded by their PNG.
      relative_to: the report's folder, so the figure links are relative to it.
    """
    from jaxgrads.report.devices import devices_section
    from jaxgrads.report.findings import findings_section  # they format with this module
    from jaxgrads.report.floor import floor_section
    from jaxgrads.report.structure import structure_section
    from jaxgrads.report.verdict import verdict_markdown, verdict_table

    everything, df = df, one_per_case(df)  # a case on several device counts: the devices section's
    floor = float(pd.to_numeric(df.get("dispatch_floor_s"), errors="coerce").median())
    header = [*_run_header(df, title, floor), "", "## Summary", "", summary_table(df)]
    body = []
    if len(verdict_table(df)):
        intro = ("The fastest accurate autodiff Jacobian per target, at its largest size in the run, over "
                 "its floor and over the closed form.")  # fmt: skip
        body += ["", "## Verdict", "", intro, "", verdict_markdown(df)]
    body += ["", "## Findings", "", findings_section(df)]
    floors = floor_section(df)
    if floors:
        body += ["", "## Floor", "", floors]
    if figures:
        body += ["", "## Figures", ""]
        for name, paths in figures.items():
            png = next((p for p in paths if Path(p).suffix == ".png"), paths[0])
            link = os.path.relpath(png, relative_to) if relative_to else str(png)
            body += [f"![{name}]({Path(link).as_posix()})", ""]
    for (problem, wrt), group in df.groupby(["problem", "wrt"], sort=False):
        body += ["", f"## {problem} / {wrt}", "", _target_table(group, floor)]
    for title, section in (
        ("JAX vs PyTorch", peer_table(df)),
        ("Memory frontier", frontier_section(df)),
        ("Structure", structure_section(df)),
        ("Devices", devices_section(everything)),
    ):
        if section:
            body += ["", f"## {title}", "", section]
    notes = []
    for r in df[df["status"] != "ok"].to_dict("records"):
        notes.append(
            f"- {r['status']}: {r['problem']}/{r['wrt']}/{r['method']} {size_label(r)}: {r['message']}"
        )
    for r in df[(df["status"] == "ok") & ~df["ok"]].to_dict("records"):
        notes.append(
            f"- inaccurate: {r['problem']}/{r['wrt']}/{method_label(r)} {size_label(r)}: "
            f"err_f64 {float(r['err_f64']):.3g}, max abs {float(r['max_abs_err']):.3g}"
        )
    if notes:
        body += ["", "## Skipped, failed and inaccurate rows", ""] + notes
    return "\n".join(header + body) + "\n"


def peer_table(df: pd.DataFrame) -> str:
    """Per problem, wrt and size: the best JAX method, the best PyTorch method, and their time ratio."""
    timed = _timed(df).assign(backend=lambda d: d["method"].map(backend_of))
    if timed.empty or set(timed["backend"]) != {"jax", "torch"}:
        return ""
    rows = []
    for _, case in timed.groupby(["problem", "wrt", "m", "n", "batch", "dtype"], sort=False):
        best = {b: g.loc[g["time_median_s"].idxmin()] for b, g in case.groupby("backend")}
        if len(best) < 2:
            continue
        j, t = best["jax"], best["torch"]
        rows.append(
            [
                j["problem"],
                j["wrt"],
                size_label(j),
                f"{method_label(j)} {format_seconds(j['time_median_s'])}",
                f"{method_label(t)} {format_seconds(t['time_median_s'])}",
                f"{j['time_median_s'] / t['time_median_s']:.2g}",
            ]
        )
    header = ["problem", "wrt", "size", "best JAX", "best PyTorch", "JAX ÷ PyTorch time"]
    return table(header, rows) if rows else ""


def _pareto(points: pd.DataFrame) -> pd.Series:
    """Whether each (peak_bytes, time) point is not beaten on both by another point."""
    peak, time = points["peak_bytes"].to_numpy(), points["time_median_s"].to_numpy()
    keep = []
    for i in range(len(points)):
        dominated = ((peak <= peak[i]) & (time <= time[i]) & ((peak < peak[i]) | (time < time[i]))).any()
        keep.append(not dominated)
    return pd.Series(keep, index=points.index)


def frontier_section(df: pd.DataFrame) -> str:
    """Time against XLA's peak memory for the chunked methods and their unchunked twins, with the
    Pareto-optimal points marked (each method's reach is the findings' reach table)."""
    if "chunk_size" not in df.columns or not (df["chunk_size"].fillna(0) > 0).any():
        return ""
    family = frontier_methods()
    parts = []
    chunked = df[df["chunk_size"].fillna(0) > 0]
    for (problem, wrt, m, n, batch, dtype), _ in chunked.groupby(
        ["problem", "wrt", "m", "n", "batch", "dtype"]
    ):
        case = _timed(df)
        case = case[
            (case["problem"] == problem) & (case["wrt"] == wrt) & (case["m"] == m) & (case["n"] == n)
            & (case["batch"] == batch) & (case["dtype"] == dtype) & case["method"].isin(list(family))
            & case["peak_bytes"].notna()
        ]  # fmt: skip
        if case.empty:
            continue
        case = case.sort_values("peak_bytes")
        best = _pareto(case)
        rows = [
            [method_label(r), f"{r['peak_bytes'] / 2**20:.3g} MiB", format_seconds(r["time_median_s"]),
             "yes" if best[i] else ""]
            for i, r in case.iterrows()
        ]  # fmt: skip
        parts += [f"{problem} / {wrt}, {size_label(case.iloc[0])}:", "",
                  table(["method", "peak (XLA)", "time", "on the frontier"], rows), ""]  # fmt: skip
    parts.append(
        "The largest size each method ran within the memory budget is the reach table under Findings."
    )
    return "\n".join(parts)
