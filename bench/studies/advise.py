"""docs/advice.md: how often :func:`jaxgrads.advise`'s prediction picks the method that measures fastest.

    .venv/bin/python bench/studies/advise.py [--quick]      (make advise-study)

Over a corpus: the notes' problems (every derivative, at two sizes), the Matrix Cookbook identities
(``bench/examples/identities.py``), the structured targets, and the functions users bring
(``bench/examples/user_functions.py``: MLPs with pytree parameters, attention, an RK4 scan, a
convolution, elementwise maps, reductions, a batch). On each target, in one process, every autodiff
method is measured (the sweep; chunked methods at the default chunk) and predicted
(:func:`jaxgrads.function.advise.predict_problem`), and the prediction's pick is judged on the
measured rows:

- **hit**: the predicted best's measured time is within 10% of the measured best;
- **regret**: the predicted best's measured time over the measured best (median, worst);
- **memory**: each row's predicted peak against XLA's measured ``peak_bytes``;
- **baselines**, on the same rows: lineax's rule (``jacfwd`` when ``n < 100`` or ``n <= 1.5 m``, else
  ``jacrev``) and "always jacrev", where they apply (first derivatives, not per example);
- **cost**: ``advise``'s wall time against ``compare``'s on each function.

The CSV of every row is written beside the page (``results/advice-study.csv``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "examples"))

import pandas as pd  # noqa: E402
import user_functions  # noqa: E402
from figures import publish  # noqa: E402

import jaxgrads as jg  # noqa: E402
from jaxgrads.function.advice import simplicity  # noqa: E402
from jaxgrads.function.advise import predict_problem  # noqa: E402
from jaxgrads.function.defaults import default_methods, x64  # noqa: E402
from jaxgrads.function.problem import function_problem  # noqa: E402
from jaxgrads.methods import METHODS  # noqa: E402
from jaxgrads.problems.plugins import load_problems  # noqa: E402
from jaxgrads.problems.registry import Size, get_problem, list_problems, unregister  # noqa: E402
from jaxgrads.results.labels import size_text, table  # noqa: E402
from jaxgrads.results.schema import read_results  # noqa: E402
from jaxgrads.sweep import Sweep, run_sweep  # noqa: E402
from jaxgrads.sweep.context import PROBES_KEPT_S, reuse_probes  # noqa: E402
from jaxgrads.sweep.progress import Progress  # noqa: E402

HIT = 1.10  # the definition: within 10% of the measured best
MEMORY = 0.20  # ... and peak memory within 20%
NOTES = ("inner", "matvec", "bilinear", "quadratic", "quadratic_sym", "linear", "linear_loss")
STRUCTURED = ("elementwise", "stencil")
KEY = ["wrt", "method", "chunk_size"]


def autodiff(problem) -> list[str]:
    """The autodiff methods a sweep of ``problem`` runs (no closed form, no peer's)."""
    return [m for m in default_methods(problem) if METHODS[m].needs is None and METHODS[m].kind != "peer"]


def measured_and_predicted(problem, size: Size, dtype: str = "float32", samples: int = 5) -> pd.DataFrame:
    """One target's rows: every autodiff method measured and predicted (at the measured chunk)."""
    methods = autodiff(problem)
    with tempfile.TemporaryDirectory() as tmp, reuse_probes(PROBES_KEPT_S, again=False), x64():
        sweep = Sweep(problems=(problem.name,), methods=tuple(methods), sizes=((size.m, size.n),),
                      batches=(size.batch or 1,), regimes=(), dtypes=(dtype,), samples=samples,
                      device="cpu")  # fmt: skip
        df = read_results(run_sweep(sweep, Path(tmp) / "r.csv", progress=Progress(0, enabled=False)))
        predicted = pd.DataFrame(predict_problem(problem, size, methods, dtype, "cpu", None))
    df = df[(df["status"] == "ok") & df["ok"]].copy()
    df["chunk_size"] = df["chunk_size"].astype(int)
    predicted["chunk_size"] = predicted["chunk_size"].astype(int)
    rows = df.merge(predicted, on=KEY, how="inner")
    rows["target"] = f"{problem.name}/" + rows["wrt"] + f" ({size_text(size.m, size.n, size.batch)})"
    return rows


def corpus_rows(quick: bool) -> tuple[pd.DataFrame, list[dict]]:
    parts, costs = [], []
    sizes = [(64, 64)] if quick else [(64, 64), (256, 256)]
    load_problems([str(ROOT / "bench" / "examples" / "identities.py")])
    for name in NOTES + STRUCTURED:
        problem = get_problem(name)
        for m, n in sizes:
            size = problem.canonical(Size(m, n, 4))
            parts.append(measured_and_predicted(problem, size).assign(kind="notes" if name in NOTES
                                                                       else "structured"))  # fmt: skip
    identities = [p for p in list_problems() if p.name.startswith("id_") and "__" not in p.name]
    for problem in identities[: 4 if quick else None]:
        rows = measured_and_predicted(problem, problem.canonical(Size(16, 16, 4)))
        parts.append(rows.assign(kind="identity"))
    for label, f, make, options in user_functions.CORPUS[: 4 if quick else None]:
        args = make()
        jg.advise(f, *args, **options)  # a warm process: its probes measured once, and kept
        compared = jg.compare(f, *args, **options)
        advised = jg.advise(f, *args, **options)
        costs.append({"target": label, "compare_s": compared.seconds["wall"], "advise_s": advised.seconds})
        with x64():
            problem, size, _ = function_problem(f, args, options.get("argnums", 0),
                                                batch_axis=options.get("batch_axis"))  # fmt: skip
        try:
            parts.append(measured_and_predicted(problem, size).assign(kind="function", target_label=label))
        finally:
            unregister(problem.name)
    return pd.concat(parts, ignore_index=True), costs


def _first(g: pd.DataFrame):
    """The predicted best row's index: the least predicted time, a tie to the simplest method."""
    return min(g.index, key=lambda i: (float(g.at[i, "predicted_s"]), simplicity(g.at[i, "method"])))


def judge(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per target: the measured best, the predicted pick, the baselines' picks, regrets."""
    out = []
    for (kind, target), g in rows.groupby(["kind", "target"], sort=False):
        t = g.set_index(g["method"] + "/" + g["chunk_size"].astype(str))["time_median_s"].astype(float)
        best = t.idxmin()
        pick = g.loc[_first(g)]
        pick_key = f"{pick['method']}/{pick['chunk_size']}"
        low = g.set_index(t.index)["time_min_s"].astype(float)
        line = {"kind": kind, "target": target, "best": best.split("/")[0], "pick": pick["method"],
                "regret": t[pick_key] / t[best],
                "tied": low[pick_key] <= t[best]}  # the tie rule of jaxgrads.function.advice  # fmt: skip
        first = g.iloc[0]
        n, m = int(first["wrt_elements"]), int(first["out_elements"])
        jac = {k.split("/")[0]: v for k, v in t.items() if k.endswith("/0")}
        if "jacrev" in jac and "jacfwd" in jac:  # a first derivative, not per example: the rules apply
            lineax = "jacfwd" if n < 100 or n <= 1.5 * m else "jacrev"
            line |= {"lineax": lineax, "lineax_regret": jac[lineax] / t[best],
                     "jacrev_regret": jac["jacrev"] / t[best]}  # fmt: skip
        out.append(line)
    return pd.DataFrame(out)


def _share(values: pd.Series, limit: float) -> str:
    v = values.dropna()
    return f"{(v <= limit).mean():.0%} ({int((v <= limit).sum())} of {len(v)})" if len(v) else "–"


def summary(rows: pd.DataFrame, judged: pd.DataFrame, costs: list[dict], machine: str) -> str:
    mem = (rows["predicted_peak_bytes"].astype(float) / rows["peak_bytes"].astype(float) - 1).abs()
    base = judged.dropna(subset=["lineax_regret"]) if "lineax_regret" in judged else judged.iloc[:0]
    lines = [
        f"Measured by `.venv/bin/python bench/studies/advise.py` (`make advise-study`) on {machine}, "
        f"{dt.date.today().isoformat()}: {len(judged)} targets, {len(rows)} measured and predicted rows.",
        "",
        table(["", "hit rate (within 10%)", "median regret", "worst regret", "targets"], [
            ["the prediction (`advise`)", _share(judged["regret"], HIT), f"{judged['regret'].median():.3g}",
             f"{judged['regret'].max():.3g}", str(len(judged))],
            ["the prediction, on the baselines' targets", _share(base["regret"], HIT),
             f"{base['regret'].median():.3g}" if len(base) else "–",
             f"{base['regret'].max():.3g}" if len(base) else "–",
             str(len(base))],
            ["lineax's rule", _share(base.get("lineax_regret", pd.Series(dtype=float)), HIT),
             f"{base['lineax_regret'].median():.3g}" if len(base) else "–",
             f"{base['lineax_regret'].max():.3g}" if len(base) else "–", str(len(base))],
            ["always jacrev", _share(base.get("jacrev_regret", pd.Series(dtype=float)), HIT),
             f"{base['jacrev_regret'].median():.3g}" if len(base) else "–",
             f"{base['jacrev_regret'].max():.3g}" if len(base) else "–", str(len(base))],
        ]),  # fmt: skip
        "",
        f"Of the {int((judged['regret'] > HIT).sum())} misses, "
        f"{int(((judged['regret'] > HIT) & judged['tied'].astype(bool)).sum())} still tie with the measured "
        "best (the pick's best sample no slower than the best's median: the rule `compare`'s advice uses): "
        "the order between them is within the samples' spread.",
        "",
        f"Peak memory: the prediction within 20% of XLA's measured peak on {_share(mem, MEMORY)} of rows; "
        f"median error {mem.median():.0%}, worst {mem.max():.0%}.",
        "",
    ]
    by_kind = [[k, _share(g["regret"], HIT), f"{g['regret'].median():.3g}", f"{g['regret'].max():.3g}"]
               for k, g in judged.groupby("kind", sort=False)]  # fmt: skip
    header = ["kind", "hit rate", "median regret", "worst regret"]
    lines += ["Per kind of target:", "", table(header, by_kind), ""]
    misses = judged[judged["regret"] > HIT].sort_values("regret", ascending=False)
    if len(misses):
        lines += ["The misses (the prediction's pick measured over 10% slower than the best):", "",
                  table(["target", "predicted", "measured best", "regret"],
                        [[r.target, r.pick, r.best, f"{r.regret:.3g}"]
                         for r in misses.itertuples()]), ""]  # fmt: skip
    if costs:
        c = pd.DataFrame(costs)
        share = c["advise_s"] / c["compare_s"]
        lines += [f"`advise` against `compare` on the {len(c)} functions (one warm process): median "
                  f"{share.median():.1%} of compare's wall time, worst {share.max():.1%} "
                  f"({c.loc[share.idxmax(), 'target']}).", ""]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few targets of each kind, one size")
    parser.add_argument("--summarize", action="store_true",
                        help="summarize results/advice-study.csv (and its costs) again, measuring nothing")
    args = parser.parse_args()
    out = ROOT / "results" / "advice-study.csv"
    costs_csv = out.with_name("advice-study-costs.csv")
    if args.summarize:
        rows, costs = pd.read_csv(out), pd.read_csv(costs_csv).to_dict("records")
    else:
        rows, costs = corpus_rows(args.quick)
        out.parent.mkdir(exist_ok=True)
        rows.to_csv(out, index=False)  # kept before anything can fail
        pd.DataFrame(costs).to_csv(costs_csv, index=False)
    judged = judge(rows)
    first = rows.iloc[0]
    machine = (f"{first['cpu_model']} ({first['backend']}, {int(first['cpu_count'])} CPUs), "
               f"jax {first['jax_version']}")  # fmt: skip
    publish("advice-study", summary(rows, judged, costs, machine))
    if not math.isfinite(judged["regret"].max()):
        sys.exit(1)


if __name__ == "__main__":
    main()
