r"""Advice before measurement: :func:`advise` predicts every applicable method's time per call and peak
memory for ``f`` at its arguments, without computing any Jacobian, and ranks them.

It decides each case as a sweep would (:func:`jaxgrads.measure.case.decide`: the basis, the steps,
the chunk), lowers three programs of ``f`` (its primal, one JVP, one VJP; a scalar function's Hessian
methods their own) for XLA's cost analysis, prepares a colored method's pattern for its colors, and
prices each case with :func:`jaxgrads.measure.predict.predict` under the machine's probes (measured
once per process, and kept: :func:`jaxgrads.sweep.context.reuse_probes`). A chunked method is
priced at every chunk from 1 to its basis (powers of 4, and the basis): the advice names the fastest
chunk whose predicted peak fits the memory budget.

**How sure.** The prediction separates the best method from the next when the next is predicted
over ``margin`` times slower (default 1.5: the regret the advice study, docs/advice.md, holds the
model to); below that the methods are *not separated*, and :func:`jaxgrads.compare` with
``predict=True`` measures exactly those.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

__all__ = ["Advice", "advise", "chunk_candidates", "predicted", "separated", "skipped_line", "unseparated"]

MARGIN = 1.5


@dataclass(frozen=True)
class Advice:
    """What :func:`advise` predicted.

    Attributes:
      table: one row per (derivative, method, chunk): ``wrt``, ``method``, ``chunk_size``,
        ``predicted_s``, ``predicted_peak_bytes``, ``fits`` (the budget), ``directions``, ``steps``,
        ``rank`` (per derivative, 1 the fastest predicted), ``separated`` (from the best by over
        ``margin``), ``why`` (where a method is not predicted).
      recommendation: a few lines: the predicted best, how sure, the chunk that fits.
      seconds: the call's wall time.
      margin: the factor that separates two predictions.
    """

    table: pd.DataFrame
    recommendation: str
    seconds: float
    margin: float = MARGIN

    def __repr__(self) -> str:
        cols = ["wrt", "method", "chunk_size", "predicted_s", "predicted_peak_bytes", "fits", "rank"]
        return f"{self.recommendation}\n\n{self.table[cols].to_string(index=False)}"


def chunk_candidates(basis: int) -> list[int]:
    """1, 4, 16, ... below ``basis``, and ``basis`` itself (one step: the vectorized form)."""
    out, c = [], 1
    while c < basis:
        out.append(c)
        c *= 4
    return [*out, max(1, basis)]


def separated(predicted: pd.Series, margin: float = MARGIN) -> pd.Series:
    """Whether each prediction is over ``margin`` times the best one (so the best stands apart)."""
    t = pd.to_numeric(predicted, errors="coerce")
    return t > margin * t.min()


def _probes(sweep, device):
    """The dispatch floor and ceilings of this process (measured on first use, then kept)."""
    from jaxgrads.sweep.context import PROBES_KEPT_S, RunContext, ended_with, reuse_probes

    with reuse_probes(PROBES_KEPT_S, again=False):
        ctx = RunContext.start(sweep, cases=[])
    dispatch = float(ctx.meta["dispatch_floor_s"])
    if ctx.probe_again:  # measured now: kept for the next call (and for compare's sweep)
        ended_with(ctx.device, dispatch, ctx.ceilings)
    return ctx.device, dispatch, ctx.ceilings


def advise(
    f: Callable,
    *args,
    argnums: int | Sequence[int] = 0,
    batch_axis: int | None = None,
    has_aux: bool = False,
    methods: Sequence[str] | None = None,
    dtype: str | None = None,
    device: str = "cpu",
    memory_budget: int | None = None,
    margin: float = MARGIN,
) -> Advice:
    """Predicts and ranks every method that applies to ``f`` at ``args`` (module docstring); the
    arguments are :func:`jaxgrads.compare`'s. ``memory_budget``: bytes (default: half the device's
    free memory)."""
    from jaxgrads.function.defaults import default_methods, own_dtype, x64
    from jaxgrads.function.problem import function_problem
    from jaxgrads.problems.registry import unregister

    began = time.perf_counter()
    with x64():
        problem, size, _ = function_problem(f, args, argnums, batch_axis=batch_axis, has_aux=has_aux)
        try:
            dtype = dtype or own_dtype(args, argnums)
            methods = default_methods(problem) if methods is None else list(methods)
            rows = predict_problem(problem, size, methods, dtype, device, memory_budget, margin)
        finally:
            unregister(problem.name)
    table = pd.DataFrame(rows)
    return Advice(table, advice_text(table, margin), time.perf_counter() - began, margin)


def predict_problem(
    problem, size, methods, dtype: str, device: str, memory_budget, margin: float = MARGIN
) -> list[dict]:
    """The prediction rows of every (derivative, method, chunk) of ``problem`` at ``size``: what
    :func:`advise` tabulates, and what the advice study compares with the measured sweep."""
    from jaxgrads.measure.case import decide
    from jaxgrads.measure.machine import default_memory_budget
    from jaxgrads.measure.predict import kernel_s, loop_iteration_s, predict, program_cost, unit_costs
    from jaxgrads.methods import get_method
    from jaxgrads.sweep import Sweep
    from jaxgrads.validation import resolve_dtype

    sweep = Sweep(problems=(problem.name,), methods=tuple(methods), sizes=((size.m, size.n),),
                  batches=(size.batch or 1,), regimes=(), dtypes=(dtype,), device=device)  # fmt: skip
    dev, dispatch, ceilings = _probes(sweep, device)
    ceiling = ceilings[dtype]
    budget = memory_budget or default_memory_budget(dev)
    loop_s, kernel = loop_iteration_s(dev), kernel_s(dev)
    host = problem.inputs(problem.canonical(size), resolve_dtype(dtype))
    rows = []
    for d in problem.derivatives:
        costs = unit_costs(problem, d, host)
        for name in methods:
            method = get_method(name)
            if not method.applies(problem, d):
                continue
            first = decide(problem, d, method, problem.canonical(size), dtype, platform=dev.platform)
            chunks = chunk_candidates(first.basis) if method.chunked else [None]
            (colors, nnz), whole = _pattern(method, problem, d, host), None
            if d.order == 2 and method.kind == "jit":
                whole = program_cost(first, host)
            for chunk in chunks:
                case = first if chunk is None else decide(
                    problem, d, method, first.size, dtype, chunk_size=chunk, platform=dev.platform)
                p = predict(case, costs, ceiling, dispatch, loop_s, kernel, colors=colors, whole=whole,
                            nnz=nnz)  # fmt: skip
                rows.append({"wrt": d.name, "method": name, "chunk_size": case.chunk_size,
                             "predicted_s": p.time_s, "predicted_peak_bytes": p.peak_bytes,
                             "fits": p.peak_bytes <= budget, "directions": p.directions, "steps": p.steps,
                             "memory_budget_bytes": budget, "why": p.why})  # fmt: skip
    return _ranked(rows, margin)


def _pattern(method, problem, derivative, host) -> tuple[int | None, int | None]:
    """A colored method's colors and nonzeros, from its prepared pattern (None for the others)."""
    if method.kind != "pattern":
        return None, None
    try:
        prepared = method.prepare(problem, derivative, host)
    except Exception:  # noqa: BLE001 - a pattern that cannot be detected: the case's bounds stand in
        return None, None
    nnz = getattr(prepared, "nnz", None)
    return int(prepared.count), (int(nnz) if nnz is not None else None)


def _ranked(rows: list[dict], margin: float) -> list[dict]:
    if not rows:
        return rows
    df = pd.DataFrame(rows)
    df["rank"] = df.groupby("wrt")["predicted_s"].rank(method="min")
    df["separated"] = df.groupby("wrt")["predicted_s"].transform(lambda s: separated(s, margin))
    return df.to_dict("records")


def advice_text(table: pd.DataFrame, margin: float = MARGIN) -> str:
    """Per derivative: the predicted best, the methods it is not separated from, the chunk that fits."""
    from jaxgrads.function.advice import fmt_bytes, simplicity
    from jaxgrads.results.labels import format_seconds

    lines = []
    if table.empty:
        return "no method applies"
    for wrt, g in table.groupby("wrt", sort=False):
        known = g[pd.to_numeric(g["predicted_s"], errors="coerce").notna()]
        if known.empty:
            lines.append(f"{wrt}: no method could be predicted")
            continue
        fits = known[known["fits"]]
        pool = fits if len(fits) else known
        best = pool.loc[min(pool.index,
                            key=lambda i: (pool.at[i, "predicted_s"], simplicity(pool.at[i, "method"])))]
        label = _label(best)
        close = pool[~pool["separated"] & (pool.index != best.name)]
        text = f"{wrt}: predicted fastest {label} ({format_seconds(float(best['predicted_s']))}"
        text += f", {fmt_bytes(float(best['predicted_peak_bytes']))} peak)"
        if len(close):
            names = ", ".join(dict.fromkeys(_label(r) for _, r in close.iterrows()))
            text += f"; not separated (within {margin:g}x) from {names}: measure them (compare(predict=True))"
        else:
            runner = pool.drop(best.name)
            gap = float(runner["predicted_s"].min() / best["predicted_s"]) if len(runner) else math.inf
            sure = f"; sure: the next is predicted {gap:.3g}x slower"
            text += sure if math.isfinite(gap) else "; the only one"
        if not len(fits):
            text += f"; none is predicted to fit {fmt_bytes(float(g['memory_budget_bytes'].iloc[0]))}"
        lines.append(text)
    return "\n".join(lines)


def _label(row) -> str:
    chunk = int(row["chunk_size"]) if row["chunk_size"] == row["chunk_size"] else 0
    return f"{row['method']} (chunk {chunk})" if chunk else str(row["method"])


def predicted(problem, size, methods, dtype, device, memory_budget):
    """:func:`advise`'s prediction for a problem already made (``compare(..., predict=True)``)."""
    began = time.perf_counter()
    table = pd.DataFrame(predict_problem(problem, size, methods, dtype, device, memory_budget))
    return Advice(table, advice_text(table), time.perf_counter() - began)


def unseparated(prediction, methods) -> tuple[list[str], tuple[int, ...], dict]:
    """The methods (and chunks) the prediction does not separate from the best of any derivative,
    those it could not predict, and why each other one is skipped."""
    from jaxgrads.results.labels import format_seconds

    t = prediction.table
    keep = t[~t["separated"].astype(bool) | pd.to_numeric(t["predicted_s"], errors="coerce").isna()]
    kept = [m for m in methods if m in set(keep["method"])]
    chunks = tuple(sorted({int(c) for c in keep["chunk_size"] if c})) or (64,)
    skipped = {}
    for (wrt, method), g in t.groupby(["wrt", "method"], sort=False):
        if method in kept:
            continue
        rows = t[t["wrt"] == wrt]
        best = rows.loc[pd.to_numeric(rows["predicted_s"]).idxmin()]
        label = best["method"] + (f" (chunk {int(best['chunk_size'])})" if best["chunk_size"] else "")
        fastest = float(g["predicted_s"].min())
        skipped[(wrt, method)] = (f"predicted {format_seconds(fastest)}, over {prediction.margin:g}x "
                                  f"{label}'s {format_seconds(float(best['predicted_s']))}")  # fmt: skip
    return kept, chunks, skipped


def skipped_line(skipped: dict) -> str:
    parts = [f"{m} ({why})" for (_, m), why in skipped.items()]
    return f"not measured (the prediction separates them from the best): {'; '.join(parts)}"
