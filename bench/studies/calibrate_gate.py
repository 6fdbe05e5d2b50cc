"""Calibrates the regression gate on this machine: false alarms and detection, in both modes.

Each scenario runs ``jaxgrads run`` / ``jaxgrads ab`` as a user would and applies the gate's rule
(:func:`jaxgrads.gate.comparison`, with its confirmation runs) at a low trip threshold (5%), so that
every kernel that could trip at any threshold in :data:`THRESHOLDS` has its confirmation run; the
table then evaluates each threshold from the recorded ratios, p-values and confirmations.

- **Baseline mode**: ``jaxgrads baseline`` (with ``bench/studies/workload.py``: 3 pooled processes) is
  the baseline;
  then ``RUNS`` A/A runs of the same code, and ``RUNS`` runs with the workload doing 1.2× the work (a
  copy of bench/studies/workload.py with ``TERMS = 12``), each gated against it.
- **A/B modes**, ``alternate`` (one side after the other) and ``duet`` (both at once, a CPU each,
  swapped every round): ``RUNS`` ``jaxgrads ab`` of the workload against itself (A/A), ``RUNS``
  against a 1.1× copy (``TERMS = 11``), and (duet) ``RUNS`` of a 20-term workload against a 21-term
  one (1.05×), ``ROUNDS`` rounds each.

The targets: no false alarm in A/A; 90% detection of 20% against a baseline and of 10% (or less)
in A/B mode. ``--modes`` re-measures some modes and keeps the saved records of the others.

The slowed workload also costs 10% / 20% more XLA flops, which the gate's deterministic check
catches at zero noise; the tables count the timing rule alone, which is what has to hold for a
slowdown XLA cannot see (a jaxlib upgrade that keeps the program and slows its kernels).

    .venv/bin/python bench/studies/calibrate_gate.py [--runs 10] [--rounds 3] [--no-readme]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from figures import ROOT, publish

from jaxgrads.gate import AB_RULE, Rule, compare, load_run

PY = sys.executable
WORKLOAD = ROOT / "bench" / "studies" / "workload.py"
THRESHOLDS = (0.05, 0.10, 0.20, 0.30, 0.50, 0.75)
MARGIN = 1.1  # a default threshold clears the worst A/A kernel by 10%
MAX_CVS = (0.05, 0.10, 0.15, 0.25)
ALPHA = Rule().alpha
DEFAULTS = {"baseline": Rule().threshold, "A/B alternate": AB_RULE.threshold, "A/B duet": AB_RULE.threshold}
MODES = ("baseline", "alternate", "duet")
AB_SWEEP = ["--preset", "gate", "--problems", "workload", "--sizes", "256"]


def jaxgrads(*args: str) -> int:
    proc = subprocess.run([PY, "-m", "jaxgrads", *args], capture_output=True, text=True, check=False)
    if proc.returncode == 2:
        sys.exit(f"jaxgrads {' '.join(args)} failed: {proc.stderr.strip().splitlines()[-1]}")
    return proc.returncode


def variant(terms: int, folder: Path) -> Path:
    """A copy of the workload with ``terms`` terms (the work scales with it)."""
    path = folder / f"workload_{terms}.py"
    path.write_text(WORKLOAD.read_text().replace("TERMS = 10\n", f"TERMS = {terms}\n"))
    return path


def gate_records(baseline: Path, current: Path, plugin: Path, tmp: Path, tag: str) -> pd.DataFrame:
    """Gates ``current`` against ``baseline`` through the CLI's confirmation path; returns the table."""
    from jaxgrads.sweep import processes as ab

    side = ab.Side("current", PY, (str(plugin),))
    cur = load_run(current, role="current")
    confirm = ab.fresh_confirm(side, cur, tmp / f"{tag}-confirm")
    (tmp / f"{tag}-confirm").mkdir(exist_ok=True)
    result = compare(load_run(baseline, role="baseline"), cur, Rule(threshold=THRESHOLDS[0]), confirm=confirm)
    return result.table


def ab_records(a_plugin: Path, b_plugin: Path, rounds: int, tmp: Path, tag: str, mode: str) -> pd.DataFrame:
    out = tmp / tag
    md = tmp / f"{tag}.md"
    args = [
        "ab",
        "--a",
        PY,
        "--b",
        PY,
        "--a-problems-from",
        str(a_plugin),
        "--b-problems-from",
        str(b_plugin),
    ]
    args += [
        "--rounds",
        str(rounds),
        "--mode",
        mode,
        "--output",
        str(out),
        "--threshold",
        f"{THRESHOLDS[0]:.0%}",
    ]
    args += ["--markdown", str(md), "--overwrite", *AB_SWEEP]
    jaxgrads(*args)

    # the pooled sides the CLI wrote and judged
    a, b = (load_run(out / f"{n}-pooled.csv", role=n) for n in "ab")
    confirmed = {}
    if (out / "confirm-a.csv").exists():
        fa, fb = load_run(out / "confirm-a.csv", role="A"), load_run(out / "confirm-b.csv", role="B")
        confirmed = {k: (fa.samples[k], fb.samples[k]) for k in fa.samples if k in fb.samples}
    # the same verdicts the CLI printed, re-derived with the confirmation it ran
    return compare(
        a, b, Rule(threshold=THRESHOLDS[0]), confirm=lambda keys: confirmed, same_machine=True
    ).table


def flagged(t: pd.DataFrame, threshold: float, max_cv: float = Rule().max_cv) -> pd.Series:
    """The timing rule at ``threshold`` and ``max_cv``: tripped, and tripped again in the confirmation run."""
    return (
        t["timing"].isin(("suspect", "regression"))
        & (t["cv"] <= max_cv)
        & (t["ratio"] > 1 + threshold)
        & (t["p"] < ALPHA)
        & (t["confirm_ratio"] > 1 + threshold)
        & (t["confirm_p"] < ALPHA)
    )


def summarize(records: pd.DataFrame, mode_threshold: dict[str, float], max_cv: float = Rule().max_cv) -> str:
    """Runs flagged per scenario at each threshold, for kernels whose baseline CV is within ``max_cv``."""
    gated = records[
        records["timing"].isin(("pass", "suspect", "regression", "faster")) & (records["cv"] <= max_cv)
    ]
    lines = [
        "| mode | scenario | runs | gated kernels / run | median ratio (workload) | "
        + " | ".join(f"θ={t:.0%}" for t in THRESHOLDS)
        + " | worst kernel | XLA metrics flagged |",
        "|---|---|---|---|---|" + "---|" * (len(THRESHOLDS) + 2),
    ]
    for (mode, scenario), g in records.groupby(["mode", "scenario"], sort=False):
        runs = g["run"].nunique()
        per_run = len(gated[(gated["mode"] == mode) & (gated["scenario"] == scenario)]) / runs
        work = g[g["problem"] == "workload"]
        target = work if scenario != "A/A" else g
        cells = []
        for t in THRESHOLDS:
            hits = flagged(target, t, max_cv).groupby(target["run"]).any()
            word = "false alarms" if scenario == "A/A" else "detected"
            cells.append(
                f"{int(hits.sum())}/{runs} {word}" + (" ←" if abs(t - mode_threshold[mode]) < 1e-9 else "")
            )
        metric_runs = (g["metrics"] == "regression").groupby(g["run"]).any().sum()
        lines.append(
            f"| {mode} | {scenario} | {runs} | {per_run:.0f} | {work['ratio'].median():.3f} | "
            + " | ".join(cells)
            + f" | {worst(target, max_cv):.3f} | {int(metric_runs)}/{runs} |"
        )
    return "\n".join(lines)


def worst(t: pd.DataFrame, max_cv: float = Rule().max_cv) -> float:
    """The largest ratio a kernel held in both its run and its confirmation run (1 if none tripped)."""
    tripped = flagged(t, 0.0, max_cv)
    held = t.loc[tripped, ["ratio", "confirm_ratio"]].min(axis=1)
    return float(held.max()) if len(held) else 1.0


def recommend(records: pd.DataFrame) -> dict[str, float]:
    """Per mode, the smallest threshold that clears the worst A/A kernel by MARGIN."""
    out = {}
    for mode, g in records[records["scenario"] == "A/A"].groupby("mode"):
        need = MARGIN * worst(g) - 1
        out[mode] = next((t for t in THRESHOLDS if t >= need), THRESHOLDS[-1])
    return out


def cv_table(records: pd.DataFrame, mode_threshold: dict[str, float]) -> str:
    """At each mode's default threshold: runs flagged per scenario as the baseline CV limit tightens."""
    lines = ["| mode | scenario | " + " | ".join(f"max CV {c:.0%}" for c in MAX_CVS) + " |",
             "|---|---|" + "---|" * len(MAX_CVS)]  # fmt: skip
    for (mode, scenario), g in records.groupby(["mode", "scenario"], sort=False):
        target = g if scenario == "A/A" else g[g["problem"] == "workload"]
        runs = g["run"].nunique()
        cells = []
        for c in MAX_CVS:
            hits = int(flagged(target, mode_threshold[mode], c).groupby(target["run"]).any().sum())
            gated = int(
                (g["timing"].isin(("pass", "suspect", "regression", "faster")) & (g["cv"] <= c)).sum()
            )
            cells.append(
                f"{hits}/{runs} ({gated / runs:.1f} gated/run)" + (" ←" if c == Rule().max_cv else "")
            )
        lines.append(f"| {mode} | {scenario} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tabulate(records: pd.DataFrame) -> str:
    advice = recommend(records)
    return (
        summarize(records, DEFAULTS)
        + "\n\nWorst kernel: the largest slowdown one kernel held in its run and its confirmation run. "
        + "The smallest threshold clearing the worst A/A kernel by 10%: "
        + ", ".join(f"{m} {t:.0%}" for m, t in advice.items())
        + "; the defaults (←): "
        + ", ".join(f"{m} {DEFAULTS[m]:.0%}" for m in advice)
        + "."
        + "\n\nThe same runs at each mode's default threshold (← above) as the limit on the baseline's "
        "coefficient of variation tightens (kernels above it are inconclusive, not gated):\n\n"
        + cv_table(records, DEFAULTS)
        + "\n\n"
        + footer(records)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES),
                        help="modes to measure; the saved records of the others are kept")  # fmt: skip
    parser.add_argument(
        "--from-records", metavar="CSV", help="re-tabulate a saved results/gate-calibration.csv"
    )
    opts = parser.parse_args()
    if opts.from_records:
        records = pd.read_csv(opts.from_records)
        records["mode"] = records["mode"].replace({"A/B": "A/B alternate"})
        publish("gate-calibration", tabulate(records), readme=not opts.no_readme)
        return
    start = time.perf_counter()
    records = []
    with tempfile.TemporaryDirectory(prefix="jaxgrads-calibrate-") as d:
        tmp = Path(d)
        slow = {"1.1× work": variant(11, tmp), "1.2× work": variant(12, tmp)}
        if "baseline" in opts.modes:
            baseline_mode(opts, tmp, slow, records)
        ab_scenarios = [("A/A", WORKLOAD, WORKLOAD), ("1.1× work", WORKLOAD, slow["1.1× work"]),
                        ("1.05× work", variant(20, tmp), variant(21, tmp))]  # fmt: skip
        for mode in (m for m in ("alternate", "duet") if m in opts.modes):
            # the smaller slowdown only where the larger one is caught: the duet
            for scenario, a_plugin, b_plugin in ab_scenarios[: 3 if mode == "duet" else 2]:
                for i in range(opts.runs):
                    t = ab_records(a_plugin, b_plugin, opts.rounds, tmp, f"ab{len(records)}", mode)
                    records.append(t.assign(mode=f"A/B {mode}", scenario=scenario, run=i))
                    print(
                        f"A/B {mode} {scenario} {i}: {int(flagged(t, 0.05).sum())} flagged at 5%",
                        file=sys.stderr,
                    )
    new = pd.concat(records, ignore_index=True)
    new["rounds"] = opts.rounds
    new["calibration_s"] = round(time.perf_counter() - start)
    saved = ROOT / "results" / "gate-calibration.csv"
    if saved.is_file():  # the modes not measured now keep their records
        old = pd.read_csv(saved)
        old["mode"] = old["mode"].replace({"A/B": "A/B alternate"})
        new = pd.concat([old[~old["mode"].isin(new["mode"].unique())], new], ignore_index=True)
    new.drop(columns="key", errors="ignore").to_csv(saved, index=False)
    publish("gate-calibration", tabulate(new), readme=not opts.no_readme)


def baseline_mode(opts, tmp: Path, slow: dict, records: list) -> None:
    """A stored baseline (3 pooled processes), then A/A and 1.2× runs gated against it."""
    jaxgrads("baseline", "--dir", str(tmp / "baselines"), "--problems-from", str(WORKLOAD))
    (base,) = (tmp / "baselines").glob("*[!s].csv")  # the one baseline, not its samples
    # the slowed workload runs in the whole gate sweep, as the baseline did: a sweep of one problem
    # leaves the process in another state (heap, caches) and its timings differ by more than 10%
    scenarios = [("A/A", WORKLOAD), ("1.2× work", slow["1.2× work"])]
    for scenario, plugin in scenarios:
        for i in range(opts.runs):
            cur = tmp / f"cur-{len(records)}.csv"
            jaxgrads(
                "run",
                "--preset",
                "gate",
                "--problems-from",
                str(plugin),
                "-o",
                str(cur),
                "--overwrite",
            )
            t = gate_records(base, cur, plugin, tmp, f"g{len(records)}")
            records.append(t.assign(mode="baseline", scenario=scenario, run=i))
            print(f"baseline {scenario} {i}: {int(flagged(t, 0.10).sum())} flagged at 10%", file=sys.stderr)


def footer(records: pd.DataFrame) -> str:
    runs = records.groupby(["mode", "scenario"])["run"].nunique().min()
    seconds = records.groupby("mode", sort=False)["calibration_s"].first()
    spent = "; ".join(f"{m} {int(s)} s" for m, s in seconds.items())
    return (
        f"{runs} runs per scenario; A/B with {records['rounds'].iloc[-1]} rounds per side; "
        f"alpha {ALPHA}; max CV {Rule().max_cv:.0%}; a kernel counts only when its confirmation run trips "
        f"too; ← marks the default threshold. Calibration time (modes measured together share it): {spent}: "
        "`.venv/bin/python bench/studies/calibrate_gate.py [--modes ...]` "
        "(records in results/gate-calibration.csv)."
    )


if __name__ == "__main__":
    main()
