"""The accuracy verdict on functions written outside this project: false alarms and detections.

Runs every JAX method that applies (the colored ones included) on the identities of
``bench/examples/identities.py`` (The Matrix Cookbook, correct and with classic mistakes), in float32
and float64 at n = 4, 16 and 64, and counts:

* **false alarms**: rows with ``ok = False`` among the correct identities, and among the autodiff
  rows of the mistaken ones (autodiff is right whatever the closed form says);
* **detections**: mistaken identities whose closed-form rows all fail, with the reason.

    .venv/bin/python bench/studies/identities.py [--sizes 4 16 64] [--out results/identities.csv]

(``--no-run``: summarize the CSV as it is.)

Writes the CSV and docs/accuracy.md (every figure there comes from that CSV).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pandas as pd

from jaxgrads.results.labels import table
from jaxgrads.results.schema import read_results

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "bench" / "examples" / "identities.py"


def run(sizes: list[int], out: Path) -> Path:
    import jax

    jax.config.update("jax_enable_x64", True)
    from jaxgrads.methods import METHODS
    from jaxgrads.problems import problem_names
    from jaxgrads.problems.plugins import load_problems
    from jaxgrads.sweep import Sweep, run_sweep

    load_problems([str(PLUGIN)])
    problems = tuple(p for p in problem_names() if p.startswith("id_"))
    methods = tuple(n for n, m in METHODS.items() if m.backend == "jax" and not m.needs_mesh)
    sweep = Sweep(problems=problems, methods=methods, sizes=tuple((n, n) for n in sizes), regimes=(),
                  dtypes=("float32", "float64"), samples=1, min_sample_s=1e-4, max_call_s=5.0,
                  device="cpu")  # fmt: skip
    return run_sweep(sweep, out, overwrite=True)


def _equations() -> dict[str, str]:
    import runpy

    return {name: spec[0] for name, spec in runpy.run_path(str(PLUGIN))["IDENTITIES"].items()}


def summarize(df: pd.DataFrame) -> str:
    equations = _equations()
    df = df.assign(
        identity=df["problem"].str.removeprefix("id_").str.split("__").str[0],
        mistake=df["problem"].str.split("__").str[1].fillna(""),
        ok=df["ok"].astype(str).eq("True"),
        closed=df["method"].isin(["analytic", "analytic_textbook"]),
    )
    ran = df[df["status"] == "ok"]
    correct, wrong = ran[ran["mistake"] == ""], ran[ran["mistake"] != ""]
    rows = []
    for identity, g in correct.groupby("identity", sort=False):
        w = wrong[wrong["identity"] == identity]
        caught = w[w["closed"]].groupby(["problem", "dtype", "n"])["ok"].apply(lambda s: not s.any())
        rows.append([
            identity, equations.get(identity, "").replace("|", "\\|"), str(len(g)),
            str(int((~g["ok"]).sum())),
            ", ".join(sorted(set(w["mistake"]))), f"{int(caught.sum())} / {len(caught)}",
            str(int((~w.loc[~w["closed"], "ok"]).sum())),
        ])  # fmt: skip
    caught = wrong[wrong["closed"]].groupby(["problem", "dtype", "n"])["ok"].apply(lambda s: not s.any())
    alarms = int((~correct["ok"]).sum()) + int((~wrong.loc[~wrong["closed"], "ok"]).sum())
    statuses = df["status"].value_counts().to_dict()
    mistaken = df.loc[df["mistake"] != "", "problem"].nunique()
    sizes = ", ".join(str(n) for n in sorted(df["n"].unique()))
    must_pass = len(correct) + int((~wrong["closed"]).sum())
    head = [
        f"{len(df)} rows ({', '.join(f'{v} {k}' for k, v in statuses.items())}), "
        f"{df['identity'].nunique()} identities, {mistaken} mistaken versions, {df['method'].nunique()} "
        f"methods, dtypes {', '.join(sorted(df['dtype'].unique()))}, n = {sizes}.",
        "",
        f"**False alarms: {alarms}** (of {must_pass} rows that must pass). **Mistakes caught: "
        f"{int(caught.sum())} of {len(caught)}** (a mistaken version at one dtype and size is caught when "
        "every closed-form row fails).",
        "",
    ]
    header = ["identity", "formula [Cookbook section]", "rows", "false alarms", "mistakes", "caught",
              "false alarms (autodiff rows)"]  # fmt: skip
    return "\n".join(head) + "\n" + table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "identities.csv")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "accuracy.md")
    parser.add_argument("--no-run", action="store_true", help="summarize --out as it is")
    args = parser.parse_args()
    out = args.out if args.no_run else run(args.sizes, args.out)
    df = read_results(out)
    first = df.iloc[0]
    body = summarize(df)
    example = df[(df["ok"].astype(str) == "False") & (df["message"] != "")]["message"]
    text = f"""# The accuracy verdict on any function

What `ok` means is in `jaxgrads/measure/tolerance.py` (the componentwise bound where a problem
declares it, normwise with a tolerance grown by the reference's own error elsewhere). Its false
alarms and detections, on the identities of
`bench/examples/identities.py` (The Matrix Cookbook, version of November 15, 2012, each cited by its
formula and section), each correct and with classic mistakes, measured by

    .venv/bin/python bench/studies/identities.py

on {first["cpu_model"]} ({first["backend"]}), jax {first["jax_version"]}, {dt.date.today().isoformat()}:

{body}

A failed row says why, e.g.:

    {example.iloc[0] if len(example) else "(none failed)"}
"""
    args.docs.parent.mkdir(parents=True, exist_ok=True)
    args.docs.write_text(text)
    print(body)


if __name__ == "__main__":
    main()
