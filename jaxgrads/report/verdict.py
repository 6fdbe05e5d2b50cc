r"""The suite's question per target: what does the best autodiff Jacobian cost, against the least it
could cost here (its floor) and against the closed form?

For each target (problem, wrt, dtype) the largest size at which a closed form and at least one
accurate autodiff method were timed; there, the fastest accurate method other than the closed forms,
its time $t$, and the ratios $t / t_\text{floor}$ (at least 1: :mod:`jaxgrads.measure.floor`) and
$t / t_\text{closed form}$ (below 1: autodiff beat the formula), $t_\text{closed form}$ the fastest of
the closed forms measured at that size (:data:`jaxgrads.report.roles.DIVISORS`: ``analytic``,
``analytic_textbook``, ``numpy_analytic``), named in the table.
"""

from __future__ import annotations

import math

import pandas as pd

from jaxgrads.report.roles import CLOSED_FORMS, fastest_closed_form
from jaxgrads.results.labels import format_seconds, method_label, size_text, table
from jaxgrads.results.schema import one_per_case, timed_rows

__all__ = ["verdict_markdown", "verdict_table"]

TARGET = ["problem", "wrt", "dtype"]


def _size_key(row) -> tuple[int, int]:
    m, n, batch = (int(row[k]) if pd.notna(row[k]) else 0 for k in ("m", "n", "batch"))
    return max(m, 1) * max(n, 1) * max(batch, 1), n


def verdict_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per target: size, best method and its time, the closed form's time, and the two ratios."""
    timed = timed_rows(one_per_case(df))
    timed = timed[timed["ok"].astype(bool)]
    rows = []
    for (problem, wrt, dtype), g in timed.groupby(TARGET, sort=False):
        sizes = sorted({(r["m"], r["n"], r["batch"]) for _, r in g.iterrows()},
                       key=lambda s: _size_key(dict(zip(("m", "n", "batch"), s, strict=True))))  # fmt: skip
        for m, n, batch in reversed(sizes):
            at = g[(g["m"] == m) & (g["n"] == n) & (g["batch"] == batch)]
            closed = fastest_closed_form(at)
            auto = at[~at["method"].isin(CLOSED_FORMS)]
            if closed is None or auto.empty:
                continue
            best = auto.loc[pd.to_numeric(auto["time_median_s"]).idxmin()]
            (divisor, t_closed), t = closed, float(best["time_median_s"])
            floor = pd.to_numeric(pd.Series([best.get("floor_s")]), errors="coerce").iloc[0]
            size = size_text(int(best["m"]), int(best["n"]), int(best["batch"]), sep=", batch ")
            rows.append({
                "target": f"{problem}/{wrt}", "dtype": dtype, "size": size,
                "best": method_label(best), "time_s": t, "closed_form_s": t_closed, "closed_form": divisor,
                "over_floor": t / floor if floor and floor > 0 else math.nan,
                "over_closed_form": t / t_closed,
            })  # fmt: skip
            break
    return pd.DataFrame(rows, columns=["target", "dtype", "size", "best", "time_s", "closed_form_s",
                                       "closed_form", "over_floor", "over_closed_form"])  # fmt: skip


def _ratio(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.3g}×"


def verdict_markdown(df: pd.DataFrame) -> str:
    """:func:`verdict_table` as a markdown table."""
    v = verdict_table(df)
    return table(
        ["target", "dtype", "size", "fastest autodiff", "time", "closed form", "÷ floor", "÷ closed form"],
        [[r.target, r.dtype, r.size, f"`{r.best}`", format_seconds(r.time_s),
          f"{format_seconds(r.closed_form_s)} (`{r.closed_form}`)", _ratio(r.over_floor),
          _ratio(r.over_closed_form)]
         for r in v.itertuples()],
    )  # fmt: skip
