"""Markdown reports from a results CSV: machine header, a summary, and per-target method tables.

Per problem and wrt, sizes are rows and methods columns; a cell holds the median time and, in
brackets, that time over the ``analytic`` method's (``0.5×`` is twice as fast as the closed form).
The fastest method of each row is bold; ``†`` marks kernels within 10× of the dispatch floor (their
time is mostly call overhead); failed accuracy, skipped and error rows say so.
"""

from __future__ import annotations

import math

import pandas as pd

from jaxgrads.schema import KEY

__all__ = ["format_seconds", "markdown_report", "summary_table"]

DISPATCH_BOUND_FACTOR = 10


def format_seconds(t: float) -> str:
    """``12.3 µs``, ``4.56 ms``, ``1.23 s``."""
    if t is None or not math.isfinite(t):
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t / 1e-9:.3g} ns"


def _size_label(row) -> str:
    m, n, b = int(row["m"]), int(row["n"]), int(row["batch"])
    core = f"{n}" if m in (0, n) else f"{m}x{n}"
    core = f"{core}, batch {b}" if b else core
    return f"{core} {row['dtype']}"


def _cell(row, analytic: float | None, fastest: bool, floor: float) -> str:
    if row["status"] == "skipped":
        return "skipped"
    if row["status"] == "error":
        return "error"
    t = float(row["time_median_s"])
    text = format_seconds(t)
    if analytic and row["method"] != "analytic":
        text += f" ({t / analytic:.2g}×)"
    if fastest:
        text = f"**{text}**"
    if math.isfinite(floor) and t < DISPATCH_BOUND_FACTOR * floor:
        text += " †"
    if not row["ok"]:
        text += " ✗acc"
    return text


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _timed(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["status"] == "ok") & df["time_median_s"].notna()]


def summary_table(df: pd.DataFrame) -> str:
    """One line per (problem, wrt, size, dtype): the fastest method and the common ones' times."""
    rows = []
    for (problem, wrt, *_), group in df.groupby(list(KEY[:2]) + ["m", "n", "batch", "dtype"], sort=False):
        timed = _timed(group)
        if timed.empty:
            continue
        best = timed.loc[timed["time_median_s"].idxmin()]
        by = timed.set_index("method")["time_median_s"]
        rows.append(
            [
                problem,
                wrt,
                _size_label(best),
                best["method"],
                format_seconds(best["time_median_s"]),
                *(format_seconds(by.get(m, math.nan)) for m in ("analytic", "jacfwd", "jacrev")),
            ]
        )
    header = ["problem", "wrt", "size", "fastest", "time", "analytic", "jacfwd", "jacrev"]
    return _table(header, rows)


def _target_table(group: pd.DataFrame, floor: float) -> str:
    methods = list(dict.fromkeys(group["method"]))
    rows = []
    for _, case in group.groupby(["m", "n", "batch", "dtype"], sort=False):
        by = {r["method"]: r for r in case.to_dict("records")}
        timed = _timed(case)
        fastest = timed.loc[timed["time_median_s"].idxmin(), "method"] if not timed.empty else None
        a = by.get("analytic")
        analytic = float(a["time_median_s"]) if a is not None and a["status"] == "ok" else None
        first = next(iter(by.values()))
        rows.append(
            [_size_label(first)]
            + [_cell(by[m], analytic, m == fastest, floor) if m in by else "" for m in methods]
        )
    return _table(["size"] + methods, rows)


def markdown_report(df: pd.DataFrame, title: str = "jaxgrads results") -> str:
    """The whole report for one results table (normally one run)."""
    first = df.iloc[0]
    floor = float(pd.to_numeric(df.get("dispatch_floor_s"), errors="coerce").median())
    runs = ", ".join(dict.fromkeys(df["run_id"].astype(str)))
    header = [
        f"# {title}",
        "",
        f"- run: {runs}, started {first['started_at']}, commit {first['git_commit'] or 'unknown'}",
        f"- machine: {first['host']}, {first['cpu_model']}, {first.get('cpu_count', '?')} cores",
        f"- device: {first['backend']} ({first['device_kind']}); matmul precision "
        f"{first.get('matmul_precision', '?')}; x64 {first['x64']}",
        f"- software: jax {first['jax_version']}, jaxlib {first['jaxlib_version']}; "
        f"persistent compilation cache: {first.get('compile_cache', '?')}",
        f"- dispatch floor (compiled no-op): {format_seconds(floor)}; "
        f"rows: {len(df)} ({(df['status'] == 'ok').sum()} ok, {(df['status'] == 'skipped').sum()} skipped, "
        f"{(df['status'] == 'error').sum()} error, {(~df['ok'] & (df['status'] == 'ok')).sum()} inaccurate)",
        "",
        "Cells: median time per Jacobian (time ÷ the `analytic` closed form's). **Bold**: fastest "
        f"in the row. †: within {DISPATCH_BOUND_FACTOR}× the dispatch floor (dispatch-bound). "
        "✗acc: outside the dtype's tolerance.",
        "",
        "## Summary",
        "",
        summary_table(df),
    ]
    body = []
    for (problem, wrt), group in df.groupby(["problem", "wrt"], sort=False):
        body += ["", f"## {problem} / {wrt}", "", _target_table(group, floor)]
    notes = []
    for r in df[df["status"] != "ok"].to_dict("records"):
        notes.append(
            f"- {r['status']}: {r['problem']}/{r['wrt']}/{r['method']} {_size_label(r)}: {r['message']}"
        )
    for r in df[(df["status"] == "ok") & ~df["ok"]].to_dict("records"):
        notes.append(
            f"- inaccurate: {r['problem']}/{r['wrt']}/{r['method']} {_size_label(r)}: "
            f"err_f64 {float(r['err_f64']):.3g}, max abs {float(r['max_abs_err']):.3g}"
        )
    if notes:
        body += ["", "## Skipped, failed and inaccurate rows", ""] + notes
    return "\n".join(header + body) + "\n"
