r"""Your own function, in one call: :func:`compare` benchmarks the Jacobian (and for a scalar output
the Hessian) of any JAX function at your arguments, with every method that applies.

No ``Problem`` record, no plug-in file: the function and its arguments become a problem of their own
for the call (:mod:`jaxgrads.function.problem`; its derivative has no closed form, so every method is
checked against ``jax.jacrev`` in float64 on the CPU, normwise, block by block:
:mod:`jaxgrads.measure.tolerance`), and the usual sweep measures it, each method in its own row with
the results CSV's columns. Arguments and outputs are pytrees as ``jax.jacrev`` takes them
(:mod:`jaxgrads.problems.trees`), ``argnums`` an int or a tuple; ``batch_axis`` asks for per-example
Jacobians (:mod:`jaxgrads.methods.batched`); ``has_aux`` is JAX's. The methods are the JAX ones that
apply (forward, reverse, linearize, the walks and chunked walks, the Hessians for a scalar output,
the sharded ones when several devices are visible, the per-example ones for a batch) and asdex's
colored ones when asdex is installed.

    import jaxgrads as jg
    result = jg.compare(loss, params, batch, argnums=0)   # params: a dict of layers
    result.table                      # a pandas DataFrame: one row per method
    print(result.recommendation)      # fastest (and what ties with it), least memory, the result's form

A row's ``m`` and ``n`` are the output's and the differentiated arguments' total element counts,
``out_leaves`` and ``wrt_leaves`` their leaf counts. The machine's probes are measured by the first
call of a process and kept for the next (:func:`jaxgrads.sweep.context.reuse_probes`).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jaxgrads.errors import JaxgradsError
from jaxgrads.function.advice import picks, recommend
from jaxgrads.function.advise import predicted, skipped_line, unseparated
from jaxgrads.function.defaults import default_methods, own_dtype, x64
from jaxgrads.function.problem import function_problem

__all__ = ["Comparison", "compare"]

SHOWN = ["method", "wrt", "dtype", "status", "ok", "time_median_s", "compile_s", "peak_bytes", "err_f64",
         "message"]  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` measured.

    Attributes:
      table: one row per method and derivative, the results CSV's columns.
      recommendation: which method to use, in a few lines (:func:`jaxgrads.function.advice.recommend`).
      jacobians: with ``compare(..., jacobians=...)``, per derivative (``wrt``): the recommended
        method's Jacobian (``True``), or ``{method: Jacobian}`` for every method (``"all"``), each the
        pytree ``jax.jacrev`` returns, in the case's dtype; else empty.
      aux: with ``has_aux=True``, ``f``'s auxiliary output at the arguments (as ``jax.jacrev`` returns it).
      todense: ``{(wrt, method): seconds}``: what turning a BCOO method's result dense costs.
      seconds: where the call's wall time went: the sweep's phases (``probes``, ``compile``,
        ``timing``, ``references``, ...; :mod:`jaxgrads.sweep.phases`), ``predict`` (with
        ``predict=True``) and ``wall``, the whole call.
      skipped: with ``predict=True``, ``{(wrt, method): why}`` for each method not measured.
      advice: with ``predict=True``, the :class:`jaxgrads.function.advise.Advice` it acted on.
    """

    table: pd.DataFrame
    recommendation: str
    jacobians: dict = field(default_factory=dict)
    aux: object = None
    todense: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    advice: object = None

    def __repr__(self) -> str:
        shown = self.table[[c for c in SHOWN if c in self.table.columns]]
        return f"{self.recommendation}\n\n{shown.to_string(index=False)}"

    def _repr_html_(self) -> str:
        shown = self.table[[c for c in SHOWN if c in self.table.columns]]
        lines = "".join(f"<li>{line}</li>" for line in self.recommendation.splitlines())
        return f"<ul>{lines}</ul>{shown.to_html(index=False)}"


def compare(
    f: Callable,
    *args,
    argnums: int | Sequence[int] = 0,
    batch_axis: int | None = None,
    has_aux: bool = False,
    methods: Sequence[str] | None = None,
    dtype: str | None = None,
    device: str = "cpu",
    samples: int = 5,
    min_sample_s: float = 0.005,
    memory_budget: int | None = None,
    max_call_s: float = 10.0,
    jacobians: bool | str = False,
    predict: bool = False,
) -> Comparison:
    """Benchmarks the derivatives of ``f`` w.r.t. ``args[argnums]`` at ``args``, every method that
    applies (module docstring), each checked against float64 autodiff.

    Args:
      f: a JAX function of arrays and pytrees of arrays, returning an array or a pytree of arrays
        (``(output, aux)`` with ``has_aux``).
      args: its arguments: arrays or pytrees (dicts, lists, tuples, NamedTuples, registered
        dataclasses); non-array leaves are held static. The inputs every method sees, floating-point
        leaves cast to ``dtype``.
      argnums: which argument(s) to differentiate: an int or a tuple of ints, as ``jax.jacrev``.
      batch_axis: the examples' axis of every differentiated leaf and output leaf: the per-example
        Jacobians (``jax.vmap(jax.jacrev(...))``'s layout, examples first), by each per-example
        method; None: the whole Jacobian.
      has_aux: ``f`` returns ``(output, aux)``; only ``output`` is differentiated.
      methods: method names (default: every JAX method that applies, asdex's where installed).
      dtype: ``float32``, ``float64`` or ``bfloat16`` (default: the differentiated leaves' own).
      device: ``cpu``, ``gpu`` or ``auto``.
      samples, min_sample_s: the timing protocol's (:mod:`jaxgrads.measure.timing`).
      memory_budget: bytes: cases estimated over it are skipped, and the recommendation names the
        fastest that fits (default: half the device's free memory).
      max_call_s: a method whose first call takes longer is skipped.
      jacobians: ``True``: also return the recommended method's Jacobian per derivative; ``"all"``:
        every method's (a Jacobian over 16 MiB is not kept; its row says so).
      predict: first predict every method (:func:`jaxgrads.advise`), then measure only those the
        prediction does not separate from the best (and those it cannot predict); ``skipped``
        says which were left out and why.

    Returns:
      A :class:`Comparison`.

    Raises:
      JaxgradsError: a bad input, in one line, before anything compiles
        (:func:`jaxgrads.function.problem.function_problem`).
    """
    from jaxgrads.problems.registry import unregister
    from jaxgrads.results.schema import read_results
    from jaxgrads.sweep import Sweep, run_sweep
    from jaxgrads.sweep.context import PROBES_KEPT_S, reuse_probes
    from jaxgrads.sweep.phases import Phases
    from jaxgrads.sweep.progress import Progress
    from jaxgrads.validation import positive_int

    began = time.perf_counter()
    if jacobians not in (False, True, "all"):
        raise JaxgradsError(f"compare: jacobians={jacobians!r}; valid: False, True (the recommended), 'all'")
    with x64():
        problem, size, flat = function_problem(f, args, argnums, batch_axis=batch_axis, has_aux=has_aux)
        name = problem.name
        dtype = dtype or own_dtype(args, argnums)
        try:
            methods = default_methods(problem) if methods is None else methods
            chunks, skipped, prediction = (64,), {}, None
            if predict:
                prediction = predicted(problem, size, methods, dtype, device, memory_budget)
                methods, chunks, skipped = unseparated(prediction, methods)
            with tempfile.TemporaryDirectory(prefix="jaxgrads-compare-") as tmp:
                sweep = Sweep(problems=(name,), methods=tuple(methods), sizes=((size.m, size.n),),
                              batches=(size.batch or 1,), regimes=(), dtypes=(dtype,), chunk_sizes=chunks,
                              samples=positive_int("samples", samples), min_sample_s=min_sample_s,
                              memory_budget=memory_budget, max_call_s=max_call_s, device=device,
                              save_arrays=Path(tmp) / "arrays" if jacobians else None)  # fmt: skip
                phases = Phases(since=began)
                with reuse_probes(PROBES_KEPT_S, again=False):
                    out = run_sweep(sweep, Path(tmp) / "compare.csv", progress=Progress(0, enabled=False),
                                    phases=phases)  # fmt: skip
                df = read_results(out)
                orders = {d.name: d.order for d in problem.derivatives}
                kept = _jacobians(df, flat, Path(tmp) / "arrays", dtype, orders) if jacobians else {}
        finally:
            unregister(name)
    todense = _todense(df, dtype, device)
    advice = recommend(df, memory_budget, todense)
    if skipped:
        advice += "\n" + skipped_line(skipped)
    chosen = _chosen(kept, picks(df), jacobians)
    aux = _aux(f, args) if has_aux else None
    seconds = dict(phases.seconds) | {"wall": time.perf_counter() - began}
    if prediction is not None:
        seconds["predict"] = prediction.seconds
    return Comparison(df, advice, chosen, aux, todense, seconds, skipped, prediction)


def _jacobians(df: pd.DataFrame, flat, folder: Path, dtype: str, order: dict) -> dict:
    """``{(wrt, method): pytree}`` from the arrays the sweep saved (``--save-arrays``)."""
    from jaxgrads.results.labels import row_kernel_id
    from jaxgrads.validation import resolve_dtype

    out = {}
    for row in df.to_dict("records"):
        path = folder / f"{row_kernel_id(row)}.npz"
        if row["status"] != "ok" or not path.is_file():
            continue
        with np.load(path) as saved:
            J = saved["jacobian"].astype(resolve_dtype(dtype))
        out[(row["wrt"], row["method"])] = flat.assemble(J, order[row["wrt"]])
    return out


def _chosen(kept: dict, chosen: dict, jacobians) -> dict:
    """``jacobians="all"``: every kept one by wrt and method; ``True``: the recommended one's."""
    if not jacobians:
        return {}
    by_wrt: dict = {}
    for (wrt, method), J in kept.items():
        by_wrt.setdefault(wrt, {})[method] = J
    if jacobians == "all":
        return by_wrt
    return {wrt: by_wrt[wrt][m] for wrt, m in chosen.items() if m in by_wrt.get(wrt, {})}


def _todense(df: pd.DataFrame, dtype: str, device: str) -> dict:
    """``{(wrt, method): seconds}`` of ``.todense()`` for each accurate BCOO row."""
    from jaxgrads.measure.densify import todense_seconds
    from jaxgrads.validation import resolve_device

    out = {}
    rows = df[(df["status"] == "ok") & df["ok"] & (df["output_format"].astype(str) == "bcoo")]
    for r in rows.to_dict("records"):
        shape = tuple(int(s) for s in str(r["jac_shape"]).split("x"))
        if math.prod(shape) * 8 <= 2**30:  # a dense result that fits easily; else the line says nothing
            seconds = todense_seconds(shape, int(r["nnz"]), dtype, resolve_device(device))
            out[(r["wrt"], r["method"])] = seconds
    return out


def _aux(f, args):
    return f(*args)[1]

