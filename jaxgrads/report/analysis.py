"""The numbers behind the findings and the figures, apart from drawing and formatting them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jaxgrads.report.roles import FORWARD, REVERSE

__all__ = ["crossover", "measured_crossover"]


def crossover(df: pd.DataFrame) -> pd.DataFrame | None:
    r"""``matvec`` w.r.t. x, jacfwd and jacrev at one $m \cdot n$ and several aspect ratios.

    Returns a frame with ``aspect`` (m/n), ``ratio`` ($t_\text{jacfwd}/t_\text{jacrev}$) and
    ``model`` (n/m), sorted by aspect, for the $m \cdot n$ with the most aspect ratios; None when no
    $m \cdot n$ has three or more.
    """
    t = df[(df["status"] == "ok") & (df["problem"] == "matvec") & (df["wrt"] == "x")]
    t = t[t["method"].isin((FORWARD, REVERSE)) & t["time_median_s"].notna()]
    if t.empty:
        return None
    t = t.assign(mn=t["m"].astype(int) * t["n"].astype(int))
    wide = t.pivot_table(index=["dtype", "mn", "m", "n"], columns="method", values="time_median_s")
    if not {FORWARD, REVERSE} <= set(wide.columns):
        return None
    wide = wide.dropna().reset_index()
    counts = wide.groupby(["dtype", "mn"]).size()
    if counts.empty or counts.max() < 3:
        return None
    dtype, mn = counts.idxmax()
    sel = wide[(wide["dtype"] == dtype) & (wide["mn"] == mn)].copy()
    sel["aspect"] = sel["m"] / sel["n"]
    sel["ratio"] = sel[FORWARD] / sel[REVERSE]
    sel["model"] = sel["n"] / sel["m"]
    return sel.sort_values("aspect").reset_index(drop=True)


def measured_crossover(sel: pd.DataFrame) -> float | None:
    """The aspect ratio where t_jacfwd / t_jacrev first crosses 1, interpolated in log-log; None if never."""
    a, r = np.log(sel["aspect"].to_numpy()), np.log(sel["ratio"].to_numpy())
    for i in range(len(a) - 1):
        if r[i] == 0:
            return float(np.exp(a[i]))
        if r[i] * r[i + 1] < 0:
            return float(np.exp(a[i] - r[i] * (a[i + 1] - a[i]) / (r[i + 1] - r[i])))
    return None
