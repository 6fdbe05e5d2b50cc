r"""The steps between adjacent releases, as the gate's rules call them, and their tables.

Each pair of adjacent configurations (in :func:`jaxgrads.history.releases.order`) is compared as
``jaxgrads ab`` compares its two sides (:func:`jaxgrads.gate.compare`, A/B rule, the same machine):

- **instructions per call**, compared across the two jax versions (``across_releases``): a kernel
  whose count $I$ moved beyond $I_b (1 + \tau) + \delta N_b$ ($\tau$ 1%, $\delta$ 3% of the no-op's
  count $N_b$: the gate's calibrated tolerances) is a ``regression`` (up) or an ``improvement``
  (down). Counts are deterministic for one release, so the same release twice shows no step;
- **time per call**, from the alternating rounds' pooled samples: a ratio beyond the A/B threshold
  with a one-sided Mann-Whitney $p < \alpha$, confirmed by one more round of the two
  configurations (:func:`jaxgrads.sweep.processes.ab_confirm`). A kernel within ten dispatch floors
  is never gated on time (``floor``): its time is the dispatch path's.

A step is a kernel whose instructions or time the gate calls a regression or an improvement; the
instructions, which do not move with the machine, come first.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from jaxgrads.history.releases import Measured

__all__ = ["STEP_COLUMNS", "kernel_table", "record", "releases_markdown", "steps"]

STEP_COLUMNS = (
    "before", "after", "kernel", "problem", "wrt", "instr_before", "instr_after", "instr_ratio",
    "instructions", "time_before_s", "time_after_s", "time_ratio", "p", "timing", "step",
)  # fmt: skip


def _step(instructions: str, timing: str) -> str:
    if "regression" in (instructions, timing):
        return "regression"
    return "improvement" if "faster" in (instructions, timing) else ""


def steps(measured: Measured, rule=None, *, confirm: bool = True) -> pd.DataFrame:
    """Every kernel of every adjacent pair of configurations, with the gate's verdicts and ``step``."""
    import pandas as pd

    from jaxgrads.gate import AB_RULE, compare
    from jaxgrads.sweep.processes import ab_confirm

    rows = []
    for a, b in pairwise(measured.configs):
        ra, rb = measured.runs[a.name], measured.runs[b.name]
        work = measured.folder / f"confirm-{a.name}-{b.name}"
        work.mkdir(parents=True, exist_ok=True)
        check = ab_confirm([measured.sides[a.name], measured.sides[b.name]], rb, work) if confirm else None
        result = compare(ra, rb, rule or AB_RULE, confirm=check, same_machine=True, across_releases=True)
        for r in result.table.to_dict("records"):
            if r["verdict"] == "new":
                continue
            key = r["key"]
            counts = [_count(run, key) for run in (ra, rb)]
            rows.append({
                "before": a.name, "after": b.name, "kernel": r["kernel"], "problem": r["problem"],
                "wrt": r["wrt"], "instr_before": counts[0], "instr_after": counts[1],
                "instr_ratio": r["instr_ratio"], "instructions": r["instructions"],
                "time_before_s": r["baseline_s"], "time_after_s": r["current_s"], "time_ratio": r["ratio"],
                "p": r["p"], "timing": r["timing"], "step": _step(r["instructions"], r["timing"]),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=list(STEP_COLUMNS))


def record(measured: Measured, rule=None, *, confirm: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(:func:`kernel_table`, :func:`steps`) of ``measured``, each written into its folder
    (``table.csv``, ``steps.csv``, atomically): what the site and ``--summarize`` read back."""
    from jaxgrads.results.files import atomic_write_text

    table, found = kernel_table(measured), steps(measured, rule, confirm=confirm)
    atomic_write_text(measured.folder / "table.csv", table.to_csv(index=False))
    atomic_write_text(measured.folder / "steps.csv", found.to_csv(index=False))
    return table, found


def _count(run, key) -> float:
    try:
        return float(run.rows.loc[key, "instructions"])
    except (KeyError, TypeError, ValueError):
        return math.nan


def kernel_table(measured: Measured) -> pd.DataFrame:
    """One row per (configuration, kernel): its release, flags, instructions and time per call."""
    import pandas as pd

    from jaxgrads.results.labels import row_kernel_id

    frames = []
    for c in measured.configs:
        rows = measured.runs[c.name].rows
        frames.append(pd.DataFrame({
            "config": c.name, "release": c.release, "xla_flags": c.xla_flags,
            "jax_version": rows["jax_version"].to_numpy(),
            "kernel": [row_kernel_id(r) for r in rows.to_dict("records")],
            "instructions": pd.to_numeric(rows.get("instructions"), errors="coerce").to_numpy(),
            "noop_instructions": pd.to_numeric(rows.get("noop_instructions"), errors="coerce").to_numpy(),
            "time_median_s": pd.to_numeric(rows["time_median_s"], errors="coerce").to_numpy(),
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def _cell(value: float, unit: str, step: tuple | None, ratio: str) -> str:
    if not math.isfinite(value):
        return "–"
    text = f"{value / 1e3:,.1f}k" if unit == "instr" else f"{value * 1e6:,.1f}"
    if step:
        r, verdict = step
        text += f" {'▲' if verdict == 'regression' else '▼'}{r[ratio]:.2f}×"
    return text


def releases_markdown(table: pd.DataFrame, found: pd.DataFrame) -> str:
    """Two tables (instructions per call, time per call: kernels × configurations; a step marked
    ▲ up or ▼ down with its ratio to the configuration before) and the steps per adjacent pair."""
    configs = list(dict.fromkeys(table["config"]))
    kernels = list(dict.fromkeys(table["kernel"]))
    at = {(r["config"], r["kernel"]): r for r in table.to_dict("records")}
    marked = {}
    for r in found.to_dict("records"):
        for which, verdict in (("instr", r["instructions"]), ("time", r["timing"])):
            if r["step"] and verdict in ("regression", "faster"):
                marked[(r["after"], r["kernel"], which)] = (r, verdict)
    out = []
    tables = (("instr", "instructions", "instr_ratio", "instructions per call"),
              ("time", "time_median_s", "time_ratio", "time per call (µs)"))  # fmt: skip
    for unit, column, ratio, title in tables:
        out += [f"**{title}**", "", "| kernel | " + " | ".join(configs) + " |",
                "|---|" + "---:|" * len(configs)]  # fmt: skip
        for k in kernels:
            cells = [_cell(float(at[(c, k)][column]) if (c, k) in at else math.nan, unit,
                           marked.get((c, k, unit)), ratio) for c in configs]  # fmt: skip
            out.append(f"| {k} | " + " | ".join(cells) + " |")
        out.append("")
    out += ["**steps between adjacent configurations** (the gate's A/B rule: instructions beyond "
            "1% + 3% of a no-op; time beyond the A/B threshold, confirmed)", "",
            "| from | to | kernels | regressions | improvements | largest up | largest down |",
            "|---|---|---:|---:|---:|---|---|"]  # fmt: skip
    for (before, after), g in found.groupby(["before", "after"], sort=False):
        up, down = g[g["step"] == "regression"], g[g["step"] == "improvement"]
        out.append(f"| {before} | {after} | {len(g)} | {len(up)} | {len(down)} | {_extreme(up, max)} | "
                   f"{_extreme(down, min)} |")  # fmt: skip
    return "\n".join(out) + "\n"


def _extreme(g, pick) -> str:
    if g.empty:
        return "–"
    ratio = g["instr_ratio"].where(g["instructions"].isin(("regression", "faster")), g["time_ratio"])
    i = pick(range(len(g)), key=lambda j: ratio.iloc[j])
    return f"{g['kernel'].iloc[i]} {ratio.iloc[i]:.2f}×"
