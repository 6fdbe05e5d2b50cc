"""Calibrates the gate's instruction tier on this machine: A/A spread and detection of a 3% increase.

Each run is ``jaxgrads run --instructions`` as a user would run it, on a small sweep (:data:`SWEEP`:
the workload, a dispatch-bound kernel and a matvec, by jacrev and the closed form), in fresh
callgrind processes:

- **A/A**: ``--runs`` runs of the same code. Every pair of runs is compared by the gate's rule
  (:func:`jaxgrads.gate.instructions_verdict`); a flagged pair is a false alarm.
- **+3% instructions**: ``--inject-runs`` runs with ``bench/studies/inject.py`` adding host-side work
  to every call of the workload's kernels, outside the XLA program: a Python loop whose length a pilot
  run sizes so that workload/jacrev executes 3% more instructions. Each is compared with every A/A run;
  detection is the share of those comparisons the gate flags.
- **XLA flags**: one run with :data:`CODEGEN_FLAGS` (the same HLO, other machine code), compared with
  the A/A runs.

The table goes to docs/gate.md (block ``gate-instructions``) and the records to
results/instructions-calibration.csv.

    .venv/bin/python bench/studies/calibrate_instructions.py [--runs 20] [--inject-runs 10] [--no-readme]
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from figures import ROOT, publish

from jaxgrads.gate import Rule, instructions_verdict

PY = sys.executable
STUDIES = ROOT / "bench" / "studies"
PLUGINS = ["--problems-from", str(STUDIES / "workload.py"), "--problems-from", str(STUDIES / "inject.py")]
SWEEP = ["--preset", "gate", "--problems", "workload", "inner", "matvec", "--wrt", "x",
         "--methods", "jacrev", "analytic", "--sizes", "128", "--samples", "3"]  # fmt: skip
INJECT_TARGET = 0.03
PILOT_LOOPS = 2_000
CODEGEN_FLAGS = "--xla_cpu_enable_fast_math=true"
KEY = ["problem", "wrt", "method", "m", "n", "batch", "dtype", "chunk_size"]


def counted_run(
    out: Path, *, loops: int = 0, xla_flags: str = "", problems: list[str] | None = None
) -> pd.DataFrame:
    """One ``jaxgrads run --instructions``; returns its counted rows."""
    env = os.environ | {"JAXGRADS_INJECT_LOOPS": str(loops)}
    if xla_flags:
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {xla_flags}".strip()
    sweep = SWEEP if problems is None else [*SWEEP, "--problems", *problems]
    cmd = [PY, "-m", "jaxgrads", "run", *sweep, *PLUGINS, "--instructions", "-o", str(out), "--overwrite"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.strip().splitlines()[-1]}")
    rows = pd.read_csv(out)
    return rows[rows["instructions"].notna()].copy()


def kernel_name(r) -> str:
    return f"{r['problem']}/{r['wrt']} {r['method']}"


def compare_runs(base: pd.DataFrame, cur: pd.DataFrame, rule: Rule) -> list[dict]:
    merged = base.merge(cur, on=KEY, suffixes=("_b", "_c"))
    out = []
    for r in merged.to_dict("records"):
        b = {k[:-2]: v for k, v in r.items() if k.endswith("_b")}
        c = {k[:-2]: v for k, v in r.items() if k.endswith("_c")}
        verdict, ratio = instructions_verdict(b, c, rule)
        out.append({"kernel": kernel_name(r), "ratio": ratio, "verdict": verdict,
                    "dispatch_share": r["noop_instructions_b"] / r["instructions_b"]})  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--inject-runs", type=int, default=10)
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--from-records", metavar="CSV", help="re-tabulate a saved records file")
    opts = parser.parse_args()
    if opts.from_records:
        records = pd.read_csv(opts.from_records)
    else:
        records = measure(opts)
        records.to_csv(ROOT / "results" / "instructions-calibration.csv", index=False)
    publish("gate-instructions", tabulate(records), readme=not opts.no_readme)


def measure(opts) -> pd.DataFrame:
    start = time.perf_counter()
    rule = Rule()
    with tempfile.TemporaryDirectory(prefix="jaxgrads-instr-calibration-") as d:
        tmp = Path(d)
        # the pilot: the loop's instructions per iteration, from workload/jacrev (first: fails fast)
        plain = counted_run(tmp / "plain.csv", problems=["workload"])
        pilot = counted_run(tmp / "pilot.csv", loops=PILOT_LOOPS, problems=["workload"])
        base = plain[plain["method"] == "jacrev"]["instructions"]
        jacrev = pilot[pilot["method"] == "jacrev"]["instructions"]
        if base.empty or jacrev.empty:
            sys.exit("the pilot runs did not count workload/jacrev (over the 1 ms limit of the tier?)")
        per_loop = (float(jacrev.iloc[0]) - float(base.iloc[0])) / PILOT_LOOPS
        if per_loop < 1:  # a Python loop iteration is tens of instructions: none means no injection
            sys.exit(f"the pilot's {PILOT_LOOPS} injected loops added {per_loop:.2g} instructions each: "
                     "bench/studies/inject.py does not reach the kernels the runner builds")
        loops = round(INJECT_TARGET * float(base.iloc[0]) / per_loop)
        print(f"pilot: {per_loop:.1f} instructions per loop; injecting {loops} loops", file=sys.stderr)
        aa = []
        for i in range(opts.runs):
            aa.append(counted_run(tmp / f"aa{i}.csv"))
            print(f"A/A run {i + 1}/{opts.runs}", file=sys.stderr)
        injected = []
        for i in range(opts.inject_runs):
            injected.append(counted_run(tmp / f"inj{i}.csv", loops=loops, problems=["workload"]))
            print(f"+3% run {i + 1}/{opts.inject_runs}", file=sys.stderr)
        codegen = counted_run(tmp / "codegen.csv", xla_flags=CODEGEN_FLAGS)
    records = []
    for (i, a), (j, b) in itertools.combinations(enumerate(aa), 2):
        records += [r | {"scenario": "A/A", "pair": f"{i}-{j}"} for r in compare_runs(a, b, rule)]
    for (i, a), (j, b) in itertools.product(enumerate(aa), enumerate(injected)):
        records += [
            r | {"scenario": "+3% instructions", "pair": f"{i}-{j}"} for r in compare_runs(a, b, rule)
        ]
    for i, a in enumerate(aa):
        records += [
            r | {"scenario": f"XLA flag {CODEGEN_FLAGS}", "pair": f"{i}-0"}
            for r in compare_runs(a, codegen, rule)
        ]
    out = pd.DataFrame(records)
    out["runs"], out["inject_runs"], out["loops"] = opts.runs, opts.inject_runs, loops
    out["per_loop"] = per_loop
    out["calibration_s"] = round(time.perf_counter() - start)
    out["cpu"] = aa[0]["cpu_model"].iloc[0]
    out["isa_class"] = aa[0]["isa_class"].iloc[0]
    out["valgrind_version"] = aa[0]["valgrind_version"].iloc[0]
    return out


def tabulate(records: pd.DataFrame) -> str:
    rule = Rule()
    lines = [
        "| scenario | kernel | dispatch share | comparisons | median ratio | largest \\|ratio − 1\\| "
        "| flagged |",
        "|---|---|---|---|---|---|---|",
    ]
    for (scenario, kernel), g in records.groupby(["scenario", "kernel"], sort=False):
        dev = (g["ratio"] - 1).abs().max()
        flagged = int((g["verdict"] == "regression").sum())
        word = "false alarms" if scenario == "A/A" else "detected"
        lines.append(
            f"| {scenario} | {kernel} | {g['dispatch_share'].median():.0%} | {len(g)} | "
            f"{g['ratio'].median():.4f} | {dev:.3%} | {flagged}/{len(g)} {word} |"
        )
    r0 = records.iloc[0]
    aa = records[records["scenario"] == "A/A"]
    runs_flagged = aa[aa["verdict"] == "regression"]["pair"].nunique()
    return "\n".join(lines) + (
        f"\n\n{int(r0['runs'])} A/A runs ({aa['pair'].nunique()} pairs: {runs_flagged} with a false alarm); "
        f"{int(r0['inject_runs'])} runs with {int(r0['loops'])} loop iterations injected per call "
        f"({r0['per_loop']:.0f} instructions each, sized to +3% on workload/jacrev); tolerance "
        f"{rule.instr_tolerance:.1%} of the count + {rule.dispatch_tolerance:.0%} of a no-op. Dispatch "
        "share: the no-op's count over the kernel's. "
        f"valgrind {r0['valgrind_version']}, guest {r0['isa_class']}, host {r0['cpu']}; "
        f"{int(r0['calibration_s'])} s: `.venv/bin/python bench/studies/calibrate_instructions.py` "
        "(records in results/instructions-calibration.csv)."
    )


if __name__ == "__main__":
    main()
