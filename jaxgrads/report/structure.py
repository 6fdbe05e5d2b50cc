"""The report's structure section: dense against colored against the asdex peer against the closed form.

Per target and size where a colored method ran: the Jacobian's density (``nnz`` over its entries),
the peak memory XLA plans for the dense output against the BCOO one (the memory frontier's sparse
formats),
the dense basis (the smaller of inputs and outputs: what jacfwd or jacrev pushes) against the colors
the best colored method pushed, and the times of the closed form, the best dense method (jacfwd,
jacrev), the best of jaxgrads' colored methods and the best asdex method (each colored one with its
preparation, ``prep_s``, which is paid once per pattern, not per call). Then where coloring wins
and where it loses (a dense Jacobian: as many colors as basis vectors, plus a decompression), and
the targets the structure work is judged on: ∂(Ax)/∂A and the linear layer's ∂z/∂x at batch ≥ 8 and
n ≥ 128, where the best colored method should be within 2× of the closed form and faster than
asdex's evaluation with the same output format.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pandas as pd

from jaxgrads.methods import METHODS
from jaxgrads.report.roles import CLOSED_FORM, FORWARD, REVERSE
from jaxgrads.results.labels import format_seconds, size_label, table
from jaxgrads.results.schema import timed_rows

__all__ = ["TARGETS", "structure_cases", "structure_section"]

CASE = ["problem", "wrt", "m", "n", "batch", "dtype"]
# the targets of the structure work: (problem, wrt), at batch >= 8 and n >= 128
TARGETS = (("matvec", "A"), ("linear", "x"))
TIE = 0.1  # within ±10% of the dense time: one run's samples do not separate them


def _kind(method: str) -> str:
    m = METHODS.get(method)
    if m is None:
        return "other"
    if m.kind == "pattern":  # a prepared pattern: jaxgrads' colored methods, or a peer's (asdex)
        return "colored" if m.backend == "jax" else m.backend
    if method == CLOSED_FORM:
        return "closed form"
    if method in (FORWARD, REVERSE):
        return "dense"
    return "other"


def _best(g: pd.DataFrame, kind: str, output: str | None = None):
    sel = g[g["kind"] == kind]
    if output is not None:
        sel = sel[sel["output_format"].astype(str) == output]
    return sel.loc[sel["time_median_s"].idxmin()] if len(sel) else None


def structure_cases(df: pd.DataFrame) -> list[dict]:
    """One record per case (target, size, dtype) where a colored method ran accurately."""
    t = timed_rows(df)
    t = t[t["ok"]].assign(kind=lambda d: d["method"].map(_kind))
    out = []
    for _, g in t.groupby(CASE, sort=False):
        colored = _best(g, "colored")
        if colored is None:
            continue
        first = g.iloc[0]
        entries = float(first["jac_bytes"]) / np.dtype(jnp.dtype(str(first["dtype"]))).itemsize
        basis = min(float(first["wrt_elements"]), float(first["out_elements"]))
        rec = {"row": first, "nnz": float(first["nnz"]), "entries": entries, "basis": basis,
               "colored": colored, "dense": _best(g, "dense"), "closed": _best(g, "closed form"),
               "asdex": _best(g, "asdex")}  # fmt: skip
        for fmt in ("dense", "bcoo"):
            rec[f"colored_{fmt}"], rec[f"asdex_{fmt}"] = _best(g, "colored", fmt), _best(g, "asdex", fmt)
        out.append(rec)
    return out


def _t(r) -> str:
    if r is None:
        return "–"
    text = f"{format_seconds(float(r['time_median_s']))} {r['method']}"
    prep = float(r.get("prep_s", math.nan))
    return text + (f" (prep {format_seconds(prep)})" if math.isfinite(prep) else "")


def _label(rec: dict) -> str:
    r = rec["row"]
    return f"{r['problem']}/{r['wrt']} {size_label(r)}"


def _peaks(rec: dict) -> str:
    """XLA's peak memory of the best colored method with dense output and with BCOO output."""
    dense, bcoo = rec["colored_dense"], rec["colored_bcoo"]
    if dense is None or bcoo is None:
        return "–"
    mib = [float(r["peak_bytes"]) / 2**20 for r in (dense, bcoo)]
    return f"{mib[0]:.3g} → {mib[1]:.3g} MiB"


def _target_check(cases: list[dict]) -> list[str]:
    lines = []
    for rec in cases:
        r = rec["row"]
        if (r["problem"], r["wrt"]) not in TARGETS or int(r["n"]) < 128:
            continue
        if r["problem"] == "linear" and int(r["batch"]) < 8:
            continue
        best, closed = rec["colored"], rec["closed"]
        parts = []
        if closed is not None:
            ratio = float(best["time_median_s"]) / float(closed["time_median_s"])
            parts.append(f"best colored {best['method']} {ratio:.2g}× the closed form "
                         f"({'within' if ratio <= 2 else 'not within'} 2×)")  # fmt: skip
        for fmt in ("dense", "bcoo"):
            ours, peer = rec[f"colored_{fmt}"], rec[f"asdex_{fmt}"]
            if ours is not None and peer is not None:
                ratio = float(ours["time_median_s"]) / float(peer["time_median_s"])
                parts.append(f"{fmt}: {ours['method']} {ratio:.2g}× asdex's evaluation "
                             f"({'faster' if ratio < 1 else 'not faster'})")  # fmt: skip
        if rec["asdex"] is None:
            parts.append("asdex not measured (the [sparse] extra)")
        lines.append(f"- {r['problem']}/{r['wrt']} {size_label(r)}: " + "; ".join(parts) + ".")
    return lines


def structure_section(df: pd.DataFrame) -> str:
    """The section's markdown; "" when no colored method ran."""
    if "nnz" not in df.columns:
        return ""
    cases = structure_cases(df)
    if not cases:
        return ""
    rows, verdicts = [], {"wins": [], "ties": [], "losses": []}
    for rec in cases:
        r, colored, dense = rec["row"], rec["colored"], rec["dense"]
        density = rec["nnz"] / rec["entries"] if rec["entries"] else math.nan
        colors = int(colored["colors"])
        if dense is not None:
            ratio = float(colored["time_median_s"]) / float(dense["time_median_s"])
            kind = "wins" if ratio < 1 - TIE else "losses" if ratio > 1 + TIE else "ties"
            verdicts[kind].append((rec, colors, ratio))
        rows.append([f"{r['problem']} / {r['wrt']}", size_label(r), f"{density:.2g}",
                     f"{int(rec['basis'])} → {colors}", _t(rec["closed"]), _t(dense), _t(colored),
                     _t(rec["asdex"]), _peaks(rec)])  # fmt: skip
    header = ["target", "size", "density", "basis → colors", "closed form", "best dense",
              "best colored", "best asdex", "peak: dense → bcoo"]  # fmt: skip
    lines = [table(header, rows), ""]
    judged = sum(len(v) for v in verdicts.values())
    wins, ties, losses = (len(verdicts[k]) for k in ("wins", "ties", "losses"))
    lines.append(f"- Best colored against best dense: faster by more than {TIE:.0%} in {wins} of {judged} "
                 f"cases, within ±{TIE:.0%} in {ties}, slower in {losses}.")  # fmt: skip
    best = sorted(verdicts["wins"], key=lambda v: v[2])[:3]
    if best:
        lines.append("- Largest wins: " + ", ".join(
            f"{_label(rec)} {1 / ratio:.3g}× faster ({int(rec['basis'])} basis vectors → {colors} "
            f"color{'s' * (colors != 1)})"
            for rec, colors, ratio in best) + ".")  # fmt: skip
    dense_losses = [f"{_label(rec)} ({ratio:.2g}×)" for rec, colors, ratio in verdicts["losses"]
                    if colors >= rec["basis"]]  # fmt: skip
    if dense_losses:
        lines.append("- Coloring loses where the Jacobian is dense (as many colors as the dense basis, "
                     "plus the decompression): " + ", ".join(dense_losses) + ".")  # fmt: skip
    other = [f"{_label(rec)} ({colors} colors, {ratio:.2g}×)" for rec, colors, ratio in verdicts["losses"]
             if colors < rec["basis"]]  # fmt: skip
    if other:
        lines.append("- Fewer colors than the basis and still slower than dense: " + ", ".join(other) + ".")
    check = _target_check(cases)
    if check:
        lines += ["", "Targets (∂(Ax)/∂A and the linear layer's ∂z/∂x at batch ≥ 8, n ≥ 128):", *check]
    return "\n".join(lines)
