r"""Your own function, in one call: :func:`compare` benchmarks the Jacobian (and for a scalar output
the Hessian) of any JAX function at your arguments, with every method that applies.

No ``Problem`` record, no plug-in file: the function and its arguments become a problem of their own
for the call (its derivative has no closed form, so every method is checked against ``jax.jacrev``
in float64 on the CPU, normwise: :mod:`jaxgrads.measure.tolerance`), and the usual sweep measures it,
each method in its own row with the results CSV's columns. The methods are the JAX ones that apply
(forward, reverse, linearize, the walks and chunked walks, the Hessians for a scalar output, the
sharded ones when several devices are visible) and asdex's colored ones when asdex is installed
(it detects the sparsity pattern from the function itself).

    import jaxgrads as jg
    result = jg.compare(mlp_block, x, W1, W2, argnums=0)
    result.table                      # a pandas DataFrame: one row per method
    print(result.recommendation)      # fastest, least memory, fastest within a budget

A row's size columns are the output's element count (``m``) and the argument's (``n``).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jaxgrads.errors import JaxgradsError

__all__ = ["Comparison", "compare", "function_problem", "recommend"]

SHOWN = ["method", "wrt", "dtype", "status", "ok", "time_median_s", "compile_s", "peak_bytes", "err_f64",
         "message"]  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` measured: ``table`` (one row per method, the results CSV's columns) and
    ``recommendation`` (which method to use, in a few lines)."""

    table: pd.DataFrame
    recommendation: str

    def __repr__(self) -> str:
        shown = self.table[[c for c in SHOWN if c in self.table.columns]]
        return f"{self.recommendation}\n\n{shown.to_string(index=False)}"

    def _repr_html_(self) -> str:
        shown = self.table[[c for c in SHOWN if c in self.table.columns]]
        lines = "".join(f"<li>{line}</li>" for line in self.recommendation.splitlines())
        return f"<ul>{lines}</ul>{shown.to_html(index=False)}"


def _names(f: Callable, count: int) -> list[str]:
    """The function's own parameter names where it has them (``x``, ``W``), else ``arg0``, ..."""
    try:
        params = [p.name for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]  # fmt: skip
    except (TypeError, ValueError):
        params = []
    names = params[:count] if len(params) >= count else [f"arg{i}" for i in range(count)]
    return names if len(set(names)) == count and "xp" not in names else [f"arg{i}" for i in range(count)]


def function_problem(f: Callable, args: Sequence, argnums: int = 0):
    """``f`` at ``args`` as a registered problem of its own (named after ``f``) and its size: what
    :func:`compare` and ``jaxgrads run --function`` measure. The caller unregisters it."""
    from jaxgrads.problems.registry import register

    if not callable(f):
        raise JaxgradsError(f"compare: f must be a function, got {type(f).__name__}")
    if not args:
        raise JaxgradsError("compare: give f's arguments after it: compare(f, x, ...)")
    if not 0 <= argnums < len(args):
        raise JaxgradsError(f"compare: argnums {argnums}; valid: 0-{len(args) - 1}")
    wrt_dtype = np.asarray(args[argnums]).dtype
    if not np.issubdtype(wrt_dtype, np.floating):
        raise JaxgradsError(f"compare: argument {argnums} is {wrt_dtype}; valid: a floating-point array")
    name = getattr(f, "__name__", "f")
    name = name if name.isidentifier() else "f"
    problem, size = _problem(f, args, argnums, name)
    register(problem, replace=True)
    return problem, size


def _problem(f: Callable, args: Sequence, argnums: int, name: str):
    import jax

    from jaxgrads.problems.registry import Derivative, Problem, Size

    names = _names(f, len(args))
    host = {n: np.asarray(a) for n, a in zip(names, args, strict=True)}
    wrt = names[argnums]
    out = jax.eval_shape(f, *args)
    if not hasattr(out, "shape"):
        raise JaxgradsError(f"compare: {name} returns {type(out).__name__}; valid: one array")
    scalar = out.shape == ()

    def fn(xp, **kw):
        return f(*(kw[n] for n in names))

    def make_inputs(size, dtype, rng):
        return {n: v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else v for n, v in host.items()}

    derivatives = (Derivative(wrt, None, doc=f"d{name}/d{wrt}"),)
    if scalar:
        derivatives += (Derivative(wrt, None, order=2, doc=f"d2{name}/d{wrt}2"),)
    problem = Problem(name=name, fn=fn, args=tuple(names), make_inputs=make_inputs,
                      derivatives=derivatives, dims=("m", "n"), scalar_output=scalar,
                      doc=f"{name} at the given arguments")  # fmt: skip
    size = Size(max(1, math.prod(out.shape)), max(1, host[wrt].size), 0)
    return problem, size


@contextlib.contextmanager
def _x64():
    """float64 on for the references (and restored after)."""
    import jax

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


def compare(
    f: Callable,
    *args,
    argnums: int = 0,
    methods: Sequence[str] | None = None,
    dtype: str | None = None,
    device: str = "cpu",
    samples: int = 5,
    min_sample_s: float = 0.005,
    memory_budget: int | None = None,
    max_call_s: float = 10.0,
) -> Comparison:
    """Benchmarks the derivatives of ``f`` w.r.t. ``args[argnums]`` at ``args``, every method that
    applies (module docstring), each checked against float64 autodiff.

    Args:
      f: a JAX function of arrays returning one array.
      args: its arguments (arrays; they are the inputs every method sees, cast to ``dtype``).
      argnums: which argument to differentiate.
      methods: method names (default: every JAX method that applies, asdex's where installed).
      dtype: ``float32``, ``float64`` or ``bfloat16`` (default: the argument's own).
      device: ``cpu``, ``gpu`` or ``auto``.
      samples, min_sample_s: the timing protocol's (:mod:`jaxgrads.measure.timing`).
      memory_budget: bytes: cases estimated over it are skipped, and the recommendation names the
        fastest that fits (default: half the device's free memory).
      max_call_s: a method whose first call takes longer is skipped.

    Returns:
      A :class:`Comparison`: ``table`` (the results CSV's columns, one row per method and
      derivative) and ``recommendation``.
    """
    from jaxgrads.methods import METHODS, applicable_methods
    from jaxgrads.problems.registry import unregister
    from jaxgrads.results.schema import read_results
    from jaxgrads.sweep import Sweep, run_sweep
    from jaxgrads.validation import positive_int

    with _x64():
        problem, size = function_problem(f, args, argnums)
        name = problem.name
        dtype = dtype or np.asarray(args[argnums]).dtype.name
        try:
            if methods is None:
                import importlib.util

                import jax

                import jaxgrads.measure  # noqa: F401  (the peers' methods registered)
                from jaxgrads.methods import default_methods

                wanted = default_methods(len(jax.devices()))
                if importlib.util.find_spec("asdex") is not None:
                    wanted += [n for n, m in METHODS.items() if m.backend == "asdex"]
                methods = [m for m in wanted if any(m in applicable_methods(problem, d.name)
                                                    for d in problem.derivatives)]  # fmt: skip
            sweep = Sweep(problems=(name,), methods=tuple(methods), sizes=((size.m, size.n),), regimes=(),
                          dtypes=(dtype,), samples=positive_int("samples", samples),
                          min_sample_s=min_sample_s, memory_budget=memory_budget, max_call_s=max_call_s,
                          device=device)  # fmt: skip
            with tempfile.TemporaryDirectory(prefix="jaxgrads-compare-") as tmp:
                df = read_results(run_sweep(sweep, Path(tmp) / "compare.csv", progress=_Quiet()))
        finally:
            unregister(name)
    return Comparison(df, recommend(df, memory_budget))


class _Quiet:
    """No progress bar in a notebook: the call returns the table."""

    def update(self, *_):
        pass

    def advance(self, *_):
        pass

    def close(self):
        pass


def _fmt_bytes(n: float) -> str:
    return f"{n / 2**20:.3g} MiB" if n >= 2**20 else f"{n / 2**10:.3g} KiB"


def recommend(df: pd.DataFrame, memory_budget: int | None = None) -> str:
    """Which method to use, per derivative: the fastest accurate one, the one with the least peak
    memory (XLA's), and where a budget is given the fastest within it."""
    from jaxgrads.results.labels import format_seconds

    lines = []
    good = df[(df["status"] == "ok") & df["ok"].astype(str).eq("True")]
    for wrt, g in df.groupby("wrt", sort=False):
        ok = good[good["wrt"] == wrt]
        if ok.empty:
            lines.append(f"d/d{wrt}: no method ran accurately ({', '.join(sorted(set(g['status'])))})")
            continue
        fast = ok.loc[pd.to_numeric(ok["time_median_s"]).idxmin()]
        peak = pd.to_numeric(ok["peak_bytes"], errors="coerce")
        small = ok.loc[peak.idxmin()] if peak.notna().any() else fast
        text = (f"{wrt}: fastest {fast['method']} ({format_seconds(float(fast['time_median_s']))}); "
                f"least memory {small['method']} ({_fmt_bytes(float(peak[small.name]))} peak)")  # fmt: skip
        if memory_budget is not None:
            fits = ok[peak <= memory_budget]
            best = fits.loc[pd.to_numeric(fits["time_median_s"]).idxmin()] if len(fits) else None
            text += (f"; within {_fmt_bytes(memory_budget)}: {best['method']}" if best is not None
                     else f"; none within {_fmt_bytes(memory_budget)}")  # fmt: skip
        bad = g[(g["status"] == "ok") & ~g["ok"].astype(str).eq("True")]
        if len(bad):
            text += f" ({len(bad)} inaccurate: {', '.join(bad['method'])})"
        lines.append(text)
    return "\n".join(lines)
