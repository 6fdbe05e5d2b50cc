"""One kernel's line in the gate's table: its XLA metrics' verdict, its instruction counts' verdict,
its timing verdict where both runs timed it, and the lines of a kernel only one run has."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from jaxgrads.gate.runs import VERSIONS, Run
from jaxgrads.gate.stats import Rule, Verdict, cv, judge
from jaxgrads.results.labels import row_kernel_id

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "INSTRUCTION_SETTINGS",
    "METRICS",
    "instructions_verdict",
    "lost_record",
    "metric_verdict",
    "new_record",
    "record",
    "shared_record",
]

METRICS: tuple[str, ...] = ("flops", "bytes_accessed", "temp_bytes", "jac_bytes")
# what must match, besides jax and jaxlib, for two instruction counts to be compared
INSTRUCTION_SETTINGS: tuple[str, ...] = ("valgrind_version", "isa_class")


def metric_verdict(base: pd.Series, cur: pd.Series, tolerance: float) -> tuple[str, str]:
    """(verdict, detail) of the deterministic metrics of one kernel."""
    worse, better = [], []
    for m in METRICS:
        b, c = float(base.get(m, math.nan)), float(cur.get(m, math.nan))
        if not (math.isfinite(b) and math.isfinite(c)):
            continue
        change = (c - b) / b if b else (math.inf if c else 0.0)
        if change > tolerance:
            worse.append(f"{m} +{change:.1%}")
        elif change < -tolerance:
            better.append(f"{m} {change:.1%}")
    if worse:
        return "regression", ", ".join(worse + better)
    return ("faster" if better else "pass"), ", ".join(better)


def _number(row, column: str) -> float:
    try:
        return float(row.get(column, math.nan))
    except (TypeError, ValueError):
        return math.nan


def instructions_verdict(base, cur, rule: Rule, *, across_releases: bool = False) -> tuple[str, float]:
    """(verdict, current / baseline count) of one kernel's instruction counts; ``–`` when either run
    has no count, ``not comparable`` when the settings differ (the jax and jaxlib versions too, unless
    ``across_releases``: what ``jaxgrads releases`` compares)."""
    b, c = _number(base, "instructions"), _number(cur, "instructions")
    if not (math.isfinite(b) and math.isfinite(c) and b > 0):
        return "–", math.nan
    settings = INSTRUCTION_SETTINGS if across_releases else (*VERSIONS, *INSTRUCTION_SETTINGS)
    if any(str(base.get(k, "")) != str(cur.get(k, "")) for k in settings):
        return "not comparable", c / b
    noop = _number(base, "noop_instructions")
    allowed = rule.instr_tolerance * b + rule.dispatch_tolerance * (noop if math.isfinite(noop) else 0.0)
    if c - b > allowed:
        return "regression", c / b
    return ("faster" if b - c > allowed else "pass"), c / b


def shared_record(
    baseline: Run, current: Run, key: tuple, rule: Rule, timings: bool, versions_match: bool, floor: float,
    across_releases: bool = False,
) -> dict:
    """A kernel timed in both runs: its XLA metrics and (where comparable) its timing verdict."""
    b_row, c_row = baseline.rows.loc[key], current.rows.loc[key]
    metric, detail = (
        metric_verdict(b_row, c_row, rule.metric_tolerance) if versions_match else ("not comparable", "")
    )
    instr, instr_ratio = instructions_verdict(b_row, c_row, rule, across_releases=across_releases)
    b, c = baseline.samples[key], current.samples[key]
    if timings:
        v = judge(b, c, rule, floor=floor)
    else:
        v = Verdict("inconclusive", float(np.median(c) / np.median(b)), math.nan, cv(b))
    return {
        "key": key, "kernel": row_kernel_id(c_row), "problem": c_row["problem"], "wrt": c_row["wrt"],
        "baseline_s": float(np.median(b)), "current_s": float(np.median(c)),
        "ratio": v.ratio, "p": v.p, "cv": v.cv, "timing": v.verdict, "confirm_ratio": math.nan,
        "confirm_p": math.nan, "metrics": metric, "metric_detail": detail,
        "instructions": instr, "instr_ratio": instr_ratio,
    }  # fmt: skip


def record(row, key, baseline_s: float, current_s: float, timing: str, verdict: str) -> dict:
    return {
        "key": key, "kernel": row_kernel_id(row), "problem": row["problem"], "wrt": row["wrt"],
        "baseline_s": baseline_s, "current_s": current_s, "ratio": math.nan, "p": math.nan,
        "cv": math.nan, "timing": timing, "confirm_ratio": math.nan, "confirm_p": math.nan,
        "metrics": "–", "metric_detail": "", "instructions": "–", "instr_ratio": math.nan, "verdict": verdict,
    }  # fmt: skip


def lost_record(baseline: Run, current: Run, key: tuple) -> dict:
    """A kernel timed in the baseline and not now: a regression, unless the current run skipped it
    (a limit of this machine: memory budget, call time), which is inconclusive."""
    why = current.untimed.get(key, "missing from the current run")
    verdict = "inconclusive" if why.startswith("skipped") else "regression"
    b = float(np.median(baseline.samples[key]))
    return record(baseline.rows.loc[key], key, b, math.nan, why[:120], verdict)


def new_record(current: Run, key: tuple) -> dict:
    """A kernel timed now and not in the baseline: listed, never failed."""
    c = float(np.median(current.samples[key]))
    return record(current.rows.loc[key], key, math.nan, c, "not in the baseline", "new")
