"""Running a sweep: every case measured (compiled, timed, costed, checked) and written as it finishes.

Each finished row is appended to the CSV and synced at once, its raw samples to the samples file
beside it, so an interrupted sweep keeps every finished row and ``resume`` skips them. A case over the
memory budget is ``skipped`` before compiling; one that fails (out of memory, an XLA error) is an
``error`` row, and the sweep goes on.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxgrads.measure.accuracy import Reference, accuracy, reference
from jaxgrads.measure.floor import Traffic, compulsory, kernel_floor
from jaxgrads.measure.kernels import Kernel, build_kernel
from jaxgrads.measure.machine import default_memory_budget, run_metadata
from jaxgrads.measure.roofline import FIRST_TOUCH_MIN_BYTES, Ceilings, achieved, measure_ceilings
from jaxgrads.measure.timing import Timing, dispatch_floor, time_callable
from jaxgrads.measure.xla import cost_and_memory
from jaxgrads.methods.colored import nonzeros
from jaxgrads.methods.sharded import AXIS, basis_mesh
from jaxgrads.peers.torch import torch_threads
from jaxgrads.results.files import (
    CsvAppender,
    OutputLock,
    Replacement,
    check_output,
    output_folder,
    write_error,
)
from jaxgrads.results.schema import FIELDS, SAMPLE_FIELDS, blank_row, samples_path
from jaxgrads.sweep.config import Sweep
from jaxgrads.sweep.distributed import agree, is_lead
from jaxgrads.sweep.instructions import add_instructions
from jaxgrads.sweep.plan import Case, estimate_bytes, plan
from jaxgrads.sweep.progress import Progress
from jaxgrads.sweep.resume import prepare_resume
from jaxgrads.validation import resolve_device, resolve_dtype

__all__ = ["References", "RunContext", "machine_probes", "run_case", "run_sweep", "save_arrays"]

SAVE_ARRAYS_MAX_BYTES = 16 * 2**20


class References:
    """Each case's references, computed once for all the methods of a (target, size, dtype)."""

    def __init__(self):
        self._key, self._ref = None, None

    def get(self, kernel: Kernel) -> Reference:
        key = (kernel.problem.name, kernel.derivative.name, kernel.size, kernel.dtype.name)
        if key != self._key:
            self._key, self._ref = None, None  # free the last one before building the next
            self._key, self._ref = key, reference(kernel)
        return self._ref


def machine_probes(
    sweep: Sweep, device, *, largest_output_bytes: float = math.inf
) -> tuple[dict[str, float], dict[str, Ceilings]]:
    """What every row of one run shares besides its metadata: the dispatch floor and the memory
    budget (as row columns), and the device's ceilings in each of the sweep's dtypes; the
    first-touch rate only where an output of ``largest_output_bytes`` can pay it.

    The dispatch floor is the faster of two measurements, before and after the ceilings: in a process
    that has just started, the first one can come out 10-40% slow (seen in the test suite: 9.1 µs,
    with kernels of the same run at 8.0 µs), and a floor must not be raised by a cold start.
    """
    first = dispatch_floor(device)
    ceilings = {
        dtype: measure_ceilings(
            device, dtype, samples=sweep.samples, min_sample_s=sweep.min_sample_s,
            first_touch=largest_output_bytes >= FIRST_TOUCH_MIN_BYTES.get(device.platform, math.inf),
        )  # fmt: skip
        for dtype in sweep.dtypes
    }
    probes = {
        "dispatch_floor_s": min(first, dispatch_floor(device)),
        "memory_budget_bytes": sweep.memory_budget or default_memory_budget(device),
    }
    return probes, ceilings


@dataclass
class RunContext:
    """What every case of one run shares: the sweep, the device, the run's columns (metadata and
    machine probes), the ceilings per dtype, and the caches of references and inputs.

    The runner and the pytest-benchmark suite both start one with :meth:`start`.
    """

    sweep: Sweep
    device: jax.Device
    meta: dict
    ceilings: Mapping[str, Ceilings | None]
    references: References = field(default_factory=References)
    _inputs: dict = field(default_factory=dict)

    @classmethod
    def start(
        cls, sweep: Sweep, meta: Mapping | None = None, cases: Sequence[Case] | None = None
    ) -> RunContext:
        """Resolves the device, reads the machine's metadata and measures its probes (for ``cases``,
        when given: the first-touch rate only if one of their Jacobians is large enough to pay it)."""
        device = resolve_device(sweep.device)
        largest = math.inf if cases is None else max((_dense_output_bytes(c) for c in cases), default=0)
        probes, ceilings = machine_probes(sweep, device, largest_output_bytes=largest)
        return cls(sweep, device, run_metadata(device) | dict(meta or {}) | probes, ceilings)

    def inputs(self, case: Case) -> dict[str, np.ndarray]:
        """The host inputs of ``case``, kept while the cases that share them run."""
        key = (case.problem.name, case.size, case.dtype)
        if key not in self._inputs:
            self._inputs.clear()
            self._inputs[key] = case.problem.inputs(case.size, resolve_dtype(case.dtype))
        return self._inputs[key]


def _dense_output_bytes(case: Case) -> float:
    """The bytes of ``case``'s Jacobian held dense: at least what its kernel writes (infinite for a
    case whose shapes fail to trace: its error belongs to its own row, not to the run's probes)."""
    try:
        _, jac_shape, _ = estimate_bytes(case)
    except Exception:  # a user's function raising at trace time; run_case reports it
        return math.inf
    return math.prod(jac_shape) * resolve_dtype(case.dtype).itemsize


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _blank_row(case: Case, ctx: RunContext) -> dict:
    return blank_row() | ctx.meta | case.columns()


def _planned_row(case: Case, ctx: RunContext) -> tuple[dict, str | None]:
    """The row's columns known before compiling, and why the case is skipped (None: it runs)."""
    row = _blank_row(case, ctx)
    ceilings = ctx.ceilings[case.dtype]
    if ceilings is not None:
        row |= ceilings.columns()
    need, jac_shape, steps = estimate_bytes(case)
    out_shape, wrt_shape, _ = case.shapes
    traffic = compulsory(case.problem, case.derivative, case.size, case.shapes, case.dtype)
    nnz = nonzeros(case.derivative, case.shapes[2], out_shape)
    if case.method.output == "bcoo":  # it writes the nonzeros and one int32 index per dimension
        written = nnz * (resolve_dtype(case.dtype).itemsize + 4 * len(jac_shape))
        traffic = Traffic(traffic.read_bytes, written, traffic.flops)
    row |= {
        "traffic_bytes": traffic.bytes,
        "traffic_read_bytes": traffic.read_bytes,
        "min_flops": traffic.flops,
        "jac_shape": "x".join(map(str, jac_shape)) or "1",
        "jac_bytes": math.prod(jac_shape) * resolve_dtype(case.dtype).itemsize,
        "wrt_elements": math.prod(wrt_shape),
        "out_elements": math.prod(out_shape) if case.derivative.order == 1 else math.prod(wrt_shape),
        "devices": case.devices,
        "mesh_shape": f"{AXIS}={case.devices}" if case.method.family == "sharded" else "",
        "processes": jax.process_count(),
        "nnz": nnz,
        "output_format": case.method.output,
    }
    budget, sweep = ctx.meta["memory_budget_bytes"], ctx.sweep
    if need > budget:
        return row, f"needs ~{need / 2**20:.0f} MiB, over the {budget / 2**20:.0f} MiB budget"
    if steps > sweep.max_steps:
        return row, f"{steps} sequential steps, over the --max-steps limit of {sweep.max_steps}"
    return row, None


def run_case(case: Case, ctx: RunContext, timer: Callable[[Kernel], Timing] | None = None):
    """Measures one case. Returns its CSV row and its raw samples (seconds per call).

    ``timer`` times the compiled, warmed-up kernel (default: :func:`jaxgrads.measure.timing.time_callable`
    with the sweep's samples); the pytest-benchmark suite passes ``benchmark.pedantic`` here, so
    both harnesses time the same callable after the same preparation.

    In a run of several processes a sharded kernel's calls are kept in step
    (:mod:`jaxgrads.sweep.distributed`): the skip, the loop count and each sample are agreed, its
    Jacobian is gathered by all, and only the lead checks it.
    """
    try:
        row, skip = _planned_row(case, ctx)
    except Exception as exc:  # a plug-in whose shapes cannot be evaluated
        return _blank_row(case, ctx) | {"status": "error", "message": _one_line(exc)}, ()
    if skip:
        return row | {"status": "skipped", "message": skip}, ()
    sweep = ctx.sweep
    try:
        kernel = build_kernel(
            case.problem, case.derivative.name, case.method, case.size, case.dtype, ctx.device,
            inputs=ctx.inputs(case), devices=case.devices if case.method.family == "sharded" else None,
        )  # fmt: skip
        step = agree if kernel.mesh is not None else None  # in step with the other processes
        start = time.perf_counter()
        J = jax.block_until_ready(kernel())  # the warm-up call; its result is the one checked
        first_call = time.perf_counter() - start
        if step is not None:
            (first_call,) = step((first_call,))
        if first_call > sweep.max_call_s:
            msg = (
                f"one call took {first_call:.3g} s, over the --max-call-time limit of {sweep.max_call_s:g} s"
            )
            return row | {"status": "skipped", "message": msg, "compile_s": kernel.compile_s}, ()
        if timer is None:
            timing = time_callable(
                kernel, samples=sweep.samples, min_sample_s=sweep.min_sample_s, warmup=False, agree=step
            )
        else:
            timing = timer(kernel)
        row |= cost_and_memory(kernel.executables)
        if is_lead():
            row |= accuracy(kernel, J, ctx.references.get(kernel))
        elif kernel.mesh is not None:
            kernel.host_jacobian(J)  # the lead's gather is a collective: take part
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # out of memory, an XLA failure, a plug-in bug: the sweep goes on
        return row | {"status": "error", "message": _one_line(exc)}, ()
    if sweep.save_arrays is not None and kernel.jac_bytes <= SAVE_ARRAYS_MAX_BYTES and is_lead():
        save_arrays(Path(sweep.save_arrays) / f"{case.id}.npz", kernel.inputs, kernel.host_jacobian(J))
    del J
    return row | _timing_columns(case, kernel, timing, ctx.ceilings[case.dtype], row), timing.samples


def _timing_columns(case: Case, kernel: Kernel, timing: Timing, ceilings, row: dict) -> dict:
    columns = {
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
    if kernel.prepared is not None:  # a colored method: its colors and its preparation
        columns |= {"colors": kernel.prepared.count, "prep_s": kernel.prep_s}
    if ceilings is not None:
        columns |= achieved(row["flops"], row["bytes_accessed"], timing.median, ceilings)
        traffic = Traffic(
            row["traffic_read_bytes"], row["traffic_bytes"] - row["traffic_read_bytes"], row["min_flops"]
        )
        floor = kernel_floor(traffic, ceilings, float(row["dispatch_floor_s"]))
        columns |= {
            "floor_s": floor.seconds,
            "floor_frac": floor.seconds / timing.median,
            "floor_level": floor.level,
        }
    return columns


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
    arrays["jacobian"] = np.asarray(J, np.float64)
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


def _write_rows(todo: Sequence[Case], ctx: RunContext, rows_file, samples_file, progress, on_row, kept):
    """Measures each case of ``todo`` and appends its samples, then its row.

    A failed write (a full disk) cuts both files back to the last whole row and stops the sweep
    with one line; ``kept`` says what the user still has.
    """
    for case in todo:
        progress.update(case.id)
        row, samples = run_case(case, ctx)
        mark = samples_file.size()
        try:
            samples_file.write(
                {"run_id": ctx.meta["run_id"], **case.columns(), "sample": i, "time_s": t}
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
    cases: Sequence[Case] | None = None,
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
      cases: ``plan(sweep)`` when the caller has it already (the CLI plans to check the options).
      progress: a progress display (default: a bar on stderr when it is a terminal).
      on_row: called with each finished row.

    With ``sweep.instructions``, the timed rows are then counted under callgrind
    (:mod:`jaxgrads.sweep.instructions`) and the file is rewritten with their counts.

    Returns:
      The CSV path.
    """
    out = Path(out)
    check_output(out, resume=resume, overwrite=overwrite)
    spath = samples_path(out)
    check_output(spath, resume=True, overwrite=True)
    cases = plan(sweep) if cases is None else cases
    basis_mesh(resolve_device(sweep.device).platform, sweep.devices)  # enough devices, or one line
    if sweep.save_arrays is not None:
        output_folder(sweep.save_arrays, "--save-arrays")
    with OutputLock(out):
        check_output(out, resume=resume, overwrite=overwrite)  # again: it may have appeared meanwhile
        done, previous = set(), {}
        has_rows = out.is_file() and out.stat().st_size > 0
        if resume and has_rows:
            done, previous = prepare_resume(out)
        elif not resume and not has_rows:
            spath.unlink(missing_ok=True)  # a samples file without rows belongs to no run
        replacement = Replacement(out, spath) if has_rows and not resume else None
        todo = [c for c in cases if c.key not in done]
        ctx = RunContext.start(sweep, previous, todo)
        _write_all(todo, ctx, out, replacement, progress or Progress(len(todo)), on_row)
        if sweep.instructions:
            add_instructions(out, sweep, cases)
    return out


def _write_all(todo, ctx: RunContext, out: Path, replacement: Replacement | None, progress, on_row) -> None:
    """Writes the rows of ``todo`` into ``out`` (or its replacement), keeping what a failure must not lose."""
    rows_path, sample_path = (
        (replacement.rows, replacement.samples) if replacement else (out, samples_path(out))
    )

    def kept(written: int) -> str:
        if replacement:
            return f"{out} left as it was"
        return f"{out} keeps its whole rows ({written} new); free space and rerun with --resume"

    files: list[CsvAppender] = []
    try:
        files.append(CsvAppender(rows_path, FIELDS))
        files.append(CsvAppender(sample_path, SAMPLE_FIELDS))
        _write_rows(todo, ctx, *files, progress, on_row, kept)
    except KeyboardInterrupt:  # the finished rows are the user's: keep them, resumable
        if replacement:
            (replacement.commit if files and files[0].rows else replacement.discard)()
        raise
    except BaseException as exc:
        if replacement:
            replacement.discard()
        if isinstance(exc, OSError):
            raise write_error(exc.filename or rows_path, exc, kept(files[0].rows if files else 0)) from None
        raise
    else:
        if replacement:
            replacement.commit()
    finally:
        progress.close()
        for f in files:
            f.close()
