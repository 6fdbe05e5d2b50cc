"""The sweep runner: every (problem, wrt, method, size, dtype) case timed, costed and checked.

Each finished row is appended to the CSV and flushed at once, its raw samples to the samples file
beside it, so an interrupted sweep keeps every finished row and ``resume`` skips them. A case over the
memory budget is ``skipped`` before compiling; one that fails (out of memory, an XLA error) is an
``error`` row, and the sweep goes on.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from jaxgrads.measure.accuracy import Reference, accuracy, host_array, reference
from jaxgrads.measure.kernels import Kernel, basis_size, build_kernel, resolve_chunk_size
from jaxgrads.measure.machine import default_memory_budget, run_metadata
from jaxgrads.measure.roofline import Ceilings, achieved, measure_ceilings
from jaxgrads.measure.timing import (
    DEFAULT_MIN_SAMPLE_S,
    DEFAULT_SAMPLES,
    Timing,
    dispatch_floor,
    time_callable,
)
from jaxgrads.measure.xla import cost_and_memory
from jaxgrads.methods.registry import METHODS, Method, applicable_methods, expand_methods
from jaxgrads.peers.torch import require_torch, torch_threads
from jaxgrads.problems.registry import Derivative, Problem, Size, get_problem, problem_names
from jaxgrads.results.files import (
    CsvAppender,
    OutputLock,
    Replacement,
    atomic_write_text,
    check_output,
    csv_header,
    cut_tail,
    output_folder,
    read_text,
    write_error,
)
from jaxgrads.results.labels import kernel_id
from jaxgrads.results.schema import FIELDS, SAMPLE_FIELDS, read_results, row_key, samples_path, timed_rows
from jaxgrads.sweep.progress import Progress
from jaxgrads.validation import (
    JaxgradsError,
    choose,
    parse_size,
    positive_int,
    require_x64,
    resolve_device,
    resolve_dtype,
)

__all__ = [
    "DEFAULT_SWEEP",
    "CROSSOVER_SWEEP",
    "GATE_SWEEP",
    "SCALING_SWEEP",
    "PRESETS",
    "QUICK_SWEEP",
    "Case",
    "Sweep",
    "estimate_bytes",
    "plan",
    "prepare_resume",
    "run_case",
    "run_sweep",
    "save_arrays",
    "sizes_from",
]

SAVE_ARRAYS_MAX_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Sweep:
    """What to run. ``None`` for problems, wrt or methods means all that apply."""

    problems: tuple[str, ...] | None = None
    wrt: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None
    # square, tall and wide: fwd/rev trade places between the last two
    sizes: tuple[tuple[int, int], ...] = ((64, 64), (512, 16), (16, 512))
    batches: tuple[int, ...] = (4,)
    dtypes: tuple[str, ...] = ("float32",)
    device: str = "auto"
    samples: int = DEFAULT_SAMPLES
    min_sample_s: float = DEFAULT_MIN_SAMPLE_S
    memory_budget: int | None = None  # bytes; None: half the device's free memory
    max_steps: int = 2**14  # sequential steps (lax.map iterations, loop calls) allowed per Jacobian
    max_call_s: float = 10.0  # a case whose first call takes longer is skipped after that call
    save_arrays: Path | None = None
    chunk_sizes: tuple[int, ...] = (64,)  # for jacrev_chunked / jacfwd_chunked
    cpus: int | None = None  # pin the process to this many CPUs (the CLI does it before JAX starts)


DEFAULT_SWEEP = Sweep()
# the quick sweep leaves out the chunked variants (at these sizes they equal map_vjp / map_jvp)
QUICK_SWEEP = Sweep(
    methods=tuple(n for n, m in METHODS.items() if m.backend == "jax" and not m.chunked),
    sizes=((16, 16), (64, 64)),
    samples=5,
    min_sample_s=0.005,
)


# the regression gate's sweep: the vectorized methods and the closed form at 128, where most kernels
# clear 10x the dispatch floor; more samples for the rank test (9 against 9 can reach p = 2e-5); a
# kernel slower than 0.1 s a call is skipped, which keeps one gate run near half a minute
GATE_SWEEP = Sweep(
    methods=("jacfwd", "jacrev", "grad", "linearize", "linear_transpose", "map_vjp", "analytic"),
    sizes=((128, 128),),
    samples=9,
    min_sample_s=0.005,
    max_call_s=0.1,
    # one CPU: XLA's threads on a shared VM land differently in every process; pinned, a kernel's
    # time moves less from one process to the next (bench/normalization.py)
    cpus=1,
)
# forward against reverse: matvec w.r.t. x at m·n = 65536, aspect m/n from 1/64 to 64
CROSSOVER_SWEEP = Sweep(
    problems=("matvec",),
    wrt=("x",),
    methods=("jacfwd", "jacrev"),
    sizes=tuple((2**k, 2 ** (16 - k)) for k in range(5, 12)),
)
# time against size: squares from 32 to 512 for every vectorized method (the one-element walks are
# the default sweep's business); what `make bench` plots
SCALING_SWEEP = Sweep(
    methods=tuple(n for n, m in METHODS.items() if m.backend == "jax" and m.steps is None),
    sizes=((32, 32), (128, 128), (512, 512)),
    max_call_s=1.0,
)
PRESETS = {
    "default": DEFAULT_SWEEP,
    "scaling": SCALING_SWEEP,
    "quick": QUICK_SWEEP,
    "gate": GATE_SWEEP,
    "crossover": CROSSOVER_SWEEP,
}


@dataclass(frozen=True)
class Case:
    """One row of the sweep."""

    problem: Problem
    derivative: Derivative
    method: Method
    size: Size
    dtype: str
    chunk_size: int = 0

    @property
    def key(self) -> tuple[str, ...]:
        return row_key(self.columns())

    @property
    def id(self) -> str:
        label = self.size.label(self.problem.dims)
        return kernel_id(
            self.problem.name, self.derivative.name, self.method.name, label, self.dtype, self.chunk_size
        )

    def columns(self) -> dict[str, object]:
        s = self.size
        return {
            "problem": self.problem.name,
            "wrt": self.derivative.name,
            "method": self.method.name,
            "m": s.m,
            "n": s.n,
            "batch": s.batch,
            "dtype": self.dtype,
            "chunk_size": self.chunk_size,
        }


def plan(sweep: Sweep) -> list[Case]:
    """Expands a sweep into its cases; names are checked here, before anything runs.

    Sizes a problem does not use collapse (``inner`` at 64 and at 256x64 is the same case), and so
    do chunk sizes clamped to the same basis. Without ``methods`` the sweep runs every JAX method; the
    PyTorch peer runs when named (``--methods torch`` names all of its methods).
    """
    problems = [get_problem(p) for p in (sweep.problems or problem_names())]
    wrts = sweep.wrt
    if wrts:
        known = {d.name for p in problems for d in p.derivatives}
        for w in wrts:
            choose("wrt (for the chosen problems)", w, sorted(known))
    if sweep.methods:
        methods = expand_methods(sweep.methods)
    else:
        methods = [name for name, m in METHODS.items() if m.backend == "jax"]
    if any(METHODS[m].backend == "torch" for m in methods):
        require_torch()
    chunks = tuple(positive_int("chunk size", c) for c in sweep.chunk_sizes)
    for dtype in sweep.dtypes:
        require_x64(resolve_dtype(dtype))
    cases, seen = [], set()
    for problem in problems:
        for d in problem.derivatives:
            if wrts and d.name not in wrts:
                continue
            usable = [m for m in methods if m in applicable_methods(problem, d.name)]
            for m, n in sweep.sizes:
                for batch in sweep.batches:
                    size = problem.canonical(Size(m, n, batch))
                    for dtype in sweep.dtypes:
                        for name in usable:
                            for chunk in _chunks(problem, d, METHODS[name], size, chunks):
                                case = Case(problem, d, METHODS[name], size, dtype, chunk)
                                if case.key not in seen:
                                    seen.add(case.key)
                                    cases.append(case)
    if not cases:
        raise JaxgradsError("the sweep is empty: no chosen method applies to the chosen problems and wrt")
    return cases


def _chunks(problem: Problem, derivative: Derivative, method: Method, size: Size, chunks) -> list[int]:
    """The chunk sizes a method runs at here: clamped to its basis, 0 for unchunked methods."""
    if not method.chunked:
        return [0]
    shapes = {k: v.shape for k, v in problem.make_inputs(size, np.dtype(np.float32), _ShapeOnlyRng()).items()}
    basis = basis_size(problem, derivative, method, shapes)
    return list(dict.fromkeys(resolve_chunk_size(method, c, basis) for c in chunks))


def _shapes(case: Case) -> tuple[tuple[int, ...], tuple[int, ...], dict[str, tuple[int, ...]]]:
    """(output shape, wrt shape, input shapes) without building any array."""
    p = case.problem
    specs = {
        k: jax.ShapeDtypeStruct(v.shape, v.dtype)
        for k, v in p.make_inputs(case.size, np.dtype(np.float32), _ShapeOnlyRng()).items()
    }
    out = jax.eval_shape(lambda kw: p.fn(jnp, **kw), specs)
    return tuple(out.shape), tuple(specs[case.derivative.wrt].shape), {k: v.shape for k, v in specs.items()}


class _ShapeOnlyRng:
    """Stands in for a Generator so input makers report shapes without drawing large arrays.

    Any sampling method works (``standard_normal(shape)``, ``uniform(low, high, size)``, ...): it
    returns a zero-stride array of the requested shape.
    """

    def __getattr__(self, name):
        def draw(*args, size=None, **kwargs):
            shape = size if size is not None else next((a for a in args if isinstance(a, tuple)), ())
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            return np.lib.stride_tricks.as_strided(np.zeros(1), shape=shape, strides=(0,) * len(shape))

        return draw


def estimate_bytes(case: Case) -> tuple[int, tuple[int, ...], int]:
    """Bytes a case needs at its peak, the Jacobian's shape, and the method's sequential steps.

    The device holds the inputs, the Jacobian twice (forward methods transpose their columns;
    jacrev's vmap output and the result), and the identity basis the method materializes
    (``Method.basis``). On a CPU the host also holds the float64 reference, its error scale, and the
    float64 autodiff Jacobian that checks the closed form.
    """
    out, wrt, inputs = _shapes(case)
    out_size, in_size = math.prod(out), math.prod(wrt)
    itemsize = resolve_dtype(case.dtype).itemsize
    jac_shape = (*wrt, *wrt) if case.derivative.order == 2 else (*out, *wrt)
    jac = math.prod(jac_shape)
    width = {"in": in_size, "out": out_size, None: 0}[case.method.basis]
    basis = width * (case.chunk_size or width)  # a chunked method holds chunk_size basis vectors
    total = itemsize * (sum(math.prod(s) for s in inputs.values()) + 2 * jac + basis)
    if jax.devices()[0].platform == "cpu":
        # float64 reference, scale, the kernel's result upcast, and float64 jacrev checking the closed form
        total += 8 * 4 * jac
    steps = {"in": in_size, "out": out_size, None: 1}[case.method.steps]
    if case.chunk_size:
        steps = -(-steps // case.chunk_size)
    return total, jac_shape, steps


def _empty_row(meta: dict, case: Case) -> dict[str, object]:
    row = {f: "" for f in FIELDS} | meta | case.columns()
    return row


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


class _References:
    """Each case's references, computed once for all the methods of a (target, size, dtype)."""

    def __init__(self):
        self._key, self._ref = None, None

    def get(self, kernel: Kernel) -> Reference:
        key = (kernel.problem.name, kernel.derivative.name, kernel.size, kernel.dtype.name)
        if key != self._key:
            self._key, self._ref = None, None  # free the last one before building the next
            self._key, self._ref = key, reference(kernel)
        return self._ref


def run_case(
    case: Case,
    sweep: Sweep,
    device,
    meta: dict,
    refs: _References,
    inputs_cache: dict,
    ceilings: Ceilings | None = None,
    timer: Callable[[Kernel], Timing] | None = None,
):
    """Measures one case. Returns its CSV row and its raw samples (seconds per call).

    ``ceilings`` are the device's in ``case.dtype``; with them the row gets its roofline columns.
    ``timer`` times the compiled, warmed-up kernel (default: :func:`jaxgrads.timing.time_callable`
    with the sweep's samples); the pytest-benchmark suite passes ``benchmark.pedantic`` here, so
    both harnesses time the same callable after the same preparation.
    """
    row = _empty_row(meta, case)
    if ceilings is not None:
        row |= {"ceiling_bytes_per_s": ceilings.bytes_per_s, "ceiling_flops_per_s": ceilings.flops_per_s}
    try:
        need, jac_shape, steps = estimate_bytes(case)
    except Exception as exc:  # a plug-in whose shapes cannot be evaluated
        return row | {"status": "error", "message": _one_line(exc)}, ()
    itemsize = resolve_dtype(case.dtype).itemsize
    out_shape, wrt_shape, _ = _shapes(case)
    row |= {
        "jac_shape": "x".join(map(str, jac_shape)) or "1",
        "jac_bytes": math.prod(jac_shape) * itemsize,
        "wrt_elements": math.prod(wrt_shape),
        "out_elements": math.prod(out_shape) if case.derivative.order == 1 else math.prod(wrt_shape),
    }
    if need > meta["memory_budget_bytes"]:
        msg = f"needs ~{need / 2**20:.0f} MiB, over the {meta['memory_budget_bytes'] / 2**20:.0f} MiB budget"
        return row | {"status": "skipped", "message": msg}, ()
    if steps > sweep.max_steps:
        msg = f"{steps} sequential steps, over the --max-steps limit of {sweep.max_steps}"
        return row | {"status": "skipped", "message": msg}, ()
    try:
        ikey = (case.problem.name, case.size, case.dtype)
        if ikey not in inputs_cache:
            inputs_cache.clear()
            inputs_cache[ikey] = case.problem.inputs(case.size, resolve_dtype(case.dtype))
        kernel = build_kernel(
            case.problem,
            case.derivative.name,
            case.method.name,
            case.size,
            case.dtype,
            device,
            inputs=inputs_cache[ikey],
        )
        start = time.perf_counter()
        J = jax.block_until_ready(kernel())  # the warm-up call; its result is the one checked
        first_call = time.perf_counter() - start
        if first_call > sweep.max_call_s:
            msg = (
                f"one call took {first_call:.3g} s, over the --max-call-time limit of {sweep.max_call_s:g} s"
            )
            return row | {"status": "skipped", "message": msg, "compile_s": kernel.compile_s}, ()
        if timer is None:
            timing = time_callable(
                kernel, samples=sweep.samples, min_sample_s=sweep.min_sample_s, warmup=False
            )
        else:
            timing = timer(kernel)
        row |= cost_and_memory(kernel.executables)
        row |= accuracy(kernel, J, refs.get(kernel))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # out of memory, an XLA failure, a plug-in bug: the sweep goes on
        return row | {"status": "error", "message": _one_line(exc)}, ()
    if sweep.save_arrays is not None and kernel.jac_bytes <= SAVE_ARRAYS_MAX_BYTES:
        save_arrays(Path(sweep.save_arrays) / f"{case.id}.npz", kernel.inputs, J)
    del J
    row |= {
        "status": "ok",
        "compile_s": kernel.compile_s,
        "time_median_s": timing.median,
        "time_iqr_s": timing.iqr,
        "time_min_s": timing.min,
        "samples": len(timing.samples),
        "inner_loops": timing.inner_loops,
        "compile_kind": "first_call" if case.method.backend == "torch" else "xla",
        "torch_threads": torch_threads(),
    }
    if ceilings is not None:
        row |= achieved(row["flops"], row["bytes_accessed"], timing.median, ceilings)
    return row, timing.samples


def machine_probes(sweep: Sweep, device) -> tuple[dict[str, float], dict[str, Ceilings]]:
    """What every row of one run shares besides its metadata: the dispatch floor and the memory
    budget (as row columns), and the device's ceilings in each of the sweep's dtypes."""
    probes = {
        "dispatch_floor_s": dispatch_floor(device),
        "memory_budget_bytes": sweep.memory_budget or default_memory_budget(device),
    }
    ceilings = {
        dtype: measure_ceilings(device, dtype, samples=sweep.samples, min_sample_s=sweep.min_sample_s)
        for dtype in sweep.dtypes
    }
    return probes, ceilings


def save_arrays(path: Path, inputs: dict, J) -> None:
    """Writes one row's inputs and Jacobian to ``path`` (.npz) that ``np.load`` alone reads.

    bfloat16 inputs are stored as float32 (every bfloat16 is exactly a float32) with the case's
    dtype name under ``dtype``; the Jacobian is float64. Written beside and renamed, so a failure
    (a full disk) leaves no partial file, and stops the sweep with one line.
    """
    bf16 = np.dtype(jnp.bfloat16)
    arrays = {k: (np.asarray(v, np.float32) if np.asarray(v).dtype == bf16 else np.asarray(v))
              for k, v in inputs.items()}  # fmt: skip
    arrays["dtype"] = np.array(str(np.asarray(next(iter(inputs.values()))).dtype))
    arrays["jacobian"] = host_array(J)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(
            path, exc, "the rows before it are kept; free space and rerun with --resume"
        ) from None


def _note(text: str) -> None:
    print(f"jaxgrads: {text}", file=sys.stderr)


def _check_columns(path: Path, fields: tuple[str, ...]) -> None:
    """Refuses to append to a file whose columns are not this version's (in any order)."""
    header = csv_header(path)
    if header and sorted(header) != sorted(fields):
        missing = [f for f in fields if f not in header]
        extra = [f for f in header if f not in fields]
        raise JaxgradsError(
            f"{path}: its columns are not this version's (missing: {', '.join(missing) or 'none'}; "
            f"extra: {', '.join(extra) or 'none'}); resume into a new -o file, or pass --overwrite"
        )


def prepare_resume(out: Path) -> tuple[set[tuple], dict]:
    """Makes a resumed output whole and consistent before anything runs.

    A cut last row (a killed or out-of-space run) is dropped, in the CSV and in its samples; a
    file with other columns than this version writes is refused; a row marked ok without a finite
    time or without samples is removed, to be measured again; samples of rows that never reached
    the CSV are dropped. Returns the keys the output holds and its run's id columns.
    """
    spath = samples_path(out)
    for path, fields in ((out, FIELDS), (spath, SAMPLE_FIELDS)):
        if path.is_file() and path.stat().st_size:
            read_text(path, "a jaxgrads results CSV" if path == out else "a samples CSV")  # text at all?
            dropped = cut_tail(path)
            if dropped:
                _note(f"{path}: dropped a cut last row ({dropped} bytes); it is measured again")
            _check_columns(path, fields)
    if len(csv_header(out)) == 0 or read_text(out, "a jaxgrads results CSV").count("\n") < 2:
        _drop_orphan_samples(spath, set())
        return set(), {}
    previous = read_results(out)
    sampled = set()
    if spath.is_file() and spath.stat().st_size:
        raw = pd.read_csv(io.StringIO(read_text(spath, "a samples CSV")), dtype=str, keep_default_na=False)
        sampled = {row_key(r) for r in raw.to_dict("records")}
    keys = [row_key(r) for r in previous.to_dict("records")]
    untimed = (previous["status"] == "ok") & ~previous.index.isin(timed_rows(previous).index)
    unsampled = (previous["status"] == "ok") & ~pd.Series([k in sampled for k in keys], index=previous.index)
    redo = (untimed | unsampled).to_numpy()
    if redo.any():
        lines = [r for r in csv.reader(io.StringIO(read_text(out, "a jaxgrads results CSV"))) if r]
        buf = io.StringIO()
        csv.writer(buf).writerows([lines[0]] + [r for r, bad in zip(lines[1:], redo, strict=True) if not bad])
        atomic_write_text(out, buf.getvalue())
        _note(
            f"{out}: {int(redo.sum())} row(s) marked ok without a finite time or samples are measured again"
        )
    done = {k for k, bad in zip(keys, redo, strict=True) if not bad}
    _drop_orphan_samples(spath, done)
    kept = previous[~redo]
    meta = {k: kept[k].iloc[0] for k in ("run_id", "started_at")} if len(kept) else {}
    return done, meta


def _drop_orphan_samples(path: Path, done: set[tuple]) -> None:
    """Removes samples whose row never reached the CSV (the sweep stopped between the two writes)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    samples = pd.read_csv(io.StringIO(read_text(path, "a samples CSV")), dtype=str, keep_default_na=False)
    keep = [row_key(r) in done for r in samples.to_dict("records")]
    if not all(keep):
        atomic_write_text(path, samples[keep].to_csv(index=False))


def _write_rows(todo, sweep, device, meta, ceilings, rows_file, samples_file, progress, on_row, kept):
    """Measures each case of ``todo`` and appends its samples, then its row.

    A failed write (a full disk) cuts both files back to the last whole row and stops the sweep
    with one line; ``kept`` says what the user still has.
    """
    refs, inputs_cache = _References(), {}
    for case in todo:
        progress.update(case.id)
        row, samples = run_case(case, sweep, device, meta, refs, inputs_cache, ceilings[case.dtype])
        mark = samples_file.size()
        try:
            samples_file.write(
                {"run_id": meta["run_id"], **case.columns(), "sample": i, "time_s": t}
                for i, t in enumerate(samples)
            )
            rows_file.write([row])
        except OSError as exc:
            samples_file.truncate(mark)
            raise write_error(exc.filename or rows_file.path, exc, kept(rows_file.rows)) from None
        progress.advance()
        if on_row:
            on_row(row)


def run_sweep(
    sweep: Sweep,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> Path:
    """Runs ``sweep``, appending rows to ``out`` and samples to the file beside it.

    The output is locked against a second writer for the whole run. With ``overwrite``, the new
    rows go to files beside ``out`` that replace it at the end, so a run that fails leaves the old
    results as they were (an interrupted one with finished rows replaces them: it is resumable).

    Args:
      sweep: what to run.
      out: the results CSV.
      resume: keep the rows ``out`` already has and run only the missing cases.
      overwrite: replace an existing ``out``.
      progress: a progress display (default: a bar on stderr when it is a terminal).
      on_row: called with each finished row.

    Returns:
      The CSV path.
    """
    out = Path(out)
    check_output(out, resume=resume, overwrite=overwrite)
    spath = samples_path(out)
    check_output(spath, resume=True, overwrite=True)
    cases = plan(sweep)
    device = resolve_device(sweep.device)
    if sweep.save_arrays is not None:
        output_folder(sweep.save_arrays, "--save-arrays")
    with OutputLock(out):
        check_output(out, resume=resume, overwrite=overwrite)  # again: it may have appeared meanwhile
        meta = run_metadata(device)
        done: set[tuple] = set()
        has_rows = out.is_file() and out.stat().st_size > 0
        if resume and has_rows:
            done, previous = prepare_resume(out)
            meta |= previous
        elif not resume and not has_rows:
            spath.unlink(missing_ok=True)  # a samples file without rows belongs to no run
        replacement = Replacement(out, spath) if has_rows and not resume else None
        probes, ceilings = machine_probes(sweep, device)
        meta |= probes
        todo = [c for c in cases if c.key not in done]
        progress = progress or Progress(len(todo))
        rows_path, sample_path = (replacement.rows, replacement.samples) if replacement else (out, spath)

        def kept(written: int) -> str:
            if replacement:
                return f"{out} left as it was"
            return f"{out} keeps its whole rows ({written} new); free space and rerun with --resume"

        files: list[CsvAppender] = []
        try:
            files.append(CsvAppender(rows_path, FIELDS))
            files.append(CsvAppender(sample_path, SAMPLE_FIELDS))
            _write_rows(todo, sweep, device, meta, ceilings, *files, progress, on_row, kept)
        except KeyboardInterrupt:  # the finished rows are the user's: keep them, resumable
            if replacement:
                (replacement.commit if files and files[0].rows else replacement.discard)()
            raise
        except BaseException as exc:
            if replacement:
                replacement.discard()
            if isinstance(exc, OSError):
                written = files[0].rows if files else 0
                raise write_error(exc.filename or rows_path, exc, kept(written)) from None
            raise
        else:
            if replacement:
                replacement.commit()
        finally:
            progress.close()
            for f in files:
                f.close()
    return out


def sizes_from(texts: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """Parses ``["1024", "4096x64"]``; raises on the first malformed size."""
    return tuple(parse_size(t) for t in texts)
