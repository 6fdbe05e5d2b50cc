"""Series over commits: one per kernel, metric and machine fingerprint, in git order, with steps.

A series never mixes machine fingerprints or jax versions (the gate's :data:`FINGERPRINT`: CPU
model and count, CPUs used, backend, device kind, jax and jaxlib): the same kernel measured on two
machines, or with two jax versions, is two series, each labelled by its fingerprint. An
instruction count is split further by the Valgrind version and guest ISA it was counted with.

A time series whose median lies within the gate's ``floor_factor`` times the runs' dispatch floor
is marked ``floor`` and, as in the gate, never a regression: its steps are the dispatch path's noise.
A regression is a step up by more than the metric's threshold whose confidence reaches the
family-wise level $1 - (1 - c)/N$ for the $N$ series searched that can regress (Bonferroni): with
$c = 0.99$, the chance that noise alone flags any of the $N$ is about 1%, however many kernels the
history holds.

Git order is the repository's ``git rev-list --topo-order --reverse --all``: a commit the repository
does not know (a run copied from another clone) is placed by its run's start time after the known
ones, and said so in :attr:`Histories.notes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jaxgrads.gate.records import INSTRUCTION_SETTINGS
from jaxgrads.gate.runs import FINGERPRINT, fingerprint_slug
from jaxgrads.gate.stats import Rule
from jaxgrads.git import git
from jaxgrads.history.steps import Step, detect_steps
from jaxgrads.results.labels import row_kernel_id
from jaxgrads.results.schema import MERGE_KEY, timed_rows

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "METRICS",
    "REGRESSION_COLUMNS",
    "SERIES_KEY",
    "Histories",
    "Metric",
    "Series",
    "build",
    "family_level",
    "git_order",
    "regression_table",
]


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    min_noise: float  # one point's smallest noise, in log units (steps.detect_steps)
    threshold: float  # a step up by more than this fraction is a regression


# Higher is worse for every one. The thresholds are the gate's (its Rule, calibrated by make
# calibrate-gate): each point of a history is a run in a fresh process compared with runs of other
# processes, as a stored baseline is; time drifts 12-20% between processes here, the rest is
# deterministic.
_RULE = Rule()
METRICS: dict[str, Metric] = {
    m.column: m
    for m in (
        Metric("time_median_s", "median time (s)", 0.05, _RULE.threshold),
        Metric("instructions", "instructions per call", 0.002, _RULE.instr_tolerance),
        Metric("flops", "XLA flops", 0.001, _RULE.metric_tolerance),
        Metric("bytes_accessed", "XLA bytes accessed", 0.001, _RULE.metric_tolerance),
        Metric("temp_bytes", "XLA temp bytes", 0.001, _RULE.metric_tolerance),
        Metric("peak_bytes", "XLA peak bytes", 0.001, _RULE.metric_tolerance),
    )
}
SERIES_KEY: tuple[str, ...] = (*MERGE_KEY, "backend")
REGRESSION_COLUMNS = ("kernel", "metric", "fingerprint", "commit", "before", "after", "ratio", "confidence",
                      "points_before", "points_after", "newest")  # fmt: skip


@dataclass
class Series:
    """One kernel's metric on one fingerprint, a point per commit (median over that commit's runs)."""

    kernel: str  # e.g. matvec-A-jacrev-128-float32 (with @4dev on 4 devices)
    key: tuple  # SERIES_KEY's values
    metric: Metric
    fingerprint: str  # fingerprint_slug
    points: pd.DataFrame  # commit, started_at, value, runs, position (git order)
    steps: list[Step] = field(default_factory=list)
    floor: bool = False  # a time within the gate's floor_factor x the dispatch floor: never a regression

    def regressions(self, threshold: float | None = None, confidence: float = 0.99) -> list[Step]:
        if self.floor:
            return []
        limit = self.metric.threshold if threshold is None else threshold
        return [s for s in self.steps if s.ratio > 1 + limit and s.confidence >= confidence]

    def commit_at(self, step: Step) -> str:
        return str(self.points["commit"].iloc[step.index])


@dataclass
class Histories:
    series: list[Series]
    commits: list[str]  # every commit with a run, in git order
    fingerprints: list[str]
    notes: list[str]

    @property
    def newest(self) -> str:
        return self.commits[-1]


def git_order(repo: str | Path) -> list[str]:
    """Full hashes of every commit reachable from any ref, parents first; [] outside a repository."""
    out = git(repo, "rev-list", "--topo-order", "--reverse", "--all", timeout=60)
    return [] if out is None else out.split()


def _positions(commits: list[str], started: dict[str, str], repo) -> tuple[dict[str, float], list[str]]:
    order = git_order(repo)
    by_prefix = {}
    for i, full in enumerate(order):
        by_prefix.setdefault(full[:7], []).append((full, i))
    pos, unknown = {}, []
    for c in commits:
        hits = [i for full, i in by_prefix.get(c[:7], []) if full.startswith(c)]
        if hits:
            pos[c] = float(hits[0])
        else:
            unknown.append(c)
    for k, c in enumerate(sorted(unknown, key=lambda c: started[c])):
        pos[c] = len(order) + k
    notes = []
    if unknown:
        notes.append(
            f"{len(unknown)} commit(s) not in {repo}'s history ({', '.join(sorted(unknown)[:3])}): "
            "placed after the known ones, by their runs' start time"
        )
    return pos, notes


def _fingerprint(row, metric: str) -> str:
    fp = fingerprint_slug({k: str(row[k]) for k in FINGERPRINT})
    if metric == "instructions":
        fp += "-" + "-".join(str(row[k]) for k in INSTRUCTION_SETTINGS if k in row)
    return fp


def build(table: pd.DataFrame, repo: str | Path = ".", metrics: list[str] | None = None) -> Histories:
    """Every series of a history table (:meth:`History.table`), with its steps."""
    import pandas as pd

    timed = timed_rows(table).copy()
    started = timed.groupby("commit")["started_at"].min().astype(str).to_dict()
    pos, notes = _positions(sorted(started), started, repo)
    timed["position"] = timed["commit"].map(pos)
    timed["kernel"] = [
        row_kernel_id(r)
        + (f"@{int(r['devices'])}dev" if int(r["devices"]) > 1 else "")
        + (f"@{int(r['processes'])}proc" if int(r["processes"]) > 1 else "")
        for r in timed.to_dict("records")
    ]
    out = []
    for name in metrics or list(METRICS):
        metric = METRICS[name]
        if name not in timed.columns:
            continue
        rows = timed.assign(value=pd.to_numeric(timed[name], errors="coerce"))
        rows = rows[rows["value"].map(lambda v: math.isfinite(v) and v > 0)]
        if rows.empty:
            continue
        rows = rows.assign(fingerprint=[_fingerprint(r, name) for r in rows.to_dict("records")])
        for (fp, kernel), g in rows.groupby(["fingerprint", "kernel"], sort=True):
            points = (
                g.groupby("commit")
                .agg(
                    value=("value", "median"),
                    runs=("run_id", "nunique"),
                    started_at=("started_at", "min"),
                    position=("position", "first"),
                )
                .reset_index()
                .sort_values("position", kind="stable")
                .reset_index(drop=True)
            )
            series = Series(kernel, tuple(g.iloc[0][k] for k in SERIES_KEY), metric, fp, points)
            if name == "time_median_s":  # as the gate: dispatch-bound kernels' times are not gated
                dispatch = pd.to_numeric(g["dispatch_floor_s"], errors="coerce").median()
                series.floor = bool(points["value"].median() < _RULE.floor_factor * dispatch)
            series.steps = detect_steps(points["value"].to_numpy(float), min_noise=metric.min_noise)
            out.append(series)
    commits = sorted(started, key=lambda c: pos[c])
    fingerprints = sorted({_fingerprint(r, "time_median_s") for r in timed.to_dict("records")})
    if len(fingerprints) > 1:
        notes.append(
            f"{len(fingerprints)} machine/jax fingerprints: their series are kept apart "
            f"({'; '.join(fingerprints)})"
        )
    return Histories(out, commits, fingerprints, notes)


def family_level(h: Histories, confidence: float) -> float:
    """The confidence one step needs so that all of ``h``'s series that can regress (those not at the
    dispatch floor) together flag noise with probability about ``1 - confidence`` (Bonferroni)."""
    return 1 - (1 - confidence) / max(sum(not s.floor for s in h.series), 1)


def regression_table(
    h: Histories, *, threshold: float | None = None, confidence: float = 0.99
) -> pd.DataFrame:
    """One row per regression step (confidence at least :func:`family_level`): kernel, metric,
    fingerprint, commit, before, after, ratio, confidence, and whether the newest commit starts it."""
    import pandas as pd

    rows = []
    level = family_level(h, confidence)
    for s in h.series:
        for step in s.regressions(threshold, level):
            commit = s.commit_at(step)
            rows.append(
                {
                    "kernel": s.kernel,
                    "metric": s.metric.column,
                    "fingerprint": s.fingerprint,
                    "commit": commit,
                    "before": step.before,
                    "after": step.after,
                    "ratio": step.ratio,
                    "confidence": step.confidence,
                    "points_before": step.n_before,
                    "points_after": step.n_after,
                    "newest": commit == h.newest,
                }
            )
    table = pd.DataFrame(rows, columns=list(REGRESSION_COLUMNS))
    return table.sort_values(["newest", "ratio"], ascending=False, kind="stable")
