r"""The report's "Floor" section: every kernel against the least time its derivative can take.

Computed from the rows' ``floor_s``, ``floor_level``, ``traffic_bytes`` and ceilings
(:mod:`jaxgrads.measure.floor`), never typed:

- the run's ceilings, per run and dtype;
- the **invariant**: no kernel faster than 0.9× its floor; a kernel that is is a defect of the
  floor, named here;
- the **regimes**: the share of timed kernels whose floor is bound by dispatch, a cache, memory
  (or first touch) or compute, and how many run within 10× the dispatch floor;
- per target and size, the floor, what bounds it, and the fastest method's, the closed form's and
  the two modes' distance from it (time ÷ floor: 1 is at the limit);
- findings: which methods come within 2× of the floor, where the gap is largest and why (the
  method's sequential steps, the basis it materializes, XLA's bytes and flops over the compulsory
  ones), and where the closed forms, which every ratio in the report divides by, are far from theirs.
"""

from __future__ import annotations

import math

import pandas as pd

from jaxgrads.measure.floor import INVARIANT, regime
from jaxgrads.methods import METHODS
from jaxgrads.report.findings import CASE
from jaxgrads.report.roles import CLOSED_FORM, FORWARD, HOST_CLOSED_FORM, REVERSE, TEXTBOOK
from jaxgrads.results.labels import format_seconds, method_label, size_label, table
from jaxgrads.results.schema import timed_rows

__all__ = ["floor_rows", "floor_section", "floor_violations", "gap_reason", "regime_coverage"]

NEAR = 2.0  # "within 2x of the floor"
DISPATCH_BOUND = 10.0  # "within 10x the dispatch floor"
LARGE = 512  # the closed forms with every dimension this large are checked against their floors
CEILING_COLUMNS = {
    "L1": "ceiling_l1_bytes_per_s",
    "L2": "ceiling_l2_bytes_per_s",
    "L3": "ceiling_l3_bytes_per_s",
    "memory": "ceiling_bytes_per_s",
    "first-touch": "ceiling_first_touch_bytes_per_s",
}


def floor_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Timed, accurate rows that carry a floor, with ``over`` = time ÷ floor (1 at the limit)."""
    if "floor_s" not in df.columns:
        return df.iloc[0:0]
    t = timed_rows(df)
    t = t[t["ok"]].copy()
    t["floor_s"] = pd.to_numeric(t["floor_s"], errors="coerce")
    t = t[t["floor_s"] > 0]
    t["over"] = t["time_median_s"] / t["floor_s"]
    return t


def floor_violations(df: pd.DataFrame) -> pd.DataFrame:
    """The timed rows faster than :data:`~jaxgrads.measure.floor.INVARIANT` × their floor."""
    t = floor_rows(df)
    return t[t["time_median_s"] < INVARIANT * t["floor_s"]]


def _num(row, key: str) -> float:
    """A row's number, NaN where the cell is missing or blank (a results CSV read as text)."""
    value = pd.to_numeric(pd.Series([row.get(key)]), errors="coerce").iloc[0]
    return float(value) if pd.notna(value) else math.nan


def gap_reason(row) -> str:
    """Why a kernel is far from its floor, from what the row measured (never a guess by name)."""
    method = METHODS.get(str(row["method"]))
    reasons = []
    count = _num(row, "steps")  # the case's (schema 6); an older file's, from the method's walk
    if math.isnan(count) and method is not None and method.steps is not None:
        walked = row["wrt_elements"] if method.steps == "in" else row["out_elements"]
        chunk = int(row.get("chunk_size") or 0)
        count = -(-int(walked) // chunk) if chunk else int(walked)
    if count > 1:
        count = int(count)
        reasons.append(
            f"{count} sequential steps ({format_seconds(row['time_median_s'] / max(count, 1))} each)"
        )
    jac, temp = _num(row, "jac_bytes"), _num(row, "temp_bytes")
    if method is not None and method.basis is not None and temp >= jac > 0:
        reasons.append(f"basis materialized: temporaries {temp / jac:.3g}× the Jacobian")
    traffic, xla_bytes = _num(row, "traffic_bytes"), _num(row, "bytes_accessed")
    if traffic > 0 and xla_bytes >= 2 * traffic:
        reasons.append(f"XLA moves {xla_bytes / traffic:.3g}× the compulsory bytes")
    minimal, flops = _num(row, "min_flops"), _num(row, "flops")
    minimal = 0.0 if math.isnan(minimal) else minimal
    if minimal == 0 and flops > 0:
        reasons.append(f"XLA counts {flops:.3g} flops where placing entries needs none")
    elif flops >= 2 * minimal > 0:
        reasons.append(f"XLA counts {flops / minimal:.3g}× the minimal flops")
    return "; ".join(reasons) or "not steps, basis, bytes or flops: the code XLA generates for it"


def _ceilings_note(t: pd.DataFrame) -> str:
    parts = []
    for (run, dtype), g in t.groupby(["run_id", "dtype"], sort=False):
        first = g.iloc[0]
        levels = ", ".join(
            f"{level} {float(first[col]) / 1e9:.3g}" for level, col in CEILING_COLUMNS.items()
            if col in first and pd.notna(first[col]) and str(first[col]) != ""
        )  # fmt: skip
        parts.append(
            f"run {run} {dtype}: {levels} GB/s; {float(first['ceiling_flops_per_s']) / 1e9:.3g} GFLOP/s; "
            f"dispatch {format_seconds(float(first['dispatch_floor_s']))}{_caches_note(first)}"
        )
    return "; ".join(parts)


def _caches_note(first) -> str:
    """The cache sizes a run used and their source (the ``cache_source`` column, schema 3)."""
    sizes = []
    for level in ("L1", "L2", "L3"):
        n = _num(first, f"cache_{level.lower()}_bytes")
        if n > 0:
            sizes.append(f"{level} {n / 2**20:g} MiB" if n >= 2**20 else f"{level} {n / 2**10:g} KiB")
    source = str(first.get("cache_source", "") or "").strip()
    source = "" if source == "nan" else source
    if not sizes:
        return f"; no cache sizes ({source})" if source else ""
    return f"; caches {', '.join(sizes)}" + (f" (from {source})" if source else "")


def regime_coverage(t: pd.DataFrame) -> str:
    """Which targets' kernels span the dispatch, cache and memory regimes, and which do not."""
    spans = t.assign(regime=t["floor_level"].astype(str).map(regime)).groupby(["problem", "wrt"], sort=False)
    spans = spans["regime"].agg(lambda s: set(s))
    wanted = {"dispatch", "cache", "memory"}
    short = [f"{p}/{w} ({', '.join(sorted(r & wanted)) or 'none'} only)" for (p, w), r in spans.items()
             if not wanted <= r]  # fmt: skip
    text = (
        f"{len(spans) - len(short)} of {len(spans)} targets have kernels in all of dispatch, cache and memory"
    )
    return text + (f"; not: {'; '.join(short)}." if short else ".")


def _regimes(t: pd.DataFrame) -> str:
    regimes = t["floor_level"].astype(str).map(regime)
    counts = regimes.value_counts()
    shares = ", ".join(f"{name} {counts[name]} ({counts[name] / len(t):.0%})" for name in counts.index)
    near = t["time_median_s"] < DISPATCH_BOUND * pd.to_numeric(t["dispatch_floor_s"], errors="coerce")
    return (
        f"Regimes of the {len(t)} timed kernels, by the term that bounds each floor: {shares}. "
        f"{int(near.sum())} ({near.mean():.0%}) run within {DISPATCH_BOUND:g}× the dispatch floor. "
        f"{regime_coverage(t)}"
    )


def _findings(t: pd.DataFrame) -> list[str]:
    out = []
    near = t.assign(near=t["over"] <= NEAR).groupby("method", sort=False)["near"].agg(["sum", "count"])
    near = near.sort_values("sum", ascending=False)
    within = ", ".join(f"{m} {int(r['sum'])}/{int(r['count'])}" for m, r in near.iterrows() if r["sum"] > 0)
    out.append(f"Within {NEAR:g}× of the floor (cases): {within or 'no method'}.")
    off_dispatch = t[t["floor_level"] != "dispatch"]
    if not off_dispatch.empty:
        best = off_dispatch.loc[off_dispatch.groupby(CASE, sort=False)["over"].idxmin()]
        out.append(
            f"Where the floor is not dispatch ({len(best)} cases), the fastest method is "
            f"{best['over'].median():.3g}× its floor at the median (from {best['over'].min():.3g}× to "
            f"{best['over'].max():.3g}×)."
        )
    for _, row in t.nlargest(3, "over").iterrows():
        out.append(
            f"Largest gap: {row['problem']}/{row['wrt']}/{method_label(row)} at {size_label(row)}, "
            f"{row['over']:.3g}× its floor ({format_seconds(row['floor_s'])}, {row['floor_level']}): "
            f"{gap_reason(row)}."
        )
    m, n = pd.to_numeric(t["m"]), pd.to_numeric(t["n"])
    side = n.where(m == 0, pd.concat([m, n], axis=1).min(axis=1))  # the smaller of the dims used
    closed = t[(t["method"] == CLOSED_FORM) & (side >= LARGE)]
    far = closed[closed["over"] > NEAR]
    if not closed.empty:
        if far.empty:
            out.append(f"The closed forms at size ≥ {LARGE} are all within {NEAR:g}× of their floors.")
        else:
            worst = far.loc[far.groupby(["problem", "wrt"], sort=False)["over"].idxmax()]
            worst = worst.sort_values("over", ascending=False)
            listed = "; ".join(
                f"{r['problem']}/{r['wrt']} up to {r['over']:.3g}× (at {size_label(r)}, {r['floor_level']}: "
                f"{gap_reason(r)})" for _, r in worst.iterrows()
            )  # fmt: skip
            out.append(
                f"The closed forms, which every ratio in this report divides by, are more than {NEAR:g}× "
                f"their floor in {len(far)} of {len(closed)} cases at size ≥ {LARGE}: {listed}."
            )
    return out


CLOSED_FORM_MIN_SIZE = 512  # where a closed form should be at its floor (below, dispatch dominates)
AT_FLOOR = 2.0  # "at its floor": within this factor of it
NUMPY_AS_FAR = 0.5  # NumPy at least this share of XLA's distance: the formula's cost, not XLA's code


def limit_of(analytic: float, numpy: float | None) -> str:
    """Whose limit a closed form ``analytic``× its floor meets, judged by the same formula in NumPy
    (``numpy``× its floor, timed in the same run; None where it did not run)."""
    if analytic <= AT_FLOOR:
        return "at its floor"
    if numpy is None or not math.isfinite(numpy):
        return "not measured (no NumPy row)"
    if numpy >= NUMPY_AS_FAR * analytic:
        return "the formula, not XLA (NumPy as far)"
    return f"XLA's code (NumPy {analytic / numpy:.2g}× nearer)"


def closed_form_distances(t: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Per case of size >= 512 (its largest dimension): the closed form's, the textbook form's and
    NumPy's time over the floor, and whose limit the closed form meets (:func:`limit_of`); and one
    line counting the closed forms within 2x of it."""
    size = t[["m", "n"]].astype(int).max(axis=1)
    c = t[(size >= CLOSED_FORM_MIN_SIZE) & t["method"].isin([CLOSED_FORM, TEXTBOOK, HOST_CLOSED_FORM])]
    rows, at, total = [], 0, 0
    for _, case in c.groupby(CASE, sort=False):
        by = {r["method"]: float(r["over"]) for r in case.to_dict("records")}
        if CLOSED_FORM not in by:
            continue
        total += 1
        at += by[CLOSED_FORM] <= AT_FLOOR
        first = case.iloc[0]
        cells = [f"{by[m]:.3g}×" if m in by else "–" for m in (CLOSED_FORM, TEXTBOOK, HOST_CLOSED_FORM)]
        target = f"{first['problem']} / {first['wrt']}"
        limit = limit_of(by[CLOSED_FORM], by.get(HOST_CLOSED_FORM))
        rows.append([target, size_label(first), str(first["floor_level"]), *cells, limit])
    if not total:
        return [], []
    line = (f"Closed forms at n ≥ {CLOSED_FORM_MIN_SIZE}: {at} of {total} within {AT_FLOOR:g}× their floor; "
            f"`{HOST_CLOSED_FORM}` is the same formula in NumPy, timed in the same run: where it is at least "
            f"{NUMPY_AS_FAR:g}× as far from the floor, the formula as written (its work, its access "
            "pattern) is the limit on this machine, not XLA's code for it.")
    return [line], rows


def floor_section(df: pd.DataFrame) -> str:
    """The "Floor" section of the report (module docstring); "" for rows without floors."""
    t = floor_rows(df)
    if t.empty:
        return ""
    bad = floor_violations(df)
    if bad.empty:
        check = f"Floor check: all {len(t)} timed kernels take at least {INVARIANT:g}× their floor."
    else:
        names = "; ".join(
            f"{r['problem']}/{r['wrt']}/{method_label(r)} {size_label(r)}: "
            f"{r['time_median_s'] / r['floor_s']:.3g}× its floor ({r['floor_level']})"
            for _, r in bad.iterrows()
        )
        check = (
            f"**Floor defect**: {len(bad)} of {len(t)} timed kernels ran faster than {INVARIANT:g}× their "
            f"floor, so the floor is wrong for them (a ceiling measured too low, or traffic the model "
            f"charges that the kernel need not move): {names}."
        )
    rows = []
    for _, case in t.groupby(CASE, sort=False):
        first = case.iloc[0]
        by = {method_label(r): float(r["over"]) for r in case.to_dict("records")}
        best = min(by, key=by.get)
        rows.append(
            [f"{first['problem']} / {first['wrt']}", size_label(first),
             f"{float(first['traffic_bytes']) / 2**10:.4g} KiB", format_seconds(float(first["floor_s"])),
             str(first["floor_level"]), f"{best} {by[best]:.3g}×"]
            + [f"{by[m]:.3g}×" if m in by else "–" for m in (CLOSED_FORM, FORWARD, REVERSE)]
        )  # fmt: skip
    note = (
        f"Ceilings measured in each run ({_ceilings_note(t)}). Each kernel's floor is the least time its "
        "derivative can take here: the dispatch floor, its compulsory traffic (the inputs it depends on, "
        "read, and the Jacobian, written) at the bandwidth of the level that holds it (or the first-touch "
        "rate for an output written on fresh pages), or its minimal flops at the matmul peak, whichever "
        "is longest. Cells: median time ÷ floor (1 is at the limit). XLA's own flops and bytes stay in the "
        "CSV (`flops`, `bytes_accessed`, `roofline_frac`), apart from the floor."
    )
    parts = [note, "", f"- {check}", f"- {_regimes(t)}", *(f"- {s}" for s in _findings(t)), ""]
    header = ["target", "size", "traffic", "floor", "bound", "fastest", CLOSED_FORM, FORWARD, REVERSE]
    text = "\n".join(parts) + "\n" + table(header, rows)
    line, distances = closed_form_distances(t)
    if distances:
        header = ["target", "size", "bound", CLOSED_FORM, TEXTBOOK, HOST_CLOSED_FORM, "whose limit"]
        text += "\n\n" + line[0] + "\n\n" + table(header, distances)
    return text
