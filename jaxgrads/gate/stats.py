r"""The gate's decision rule for one kernel, on raw samples: pure statistics, no files, no runs.

A kernel trips when its median ratio $r = \tilde t_\text{cur} / \tilde t_\text{base}$ exceeds
$1 + \theta$ *and* a one-sided Mann-Whitney U test (``current > baseline``) gives $p < \alpha$; a
baseline whose samples vary more than ``max_cv`` is ``inconclusive``; a kernel within
``floor_factor``× the dispatch floor is ``floor``, never gated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jaxgrads.errors import JaxgradsError

__all__ = ["AB_RULE", "Rule", "Verdict", "cv", "judge", "mann_whitney_p", "parse_fraction"]


@dataclass(frozen=True)
class Rule:
    """The decision rule's knobs; the defaults come from bench/studies/calibrate_gate.py (docs/gate.md)."""

    # θ: a median ratio above 1 + θ trips. Against a stored baseline on a shared runner, the same code
    # held up to ~1.4x in two processes in a row (time-correlated drift), hence 75% here; A/B mode
    # measures both sides now and needs far less (AB_RULE). Both: docs/gate.md, "Calibration".
    threshold: float = 0.75
    alpha: float = 0.01  # ... with a one-sided Mann-Whitney p below this
    max_cv: float = 0.25  # a baseline noisier than this (std / mean of its samples) is inconclusive
    metric_tolerance: float = 0.01  # deterministic metrics: relative change allowed
    # the machine's own state: when the run's dispatch floor, memory bandwidth or matmul (timed in
    # every run) took more than 1 + max_drift times (or less than 1 / (1 + max_drift) of) the baseline's, the
    # machine is not the one the baseline saw, whatever its fingerprint: timings are inconclusive
    max_drift: float = 0.25
    floor_factor: float = 10.0  # kernels under this many dispatch floors are not gated
    # instruction counts (callgrind): a kernel whose count rose by more than
    # instr_tolerance × its baseline count + dispatch_tolerance × the baseline's no-op count fails;
    # the second term covers the dispatch part, which moves by up to ~2% of a no-op between processes
    instr_tolerance: float = 0.01
    dispatch_tolerance: float = 0.03


AB_RULE = Rule(threshold=0.50)  # A/B mode: both sides measured now, interleaved: a tighter threshold


@dataclass(frozen=True)
class Verdict:
    """One kernel's timing comparison."""

    verdict: str
    ratio: float  # current median / baseline median
    p: float  # one-sided Mann-Whitney p (current slower)
    cv: float  # the baseline samples' coefficient of variation


def parse_fraction(name: str, text: str, *, below: float | None = None) -> float:
    """``10%`` or ``0.1`` -> 0.1; anything else (``abc``, ``-5%``, ``0``) raises a one-line error.

    ``below``: an exclusive upper bound (1 for a probability such as ``--alpha``).
    """
    t = str(text).strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise JaxgradsError(f"{name} must be a positive fraction like 10% or 0.1, got {text!r}")
    if below is not None and not value < below:
        raise JaxgradsError(f"{name} must be below {below:g} (a probability like 0.01), got {text!r}")
    return value


def cv(samples: np.ndarray) -> float:
    return float(np.std(samples, ddof=1) / np.mean(samples)) if len(samples) > 1 else math.nan


def mann_whitney_p(baseline: Sequence[float], current: Sequence[float]) -> float:
    """One-sided p-value that ``current`` tends to be larger than ``baseline`` (exact without ties)."""
    if len(baseline) < 2 or len(current) < 2:
        return math.nan
    from scipy.stats import mannwhitneyu  # on first use: scipy.stats takes a second to import

    return float(mannwhitneyu(current, baseline, alternative="greater").pvalue)


def judge(baseline: Sequence[float], current: Sequence[float], rule: Rule, *, floor: float = 0.0) -> Verdict:
    """The timing verdict for one kernel from its raw samples (seconds per call).

    Args:
      baseline: the baseline's samples.
      current: the current run's samples.
      rule: threshold, alpha, max_cv, floor_factor.
      floor: the dispatch floor in seconds (the larger of the two runs').

    Returns:
      A :class:`Verdict`: ``pass``, ``suspect`` (tripped: confirm before failing), ``faster``,
      ``floor`` or ``inconclusive``.
    """
    b, c = np.asarray(baseline, float), np.asarray(current, float)
    ratio = float(np.median(c) / np.median(b))
    p, spread = mann_whitney_p(b, c), cv(b)
    if max(np.median(b), np.median(c)) < rule.floor_factor * floor:
        return Verdict("floor", ratio, p, spread)
    if not spread <= rule.max_cv:
        return Verdict("inconclusive", ratio, p, spread)
    if ratio > 1 + rule.threshold and p < rule.alpha:
        return Verdict("suspect", ratio, p, spread)
    if ratio < 1 / (1 + rule.threshold) and mann_whitney_p(c, b) < rule.alpha:
        return Verdict("faster", ratio, p, spread)
    return Verdict("pass", ratio, p, spread)
