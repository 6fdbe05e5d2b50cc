"""Running a sweep: every case measured (compiled, timed, costed, checked) and written as it finishes.

Each finished row is appended to the CSV and synced at once, its raw samples to the samples file
beside it, so an interrupted sweep keeps every finished row and ``resume`` skips them. A case over the
memory budget is ``skipped`` before compiling; one that fails (out of memory, an XLA error) is an
``error`` row, and the sweep goes on.

**A row is written once, whole, and revised at most twice, by passes that cannot come first.** Every
column a row knows when its case finishes is in it then. Two passes revise finished rows, each by
replacing the file atomically (an interruption leaves the rows as they were, and ``--resume`` redoes
the pass):

- the floor (:mod:`jaxgrads.sweep.refloor`): the machine probed again once every row is written,
  each floor from the better of the two probes. It cannot come first: a probe before the rows is the
  one the run already has, and what it corrects is that probe's slow moment;
- the instruction counts (:mod:`jaxgrads.sweep.instructions`): counted under callgrind for the rows
  timed under 1 ms a call. They cannot come first: which rows to count is known from their timings,
  and the callgrind children, one per CPU, would load the machine the timings are taken on.

Writing each row only after both (holding every row of a run in memory until the end) would lose
every finished row to an interruption, which the rule above forbids.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path

import jax

from jaxgrads.errors import TRACEBACK, JaxgradsError, PluginError, one_line
from jaxgrads.measure.accuracy import accuracy
from jaxgrads.measure.case import Case
from jaxgrads.measure.kernels import Kernel, compile_case
from jaxgrads.measure.timing import Timing, time_callable
from jaxgrads.measure.xla import cost_and_memory
from jaxgrads.methods.sharded import basis_mesh
from jaxgrads.results.arrays import SAVE_ARRAYS_MAX_BYTES, save_arrays
from jaxgrads.results.files import CsvAppender, check_output, output_folder, write_error
from jaxgrads.results.locks import OutputLock, Replacement
from jaxgrads.results.schema import FIELDS, SAMPLE_FIELDS, samples_path
from jaxgrads.sweep.compiling import CompilePool
from jaxgrads.sweep.config import Sweep
from jaxgrads.sweep.context import References, RunContext, machine_probes
from jaxgrads.sweep.distributed import agree, is_lead
from jaxgrads.sweep.instructions import add_instructions
from jaxgrads.sweep.phases import Phases
from jaxgrads.sweep.plan import plan
from jaxgrads.sweep.progress import Progress
from jaxgrads.sweep.refloor import refloor
from jaxgrads.sweep.resume import prepare_resume
from jaxgrads.sweep.rows import blank_case_row, planned_row, timing_columns
from jaxgrads.validation import resolve_device

__all__ = ["References", "RunContext", "machine_probes", "run_case", "run_sweep", "save_arrays"]

XLA_ERRORS = ("XlaRuntimeError", "JaxRuntimeError")  # XLA's own failures (out of memory, ...)


def _host_inputs(case: Case, ctx: RunContext) -> dict:
    """The case's host inputs; what a user's input maker raises is a :class:`PluginError` naming it."""
    try:
        with ctx.phases("inputs"):
            return ctx.inputs(case)
    except Exception as exc:
        raise PluginError(f"{case.problem.name}: its input maker raised {one_line(exc)}") from exc


def _compile(case: Case, ctx: RunContext, host: dict) -> Kernel:
    """The case's kernel (in any thread); what a user's function or closed form raises on the way is a
    :class:`PluginError` naming it (XLA's own failures and bad input pass as they are)."""
    try:
        return compile_case(case, ctx.device, inputs=host)
    except Exception as exc:
        if isinstance(exc, JaxgradsError) or type(exc).__name__ in XLA_ERRORS:
            raise
        what = "closed form" if case.method.needs else "function"
        raise PluginError(f"{case.problem.name}: its {what} raised {one_line(exc)}") from exc


def _compiled(case: Case, ctx: RunContext, ahead: Future | None) -> Kernel:
    """The case's kernel: the one compiled ahead (:mod:`jaxgrads.sweep.compiling`), or compiled now."""
    host = _host_inputs(case, ctx) if ahead is None else None
    with ctx.phases("compile"):
        return _compile(case, ctx, host) if ahead is None else ahead.result()


def _message(case: Case, exc: Exception) -> str:
    """A failed row's message: what a plug-in raised, named; XLA's own failures as they are."""
    if isinstance(exc, PluginError):
        return str(exc)
    if TRACEBACK in str(exc):  # a user's callback raised inside a call (the kernel's or a reference's)
        return f"{case.problem.name}: its function raised {one_line(exc)} when run"
    return one_line(exc)


def run_case(
    case: Case,
    ctx: RunContext,
    timer: Callable[[Kernel], Timing] | None = None,
    ahead: Future | None = None,
    planned: tuple[dict, str | None] | None = None,
):
    """Measures one case. Returns its CSV row and its raw samples (seconds per call).

    ``timer`` times the compiled, warmed-up kernel (default: :func:`jaxgrads.measure.timing.time_callable`
    with the sweep's samples); the pytest-benchmark suite passes ``benchmark.pedantic`` here, so
    both harnesses time the same callable after the same preparation.

    In a run of several processes a sharded kernel's calls are kept in step
    (:mod:`jaxgrads.sweep.distributed`): the skip, the loop count and each sample are agreed, its
    Jacobian is gathered by all, and only the lead checks it.

    ``ahead``: the kernel compiled ahead in a pool of ``ctx.jobs`` workers (None: compiled here).
    ``planned``: the case's :func:`planned_row`, when the caller has it already.
    """
    if case.error:  # a plug-in whose shapes cannot be evaluated
        return blank_case_row(case, ctx) | {"status": "error", "message": case.error}, ()
    row, skip = planned or planned_row(case, ctx)
    row = dict(row)  # the planned row stays as planned
    if skip:
        return row | {"status": "skipped", "message": skip}, ()
    sweep, phases = ctx.sweep, ctx.phases
    row["compile_jobs"] = ctx.jobs if ahead is not None else 1
    try:
        kernel = _compiled(case, ctx, ahead)  # its chunk, its devices
        step = agree if kernel.mesh is not None else None  # in step with the other processes
        with phases("timing"):
            start = time.perf_counter()
            J = jax.block_until_ready(kernel())  # the warm-up call; its result is the one checked
            first_call = time.perf_counter() - start
            if step is not None:
                (first_call,) = step((first_call,))
            if first_call > sweep.max_call_s:
                msg = (f"one call took {first_call:.3g} s, over the --max-call-time limit of "
                       f"{sweep.max_call_s:g} s")  # fmt: skip
                return row | {"status": "skipped", "message": msg, "compile_s": kernel.compile_s}, ()
            if timer is None:
                timing = time_callable(kernel, samples=sweep.samples, min_sample_s=sweep.min_sample_s,
                                       max_time_s=sweep.max_time_s, warmup=False, agree=step)
            else:
                timing = timer(kernel)
        with phases("compile"):
            row |= cost_and_memory(kernel.executables)
        if is_lead():
            with phases("references"):
                ref = ctx.references.get(kernel, J)
            with phases("accuracy"):
                row |= accuracy(kernel, J, ref)
        elif kernel.mesh is not None:
            kernel.host_jacobian(J)  # the lead's gather is a collective: take part
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # out of memory, an XLA failure, a plug-in bug: the sweep goes on
        return row | {"status": "error", "message": _message(case, exc)}, ()
    if sweep.save_arrays is not None and kernel.jac_bytes <= SAVE_ARRAYS_MAX_BYTES and is_lead():
        with phases("writing"):
            save_arrays(Path(sweep.save_arrays) / f"{case.id}.npz", kernel.inputs, kernel.host_jacobian(J))
    del J
    return row | timing_columns(case, kernel, timing, ctx.ceilings[case.dtype], row), timing.samples


def _write_rows(todo: Sequence[Case], ctx: RunContext, rows_file, samples_file, progress, on_row, kept):
    """Measures each case of ``todo`` and appends its samples, then its row.

    A failed write (a full disk) cuts both files back to the last whole row and stops the sweep
    with one line; ``kept`` says what the user still has.
    """
    planned = {case.key: planned_row(case, ctx) for case in todo if not case.error}  # once per case
    pool = CompilePool(
        ctx.jobs,
        runs=lambda case: not case.error and planned[case.key][1] is None,
        prepare=lambda case: _host_inputs(case, ctx),
        compile=lambda case, host: _compile(case, ctx, host),
        waiting=lambda: ctx.phases("compile"),
    )
    try:
        for case, ahead in pool.batches(todo):
            progress.update(case.id)
            row, samples = run_case(case, ctx, ahead=ahead, planned=planned.get(case.key))
            del ahead  # the kernel and its executables go with its row
            mark = samples_file.size()
            try:
                with ctx.phases("writing"):
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
    finally:
        pool.close()


def run_sweep(
    sweep: Sweep,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    cases: Sequence[Case] | None = None,
    progress: Progress | None = None,
    on_row: Callable[[dict], None] | None = None,
    phases: Phases | None = None,
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
      phases: where the run's wall time goes (:mod:`jaxgrads.sweep.phases`), filled in as it runs.

    The machine is then probed again and the rows' floors rewritten from the better of the two
    probes (:mod:`jaxgrads.sweep.refloor`). With ``sweep.instructions``, the timed rows are then
    counted under callgrind
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
        ctx = RunContext.start(sweep, previous, todo, phases=phases)
        _write_all(todo, ctx, out, replacement, progress or Progress(len(todo)), on_row)
        if is_lead():  # the floors from the start's probes and the end's, the better of each
            refloor(out, ctx, {c.key for c in todo})
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
