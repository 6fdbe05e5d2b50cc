r"""Findings generated from a results table, for the report: every sentence computed, none typed.

- **Which mode wins where**: jacfwd against jacrev per target and size, next to the cost model.
  Forward mode pushes one tangent per input element, reverse one cotangent per output element,
  each costing about one evaluation, so the model predicts
  $t_\text{fwd}/t_\text{rev} \approx \text{wrt\_elements} / \text{out\_elements}$.
- **The crossover**: where, on the ``crossover`` sweep's aspect ratios, the measured ratio crosses 1.
- **Reach**: the largest Jacobian each method produced within the memory budget.
- **Textbook against fast closed form**: the cost of writing the math the way the notes do.

The floor each kernel is set against has its own section (:mod:`jaxgrads.report.floor`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jaxgrads.report.analysis import crossover, measured_crossover
from jaxgrads.report.roles import CLOSED_FORM, FORWARD, REVERSE, TEXTBOOK
from jaxgrads.results.labels import format_seconds, size_label, table
from jaxgrads.results.schema import timed_rows

__all__ = ["findings_section"]


def _timed(df: pd.DataFrame) -> pd.DataFrame:
    """Timed rows whose Jacobian was right: an inaccurate kernel is never anyone's best."""
    t = timed_rows(df)
    return t[t["ok"]]


CASE = ["problem", "wrt", "m", "n", "batch", "dtype"]


def mode_table(df: pd.DataFrame) -> tuple[str, list[str]]:
    """jacfwd vs jacrev per case; and the sentences summing it up."""
    t = _timed(df)
    t = t[t["method"].isin((FORWARD, REVERSE)) & (t["chunk_size"].fillna(0) == 0)]
    if t.empty or "wrt_elements" not in t.columns:
        return "", []
    rows, agree, total = [], 0, 0
    for _, case in t.groupby(CASE, sort=False):
        by = case.drop_duplicates("method", keep="last").set_index("method")
        if not {FORWARD, REVERSE} <= set(by.index):
            continue
        f, r = float(by.loc[FORWARD, "time_median_s"]), float(by.loc[REVERSE, "time_median_s"])
        first = case.iloc[0]
        wrt_n, out_n = first["wrt_elements"], first["out_elements"]
        if pd.isna(wrt_n) or pd.isna(out_n):
            continue
        model = int(wrt_n) / int(out_n)
        winner = FORWARD if f < r else REVERSE
        predicted = FORWARD if model < 1 else (REVERSE if model > 1 else "either")
        if predicted != "either":  # the model calls square cases a tie
            total += 1
            agree += predicted == winner
        rows.append([
            f"{first['problem']} / {first['wrt']}", size_label(first), f"{int(wrt_n)} → {int(out_n)}",
            format_seconds(f), format_seconds(r), f"{f / r:.3g}", f"{model:.3g}", winner, predicted,
        ])  # fmt: skip
    if not rows:
        return "", []
    header = ["target", "size", "inputs → outputs", FORWARD, REVERSE, "t_fwd / t_rev", "model",
              "winner", "model's pick"]  # fmt: skip
    ratios = np.array([float(r[5]) / float(r[6]) for r in rows])
    sentences = [
        f"Where inputs and outputs differ in number, the cost model picked the faster mode in {agree} of "
        f"{total} cases; measured t_fwd/t_rev was "
        f"{np.median(ratios):.2g}× the model's prediction at the median (from {ratios.min():.2g}× to "
        f"{ratios.max():.2g}×)."
    ]
    return table(header, rows), sentences


def crossover_sentences(df: pd.DataFrame) -> list[str]:
    sel = crossover(df)
    if sel is None:
        return []
    at = measured_crossover(sel)
    mn, dtype = int(sel["mn"].iloc[0]), sel["dtype"].iloc[0]
    ends = sel.iloc[[0, -1]]
    span = "; ".join(
        f"at m/n = {a:.3g} t_fwd/t_rev = {r:.3g} (model {m:.3g})"
        for a, r, m in zip(ends["aspect"], ends["ratio"], ends["model"], strict=True)
    )
    where = (
        f"the measured crossover is at m/n ≈ {at:.2g}, where the cost model puts it at 1"
        if at is not None
        else "the measured ratio never crosses 1 on these shapes (the model puts the crossover at m/n = 1)"
    )
    return [f"matvec / x at m·n = {mn} ({dtype}): {where}; {span}."]


def reach_table(df: pd.DataFrame) -> str:
    """Per target and method: the largest Jacobian produced, and the smallest refused for memory."""
    rows = []
    for (problem, wrt, method), g in df.groupby(["problem", "wrt", "method"], sort=False):
        ok = _timed(g)
        over = g[(g["status"] == "skipped") & g["message"].astype(str).str.contains("budget")]
        if ok.empty and over.empty:
            continue
        largest = ok.loc[ok["jac_bytes"].astype(float).idxmax()] if not ok.empty else None
        smallest = over.loc[over["jac_bytes"].astype(float).idxmin()] if not over.empty else None
        reached = "–"
        if largest is not None:
            reached = f"{size_label(largest)} ({float(largest['jac_bytes']) / 2**20:.3g} MiB)"
        rows.append(
            [f"{problem} / {wrt}", method, reached, size_label(smallest) if smallest is not None else "–"]
        )
    budget = pd.to_numeric(df.get("memory_budget_bytes"), errors="coerce").max()
    title = f"Largest Jacobian each method produced within the memory budget ({budget / 2**30:.3g} GiB):"
    return title + "\n\n" + table(["target", "method", "largest run", "smallest skipped over budget"], rows)


def textbook_table(df: pd.DataFrame) -> tuple[str, list[str]]:
    """The textbook closed form's time over the fast one's, per case; and the largest gap."""
    t = _timed(df)
    rows, gaps = [], []
    for _, case in t.groupby(CASE, sort=False):
        by = case.drop_duplicates("method", keep="last").set_index("method")["time_median_s"]
        if {CLOSED_FORM, TEXTBOOK} <= set(by.index):
            first = case.iloc[0]
            gap = float(by[TEXTBOOK]) / float(by[CLOSED_FORM])
            gaps.append((gap, first))
            fast, textbook = float(by[CLOSED_FORM]), float(by[TEXTBOOK])
            rows.append([f"{first['problem']} / {first['wrt']}", size_label(first),
                         format_seconds(fast), format_seconds(textbook), f"{gap:.3g}×"])  # fmt: skip
    if not rows:
        return "", []
    gap, at = max(gaps, key=lambda g: g[0])
    sentence = (
        f"The textbook closed form took up to {gap:.3g}× the fast one's time ({at['problem']}/{at['wrt']} at "
        f"{size_label(at)}); it was slower in {sum(g > 1 for g, _ in gaps)} of {len(gaps)} cases."
    )
    header = ["target", "size", "analytic (fast)", "analytic_textbook", "textbook ÷ fast"]
    return table(header, rows), [sentence]


def findings_section(df: pd.DataFrame) -> str:
    """The report's "Findings": mode table and crossover, reach, textbook gap."""
    modes, sentences = mode_table(df)
    textbook, gap = textbook_table(df)
    parts = [f"- {s}" for s in crossover_sentences(df) + sentences + gap]
    if modes:
        parts += ["", "Forward against reverse mode, with the cost model's t_fwd / t_rev = inputs / outputs:",
                  "", modes]  # fmt: skip
    if textbook:
        parts += ["", "The closed forms as the notes write them against the fast forms:", "", textbook]
    parts += ["", reach_table(df)]
    return "\n".join(parts)
