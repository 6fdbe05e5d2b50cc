"""docs/releases.md: the notes' Jacobians across jax releases, in instructions and time per call.

    .venv/bin/python bench/studies/releases.py [--summarize]       (make releases)

1. ``jaxgrads releases``'s default configurations (jax 0.4.30 to 0.10.2, and 0.4.38 with the CPU
   runtime before the thunk one) and an A/A configuration, ``0.10.2-again`` (the same release twice,
   adjacent), on the ``releases`` preset: ``results/releases/``.
2. An injected +3%: a pilot counts what one loop iteration of ``bench/studies/inject.py`` costs
   (``linear/W jacfwd`` with and without ``PILOT_LOOPS`` of them), then ``0.10.2`` against
   ``0.10.2-inj3``, where every kernel runs, before each call, loops sized to 3% of its step-1 count:
   ``results/releases-inject/``.

The page's block (``<!-- releases:start -->``) and figure (``docs/figures/releases.png``) are written
from those folders; ``--summarize`` writes them again without measuring (what is there is kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "studies"))

import pandas as pd  # noqa: E402
from figures import publish  # noqa: E402

from jaxgrads.history.environments import release_environment, source_root  # noqa: E402
from jaxgrads.history.release_steps import record, releases_markdown  # noqa: E402
from jaxgrads.history.releases import DEFAULT_CONFIGS, Config, measure_releases  # noqa: E402
from jaxgrads.site.release_pages import releases_figure  # noqa: E402

MAIN = ROOT / "results" / "releases"
INJECT = ROOT / "results" / "releases-inject"
FIGURE = ROOT / "docs" / "figures" / "releases.png"
SWEEP = ["--preset", "releases", "--instructions"]
NEWEST = "0.10.2"
PILOT_KERNEL, PILOT_LOOPS = ("linear", "W", "jacfwd"), 20000
INJECT_TARGET = 0.03
PLUGIN = str(ROOT / "bench" / "studies" / "inject.py")
COMMAND = "make releases"


def configs_main() -> list[Config]:
    return [*DEFAULT_CONFIGS, Config(f"{NEWEST}-again", NEWEST)]


def pilot_per_loop(table: pd.DataFrame) -> float:
    """Instructions per injected loop iteration: the pilot kernel counted with PILOT_LOOPS of them,
    against its count in step 1 (counts are deterministic: two processes may be compared)."""
    problem, wrt, method = PILOT_KERNEL
    base = table[(table["config"] == NEWEST) & table["kernel"].str.startswith(f"{problem}-{wrt}-{method}-")]
    kernel = base["kernel"].iloc[0]
    out = ROOT / "results" / "releases-pilot.csv"
    env = {"JAXGRADS_INJECT_KERNELS": json.dumps({kernel: PILOT_LOOPS}), "PYTHONPATH": str(source_root())}
    cmd = [release_environment(NEWEST), "-m", "jaxgrads", "run", *SWEEP, "--problems", problem, "--wrt", wrt,
           "--methods", method, "--problems-from", PLUGIN, "-o", str(out), "--overwrite"]  # fmt: skip
    proc = subprocess.run(cmd, env=os.environ | env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"the pilot failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    counted = float(pd.read_csv(out)["instructions"].iloc[0])
    per_loop = (counted - float(base["instructions"].iloc[0])) / PILOT_LOOPS
    if per_loop < 1:
        sys.exit(f"the pilot's {PILOT_LOOPS} loops added {per_loop:.2g} instructions each: inject.py does "
                 "not reach the kernels the runner builds")  # fmt: skip
    return per_loop


def measure(rounds: int) -> None:
    measured = measure_releases(configs_main(), SWEEP, MAIN, rounds=rounds)
    table, _ = record(measured)
    per_loop = pilot_per_loop(table)
    newest = table[table["config"] == NEWEST].dropna(subset=["instructions"])
    counts = zip(newest["kernel"], newest["instructions"], strict=True)
    loops = {k: max(1, round(INJECT_TARGET * i / per_loop)) for k, i in counts}
    injected = Config(f"{NEWEST}-inj3", NEWEST, env=(("JAXGRADS_INJECT_KERNELS", json.dumps(loops)),),
                      problems_from=(PLUGIN,))  # fmt: skip
    inj = measure_releases([Config(NEWEST, NEWEST), injected], SWEEP, INJECT, rounds=2, overwrite=True)
    record(inj)
    (INJECT / "pilot.json").write_text(json.dumps({"per_loop": per_loop, "loops": loops}) + "\n")


def figure(table: pd.DataFrame) -> None:
    """docs/figures/releases.png: the site's releases figure (:func:`releases_figure`), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = releases_figure(plt, table)
    fig.axes[0].set_title("instructions per call (callgrind; one line per kernel)", fontsize=10)
    fig.axes[1].set_title("median time per call (alternating rounds, pooled)", fontsize=10)
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=110)


def _pair_line(found: pd.DataFrame, before: str, after: str) -> str:
    g = found[(found["before"] == before) & (found["after"] == after)]
    flagged = g[g["instructions"].isin(("regression", "faster"))]
    ratios = g["instr_ratio"].dropna()
    stepped = int((g["step"] != "").sum())
    return (f"{len(flagged)} of {len(g)} kernels flagged on instructions, {stepped} steps; instruction "
            f"ratios {ratios.min():.4f}-{ratios.max():.4f} (median {ratios.median():.4f})")  # fmt: skip


def _missed(inj: pd.DataFrame, table: pd.DataFrame) -> str:
    """The injected kernels the rule let pass, each with what it allows: 1% of the count and 3% of
    the no-op's (a kernel that is mostly dispatch is allowed nearly 4%)."""
    missed = inj[~inj["instructions"].isin(("regression", "faster"))]
    if missed.empty:
        return "Every kernel's +3% was flagged."
    noop = table[table["config"] == NEWEST].set_index("kernel")["noop_instructions"]
    said = [f"`{r['kernel']}` ({r['instr_ratio']:.4f}×; allowed "
            f"{1 + 0.01 + 0.03 * noop[r['kernel']] / float(r['instr_before']):.4f}×)"
            for r in missed.to_dict("records")]  # fmt: skip
    return ("Not flagged: " + ", ".join(said) + ": a count that is mostly dispatch is allowed 3% of a no-op "
            "on top of 1% of itself, the dispatch path's own spread between processes (docs/gate.md).")


def _time_moves(found: pd.DataFrame) -> str:
    """The adjacent pairs whose median time per call moved by more than 25% (geometric mean over the
    kernels) while their instructions moved by less than 10%: what a runtime's threads and
    synchronization cost, which a count under callgrind (one thread, synchronous dispatch) misses."""
    import numpy as np

    said = []
    for (before, after), g in found.groupby(["before", "after"], sort=False):
        t = float(np.exp(np.log(g["time_ratio"]).mean()))
        i = float(np.exp(np.log(g["instr_ratio"].dropna()).mean()))
        if abs(np.log(t)) > np.log(1.25) and abs(np.log(i)) < np.log(1.10):
            gated = int(g["timing"].isin(("regression", "faster")).sum())
            said.append(f"{before} → {after}: time ×{t:.2f}, instructions ×{i:.3f} (geometric means; "
                        f"{gated} of {len(g)} kernels flagged on time: most are within ten dispatch floors, "
                        "where the floor moved with them)")  # fmt: skip
    if not said:
        return "no adjacent pair moved its time by more than 25% without its counts."
    return "; ".join(said) + ". Counts run XLA on one thread with synchronous dispatch, so a runtime's " \
        "thread hand-offs show in time only."


def summary() -> str:
    table, found = pd.read_csv(MAIN / "table.csv"), pd.read_csv(MAIN / "steps.csv", keep_default_na=False)
    for column in ("instr_ratio", "time_ratio"):
        found[column] = pd.to_numeric(found[column], errors="coerce")
    inj = pd.read_csv(INJECT / "steps.csv", keep_default_na=False)
    inj["instr_ratio"] = pd.to_numeric(inj["instr_ratio"], errors="coerce")
    pilot = json.loads((INJECT / "pilot.json").read_text())
    run = pd.read_csv(MAIN / NEWEST / "pooled.csv", nrows=1).iloc[0]
    figure(table)
    configs = list(dict.fromkeys(table["config"]))
    kernels = table["kernel"].nunique()
    regress = found[found["step"] == "regression"]
    improve = found[found["step"] == "improvement"]
    lines = [
        f"Measured by `{COMMAND}` (`bench/studies/releases.py`) on {run['cpu_model']} "
        f"({run['cpu_count']} CPUs; counts under Valgrind {run['valgrind_version']}, guest "
        f"{run['isa_class']}), {dt.date.today().isoformat()}: {kernels} kernels under {len(configs)} "
        f"configurations, {len(found)} adjacent comparisons.",
        "",
        "![instructions and time per call across releases](figures/releases.png)",
        "",
        f"- **A/A** (`{NEWEST}` and `{NEWEST}-again`, the same release as two adjacent configurations): "
        + _pair_line(found, NEWEST, f"{NEWEST}-again") + ".",
        f"- **Injected +3%** (`{NEWEST}-inj3`: every kernel's calls preceded by Python loops sized to 3% of "
        f"its count, {pilot['per_loop']:.1f} instructions a loop by the pilot): "
        + _pair_line(inj, NEWEST, f"{NEWEST}-inj3") + ". " + _missed(inj, table),
        f"- **Steps found**: {len(regress)} regressions and {len(improve)} improvements over "
        f"{len(found)} kernel comparisons; the largest per pair below the tables.",
        "- **Time the counts cannot see**: " + _time_moves(found),
        "",
        releases_markdown(table, found).rstrip(),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summarize", action="store_true", help="write the page again from the folders")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not args.summarize:
        measure(args.rounds)
    publish("releases", summary())


if __name__ == "__main__":
    main()
