r"""The regression gate: is CURRENT slower than BASELINE, soundly enough to fail a CI job?

Two kinds of evidence, strongest first:

1. **XLA's deterministic metrics** (``flops``, ``bytes_accessed``, ``temp_bytes``, ``jac_bytes``) are
   exact for one jax/jaxlib version: the same program costs the same every time. When both runs
   used the same versions on the same backend, a metric more than ``metric_tolerance`` (1%) above
   the baseline is a regression at zero noise (a method starting to materialize an identity basis
   shows here first). Across versions they are reported ``not comparable``, never failed.
2. **Timings**, only when the machine fingerprint (:data:`FINGERPRINT`) matches. A kernel trips when
   its median ratio $r = \tilde t_\text{cur} / \tilde t_\text{base}$ exceeds $1 + \theta$ *and* a
   one-sided Mann-Whitney U test on the raw samples (``current > baseline``) gives $p < \alpha$. A
   tripped kernel is measured again (the confirmation run), and only a kernel that trips again
   fails the gate. A baseline whose samples vary more than ``max_cv`` (coefficient of variation) is
   ``inconclusive``; a kernel within ``floor_factor``× of the dispatch floor is reported, never gated.
   When the machine's own probes (dispatch floor, copy, matmul: timed in every run) moved by more
   than ``max_drift`` since the baseline, every timing is ``inconclusive``: the machine is not in
   the state the baseline saw.

3. **Kernels that stopped working.** A kernel timed in the baseline that is an ``error`` row now,
   has no finite time or no samples, or is missing from the current run is a ``regression`` whatever
   the machine: nothing that broke passes silently. One ``skipped`` now (over the memory budget or
   the call-time limit, which depend on the machine) is ``inconclusive``. A kernel new in the current
   run is listed as ``new`` and never fails.

The verdicts, worst first: ``regression`` (fails), ``inconclusive`` (fails only with ``strict``),
``suspect`` (tripped, not confirmed), ``pass``, ``faster``, ``floor``, ``new``, ``not comparable``.

With no baseline of the machine's own fingerprint, :func:`closest_baseline` picks the committed one
that shares the most with it (backend first, then jax and jaxlib, then the CPU): its XLA metrics
still count, its timings are ``inconclusive``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jaxgrads.errors import JaxgradsError
from jaxgrads.measure.kernels import kernel_id
from jaxgrads.results.files import read_text
from jaxgrads.results.labels import format_seconds
from jaxgrads.results.schema import KEY, read_results, samples_path, timed_rows

__all__ = [
    "AB_RULE",
    "FINGERPRINT",
    "GATE_KEY",
    "METRICS",
    "GateResult",
    "Run",
    "Rule",
    "VERSIONS",
    "Verdict",
    "closest_baseline",
    "compare",
    "fingerprint",
    "fingerprint_slug",
    "judge",
    "load_run",
    "parse_fraction",
]

GATE_KEY: tuple[str, ...] = (*KEY, "backend")
FINGERPRINT: tuple[str, ...] = (
    "cpu_model",
    "cpu_count",
    "cpus_used",
    "backend",
    "device_kind",
    "jax_version",
    "jaxlib_version",
)
VERSIONS: tuple[str, ...] = ("backend", "jax_version", "jaxlib_version")
METRICS: tuple[str, ...] = ("flops", "bytes_accessed", "temp_bytes", "jac_bytes")
ORDER = ("regression", "inconclusive", "suspect", "pass", "faster", "floor", "new", "not comparable")


@dataclass(frozen=True)
class Rule:
    """The decision rule's knobs; the defaults come from bench/calibrate_gate.py (see README)."""

    # θ: a median ratio above 1 + θ trips. Against a stored baseline on a shared runner, the same code
    # held up to ~1.4x in two processes in a row (time-correlated drift), hence 75% here; A/B mode
    # measures both sides now and needs far less (AB_RULE). Both: README, "Calibration".
    threshold: float = 0.75
    alpha: float = 0.01  # ... with a one-sided Mann-Whitney p below this
    max_cv: float = 0.25  # a baseline noisier than this (std / mean of its samples) is inconclusive
    metric_tolerance: float = 0.01  # deterministic metrics: relative change allowed
    # the machine's own state: when the run's dispatch floor, copy or matmul (timed in every run)
    # took more than 1 + max_drift times (or less than 1 / (1 + max_drift) of) the baseline's, the
    # machine is not the one the baseline saw, whatever its fingerprint: timings are inconclusive
    max_drift: float = 0.25
    floor_factor: float = 10.0  # kernels under this many dispatch floors are not gated


AB_RULE = Rule(threshold=0.30)  # A/B mode: both sides measured now, interleaved: a tighter threshold


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


def _cv(samples: np.ndarray) -> float:
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
    p, cv = mann_whitney_p(b, c), _cv(b)
    if max(np.median(b), np.median(c)) < rule.floor_factor * floor:
        return Verdict("floor", ratio, p, cv)
    if not cv <= rule.max_cv:
        return Verdict("inconclusive", ratio, p, cv)
    if ratio > 1 + rule.threshold and p < rule.alpha:
        return Verdict("suspect", ratio, p, cv)
    if ratio < 1 / (1 + rule.threshold) and mann_whitney_p(c, b) < rule.alpha:
        return Verdict("faster", ratio, p, cv)
    return Verdict("pass", ratio, p, cv)


# ---------------------------------------------------------------- loading


@dataclass
class Run:
    """A results CSV's timed rows, indexed by :data:`GATE_KEY`, with their raw samples.

    ``untimed`` maps every other kernel of the file to why it has no time: ``error: ...``,
    ``skipped: ...``, ``no finite time`` or ``no samples``.
    """

    path: str
    rows: pd.DataFrame
    samples: dict[tuple, np.ndarray]
    untimed: dict[tuple, str] = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # the first row: the run's machine and software

    def value(self, column: str):
        return self.info.get(column, "")


def load_run(path, *, role: str) -> Run:
    """Reads a results CSV and its samples for the gate; every defect is a one-line JaxgradsError.

    A baseline must have timed rows, each with its samples. The current run may have none: its
    kernels that failed, or whose samples are missing, are kept in ``Run.untimed`` for the gate to
    fail.
    """
    is_baseline = role == "baseline"
    df = read_results(path, require_timed=is_baseline)
    if df.empty:
        raise JaxgradsError(f"{role} {path}: no rows (the run stopped before its first case?)")
    missing = [c for c in (*GATE_KEY, *FINGERPRINT, "dispatch_floor_s") if c not in df.columns]
    if missing:
        raise JaxgradsError(f"{role} {path}: missing columns {', '.join(missing)}")
    dup = df.duplicated(list(GATE_KEY), keep=False)
    if dup.any():
        first = df[dup].iloc[0]
        raise JaxgradsError(
            f"{role} {path}: duplicate rows for {_kernel_id(first)} "
            f"(lines {', '.join(str(i + 2) for i in df.index[dup][:3])}); one row per kernel"
        )
    for col in FINGERPRINT:
        if df[col].astype(str).nunique() > 1:
            raise JaxgradsError(
                f"{role} {path}: rows from more than one machine ({col} differs); one run per file"
            )
    samples = _load_samples(path, role, header_only=df.empty)
    backend = str(df["backend"].iloc[0]) if len(df) else ""
    timed_index = timed_rows(df).index
    by_key, untimed, keep = {}, {}, []
    for i, r in zip(df.index, df.to_dict("records"), strict=True):
        key = tuple(str(r[k]) for k in KEY)
        t = samples.get(key)
        if r["status"] != "ok":
            untimed[(*key, backend)] = f"{r['status']}: {r['message']}".strip().rstrip(":")
        elif i not in timed_index:
            untimed[(*key, backend)] = "no finite time"
        elif t is None or len(t) == 0 or not np.all(np.isfinite(t)):
            if is_baseline:
                raise JaxgradsError(f"{role} {path}: no samples for {'-'.join(key)} (truncated?)")
            untimed[(*key, backend)] = "no samples"
        else:
            by_key[(*key, backend)] = t
            keep.append(i)
    timed = df.loc[keep].copy()
    timed.index = pd.MultiIndex.from_tuples(
        [(*k, backend) for k in timed[list(KEY)].astype(str).itertuples(index=False, name=None)],
        names=GATE_KEY,
    )
    return Run(str(path), timed, by_key, untimed, df.iloc[0].to_dict())


def _load_samples(path, role: str, *, header_only: bool) -> dict[tuple, np.ndarray]:
    """The raw samples beside a results CSV, by :data:`KEY`; a one-line JaxgradsError if unusable."""
    spath = samples_path(path)
    if not spath.is_file():
        raise JaxgradsError(f"{role} {path}: no samples file {spath} beside it; the gate needs raw samples")
    text = read_text(spath, "a samples CSV") if spath.stat().st_size or not header_only else ""
    if not text:
        return {}
    try:
        raw = pd.read_csv(io.StringIO(text), dtype={k: str for k in KEY}, keep_default_na=False)
        raw["time_s"] = pd.to_numeric(raw["time_s"], errors="raise")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, KeyError, ValueError) as exc:
        raise JaxgradsError(f"{role} {spath}: not a samples CSV ({str(exc).splitlines()[0]})") from None
    missing = [k for k in KEY if k not in raw.columns]
    if missing:
        raise JaxgradsError(f"{role} {spath}: not a samples CSV (missing columns {', '.join(missing)})")
    return {k: g["time_s"].to_numpy(float) for k, g in raw.groupby(list(KEY), sort=False)}


def closest_baseline(folder, fp: Mapping[str, str]) -> tuple[Path | None, list[str]]:
    """The committed baseline nearest to fingerprint ``fp``, and the fingerprint fields it differs in.

    Only baselines of ``fp``'s backend qualify (timings and XLA metrics of another backend compare
    nothing). Among them: the same jax and jaxlib first (the XLA metrics are then comparable), then
    the most fingerprint fields in common, then the file name. ``(None, [])`` when none qualifies.
    """
    best, best_score, best_diff = None, None, []
    for path in sorted(Path(folder).glob("*.csv")):
        if path.name.endswith(".samples.csv"):
            continue
        try:
            with open(path, newline="", encoding="utf-8") as f:
                first = next(csv.DictReader(f), None)
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
        if not first or str(first.get("backend")) != fp["backend"]:
            continue
        diff = [k for k in FINGERPRINT if str(first.get(k, "")) != str(fp[k])]
        score = (all(k not in diff for k in VERSIONS), -len(diff))
        if best_score is None or score > best_score:
            best, best_score, best_diff = path, score, diff
    return best, best_diff


def fingerprint(run: Run) -> dict[str, str]:
    """The machine fingerprint: CPU model and count, backend, device kind, jax and jaxlib versions."""
    return {k: str(run.value(k)) for k in FINGERPRINT}


def fingerprint_slug(fp: Mapping[str, str]) -> str:
    """A file name for a fingerprint: ``cpu-amd-epyc-7b13-2cpu-pinned1-jax0.10.2-jaxlib0.10.2``."""
    device = fp["device_kind"] if fp["device_kind"].lower() != fp["backend"].lower() else ""
    cpus = f"{fp['cpu_count']}cpu"
    if fp.get("cpus_used") not in (None, "", fp["cpu_count"]):
        cpus += f"-pinned{fp['cpus_used']}"
    parts = [fp["backend"], device, fp["cpu_model"], cpus, f"jax{fp['jax_version']}",
             f"jaxlib{fp['jaxlib_version']}"]  # fmt: skip
    text = "-".join(p for p in parts if p)
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9.]+", "-", text.lower())).strip("-")


def machine_drift(baseline: Run, current: Run) -> dict[str, float]:
    """The current run's time for the machine's own probes over the baseline's: dispatch floor,
    copy and matmul (the roofline's ceilings, inverted to times). Probes missing from either run are
    left out."""
    probes = {"dispatch floor": ("dispatch_floor_s", False), "copy": ("ceiling_bytes_per_s", True),
              "matmul": ("ceiling_flops_per_s", True)}  # fmt: skip
    out = {}
    for name, (col, rate) in probes.items():
        try:
            b, c = float(baseline.value(col)), float(current.value(col))
        except (TypeError, ValueError):
            continue
        if b > 0 and c > 0 and math.isfinite(b) and math.isfinite(c):
            out[name] = b / c if rate else c / b
    return out


def _kernel_id(row) -> str:
    """The runner's case id from a row (0 marks a dimension the problem does not use)."""
    m, n, b = int(row["m"]), int(row["n"]), int(row["batch"])
    label = (f"{n}" if m in (0, n) else f"{m}x{n}") + (f"-b{b}" if b else "")
    chunk = row.get("chunk_size", 0)
    chunk = 0 if pd.isna(chunk) else int(chunk)
    return kernel_id(row["problem"], row["wrt"], row["method"], label, row["dtype"], chunk)


# ---------------------------------------------------------------- comparing


@dataclass
class GateResult:
    """Every compared kernel's verdicts, the per-problem summary, and the exit code they add up to."""

    table: pd.DataFrame  # one row per kernel, worst first
    summary: pd.DataFrame  # per (problem, wrt): geometric-mean ratio over gated kernels
    notes: list[str] = field(default_factory=list)
    strict: bool = False

    @property
    def regressions(self) -> int:
        return int((self.table["verdict"] == "regression").sum())

    @property
    def inconclusive(self) -> int:
        return int((self.table["verdict"] == "inconclusive").sum())

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions or (self.strict and self.inconclusive) else 0


# kernels -> their fresh samples: (baseline's or None to keep the recorded ones, current's)
Confirm = Callable[[list[tuple]], Mapping[tuple, tuple[np.ndarray | None, np.ndarray]]]


def _metric_verdict(base: pd.Series, cur: pd.Series, tolerance: float) -> tuple[str, str]:
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


def compare(
    baseline: Run,
    current: Run,
    rule: Rule = Rule(),  # noqa: B008 (frozen)
    *,
    confirm: Confirm | None = None,
    same_machine: bool | None = None,
    strict: bool = False,
) -> GateResult:
    """Compares two runs kernel by kernel; see the module docstring for the rule.

    Args:
      baseline: the reference run.
      current: the run under test.
      rule: the decision rule's knobs.
      confirm: measures the given kernels again and returns their fresh samples, the baseline's
        too in A/B mode (None keeps the recorded baseline); without it a tripped kernel stays
        ``suspect`` (and does not fail).
      same_machine: whether timings are comparable; default: the fingerprints match. A/B mode
        passes True (both sides ran interleaved on one machine, whatever their jax versions).
      strict: inconclusive kernels fail too.

    Returns:
      A :class:`GateResult`.
    """
    fp_b, fp_c = fingerprint(baseline), fingerprint(current)
    if fp_b["backend"] != fp_c["backend"]:
        raise JaxgradsError(
            f"baseline {baseline.path} is from backend {fp_b['backend']!r}, current {current.path} from "
            f"{fp_c['backend']!r}; compare runs of one backend"
        )
    shared = [k for k in current.rows.index if k in baseline.rows.index]
    lost = [k for k in baseline.rows.index if k not in current.rows.index]
    new = [k for k in current.rows.index if k not in baseline.rows.index]
    if not shared and not any(k in current.untimed for k in lost):
        raise JaxgradsError(
            f"no kernel of {current.path} is in baseline {baseline.path}; run the baseline's sweep "
            "(jaxgrads baseline) with the same options"
        )
    notes = []
    versions_match = all(fp_b[k] == fp_c[k] for k in VERSIONS)
    if not versions_match:
        notes.append(
            f"XLA metrics not comparable: jax {fp_b['jax_version']}/jaxlib {fp_b['jaxlib_version']} in the "
            f"baseline, {fp_c['jax_version']}/{fp_c['jaxlib_version']} now"
        )
    timings = (fp_b == fp_c) if same_machine is None else same_machine
    if not timings:
        differs = ", ".join(f"{k} {fp_b[k]!r} -> {fp_c[k]!r}" for k in FINGERPRINT if fp_b[k] != fp_c[k])
        notes.append(f"timings inconclusive: the machine fingerprint differs ({differs})")
    elif same_machine is None:
        drift = machine_drift(baseline, current)
        if any(abs(math.log(r)) > math.log(1 + rule.max_drift) for r in drift.values()):
            timings = False
            moved = ", ".join(f"{k} {r:.2f}×" for k, r in drift.items())
            notes.append(
                f"timings inconclusive: the machine is not in the baseline's state (time of {moved} the "
                f"baseline's; --max-drift {rule.max_drift:.0%})"
            )
    floor = max(float(baseline.value("dispatch_floor_s")), float(current.value("dispatch_floor_s")))

    records = []
    for key in shared:
        b_row, c_row = baseline.rows.loc[key], current.rows.loc[key]
        metric, detail = (
            _metric_verdict(b_row, c_row, rule.metric_tolerance) if versions_match else ("not comparable", "")
        )
        if timings:
            v = judge(baseline.samples[key], current.samples[key], rule, floor=floor)
        else:
            b, c = baseline.samples[key], current.samples[key]
            v = Verdict("inconclusive", float(np.median(c) / np.median(b)), math.nan, _cv(b))
        records.append({
            "key": key, "kernel": _kernel_id(c_row), "problem": c_row["problem"], "wrt": c_row["wrt"],
            "baseline_s": float(np.median(baseline.samples[key])),
            "current_s": float(np.median(current.samples[key])),
            "ratio": v.ratio, "p": v.p, "cv": v.cv, "timing": v.verdict, "confirm_ratio": math.nan,
            "confirm_p": math.nan, "metrics": metric, "metric_detail": detail,
        })  # fmt: skip
    records += [_lost_record(baseline, current, key) for key in lost]
    records += [_new_record(current, key) for key in new]
    tripped = [r["key"] for r in records if r["timing"] == "suspect"]
    if tripped and confirm is not None:
        fresh = confirm(tripped)
        for r in records:
            if r["timing"] == "suspect" and r["key"] in fresh:
                base, cur = fresh[r["key"]]
                base = baseline.samples[r["key"]] if base is None else base
                again = judge(base, cur, rule, floor=floor)
                r |= {"confirm_ratio": again.ratio, "confirm_p": again.p}
                r["timing"] = "regression" if again.verdict == "suspect" else "suspect"
    for r in records:  # an XLA-metric regression fails whatever the clock says
        r.setdefault("verdict", "regression" if r["metrics"] == "regression" else r["timing"])
    table = pd.DataFrame(records)
    table["rank"] = table["verdict"].map(ORDER.index)
    table = table.sort_values(["rank", "ratio"], ascending=[True, False], kind="stable").drop(columns="rank")
    return GateResult(table.reset_index(drop=True), _summary(table), notes, strict)


def _record(row, key, baseline_s: float, current_s: float, timing: str, verdict: str) -> dict:
    return {
        "key": key, "kernel": _kernel_id(row), "problem": row["problem"], "wrt": row["wrt"],
        "baseline_s": baseline_s, "current_s": current_s, "ratio": math.nan, "p": math.nan,
        "cv": math.nan, "timing": timing, "confirm_ratio": math.nan, "confirm_p": math.nan,
        "metrics": "–", "metric_detail": "", "verdict": verdict,
    }  # fmt: skip


def _lost_record(baseline: Run, current: Run, key: tuple) -> dict:
    """A kernel timed in the baseline and not now: a regression, unless the current run skipped it
    (a limit of this machine: memory budget, call time), which is inconclusive."""
    why = current.untimed.get(key, "missing from the current run")
    verdict = "inconclusive" if why.startswith("skipped") else "regression"
    b = float(np.median(baseline.samples[key]))
    return _record(baseline.rows.loc[key], key, b, math.nan, why[:120], verdict)


def _new_record(current: Run, key: tuple) -> dict:
    """A kernel timed now and not in the baseline: listed, never failed."""
    c = float(np.median(current.samples[key]))
    return _record(current.rows.loc[key], key, math.nan, c, "not in the baseline", "new")


def _summary(table: pd.DataFrame) -> pd.DataFrame:
    """Geometric-mean ratio per (problem, wrt) over the kernels whose timings were gated."""
    gated = table[table["timing"].isin(("pass", "suspect", "regression", "faster"))]
    if gated.empty:
        return pd.DataFrame(columns=["problem", "wrt", "kernels", "geomean_ratio"])
    out = gated.groupby(["problem", "wrt"], sort=True)["ratio"].agg(
        kernels="size", geomean_ratio=lambda r: float(np.exp(np.mean(np.log(r))))
    )
    return out.reset_index()


# ---------------------------------------------------------------- output


def _fmt(x: float, spec: str) -> str:
    return format(x, spec) if isinstance(x, float | int) and math.isfinite(x) else "–"


def _rows(result: GateResult) -> list[list[str]]:
    rows = []
    for r in result.table.to_dict("records"):
        ratio = _fmt(r["ratio"], ".3f")
        if math.isfinite(r["confirm_ratio"]):
            ratio += f" (again {r['confirm_ratio']:.3f})"
        metrics = r["metrics"] + (f" ({r['metric_detail']})" if r["metric_detail"] else "")
        rows.append([
            r["kernel"], format_seconds(r["baseline_s"]), format_seconds(r["current_s"]), ratio,
            _fmt(r["p"], ".2g"), r["verdict"], r["timing"], metrics,
        ])  # fmt: skip
    return rows


HEADER = ["kernel", "baseline", "current", "ratio", "p", "verdict", "timing", "XLA metrics"]


def headline(result: GateResult) -> str:
    counts = result.table["verdict"].value_counts()
    parts = ", ".join(f"{counts[v]} {v}" for v in ORDER if v in counts)
    state = "FAIL" if result.exit_code else "PASS"
    return f"gate {state}: {len(result.table)} kernels compared ({parts})"


def text_report(result: GateResult) -> str:
    """The terminal table, regressions first."""
    rows = _rows(result)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    out = [line(HEADER), line(["-" * w for w in widths]), *map(line, rows), ""]
    if not result.summary.empty:
        out.append("geometric-mean ratio per problem (gated kernels):")
        out += [
            f"  {s['problem']}/{s['wrt']}: {s['geomean_ratio']:.3f} over {s['kernels']} kernels"
            for s in result.summary.to_dict("records")
        ]
    out += [f"note: {n}" for n in result.notes]
    out.append(headline(result))
    return "\n".join(out) + "\n"


def markdown_report(result: GateResult) -> str:
    """The same as markdown, for a CI job summary."""
    out = [f"## {headline(result)}", ""]
    out += [f"- {n}" for n in result.notes]
    out += ["", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in _rows(result)]
    if not result.summary.empty:
        out += ["", "| problem | wrt | gated kernels | geometric-mean ratio |", "|---|---|---|---|"]
        out += [
            f"| {s['problem']} | {s['wrt']} | {s['kernels']} | {s['geomean_ratio']:.3f} |"
            for s in result.summary.to_dict("records")
        ]
    return "\n".join(out) + "\n"
