"""``jaxgrads run``: a sweep into a CSV; and the set-up the commands that forward to it share."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
from collections.abc import Sequence
from pathlib import Path

from jaxgrads.cli.common_args import add_function, add_output, add_overwrite, function_args
from jaxgrads.cli.parsing import Parser, with_examples
from jaxgrads.errors import JaxgradsError

__all__ = ["add", "configure_jax", "forwarded_sweep", "pin", "run", "summarize", "sweep_of"]

EPILOG = """examples:
  jaxgrads run                                  the default sweep, results/<host>-<backend>-<date>.csv
  jaxgrads run --quick                          a short sweep (under a minute on 2 cores)
  jaxgrads run --problems quadratic --wrt x --methods jacfwd jacrev analytic --sizes 256 1024
  jaxgrads run --problems matvec --sizes 4096x64 64x4096 --dtypes float32 float64
  jaxgrads run --problems-from bench/examples/user_problems.py --problems softplus_layer
  jaxgrads run --problems matvec --wrt A --methods jacrev jacrev_chunked torch --chunk-sizes 8 64 512
  jaxgrads run --output results/big.csv --resume    continue an interrupted sweep
  jaxgrads run --preset gate --instructions     also instructions per call, under valgrind's callgrind
  jaxgrads run --devices 4 --problems matvec --wrt A --methods jacrev_sharded analytic --sizes 256
                                                the sharded methods on 4 host devices
  jaxgrads run --processes 2 --methods jacrev_sharded --sizes 64
                                                2 processes joined by jax.distributed, one result file
  jaxgrads run --shard 2/4 -o results/part2.csv the 2nd of 4 machines' parts (jaxgrads report merges)
  srun -N 4 jaxgrads run --distributed ...      one process per host; JAX reads SLURM's variables
"""


def add(sub) -> None:
    _arguments(with_examples(sub, "run", "run a sweep and write a CSV", EPILOG))


RUN_ONLY = "this run's output (not forwarded by ab, baseline, history or releases)"


def run_parser() -> Parser:
    """``jaxgrads run``'s parser alone: what the forwarding commands check their arguments with."""
    p = Parser(prog="jaxgrads run")
    _arguments(p)
    return p


def _arguments(p) -> None:
    from jaxgrads.sweep.options import add_sweep_options

    add_sweep_options(p.add_argument)
    # what this run writes: run's own options, which the commands that forward sweep options refuse
    o = p.add_argument_group(RUN_ONLY)
    add_output(o, "CSV", "default results/<host>-<backend>-<date>.csv")
    o.add_argument("--report", metavar="MD", help="also write the markdown report here")
    o.add_argument("--resume", action="store_true", help="keep the output's rows, run the rest")
    add_overwrite(o)
    o.add_argument("--save-arrays", metavar="DIR", help="one .npz per row (Jacobians ≤ 16 MiB)")
    add_function(p)
    d = p.add_argument_group("across processes (jax.distributed; process 0 writes the results)")
    d.add_argument("--processes", type=int, metavar="N", help="start N processes on this machine, joined")
    d.add_argument("--distributed", action="store_true",
                   help="join a run whose launcher JAX detects (SLURM srun, Open MPI mpirun)")
    d.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address (default with "
                                                               "--processes: a free port on 127.0.0.1)")
    d.add_argument("--num-processes", type=int, metavar="N", help="with --coordinator: the run's processes")
    d.add_argument("--process-id", type=int, metavar="K", help="with --coordinator: this one's (0 ... N-1)")


def join(args) -> None:
    """Joins a ``jax.distributed`` run when the options ask for it (before JAX starts a backend)."""
    from jaxgrads.sweep.distributed import initialize, parse_address
    from jaxgrads.validation import positive_int

    given = [args.coordinator, args.num_processes, args.process_id]
    asked = args.distributed or any(v is not None for v in given)
    if getattr(args, "processes", None) is not None or not asked:  # --processes: the launcher's children join
        return
    if args.distributed and any(v is not None for v in given):
        raise JaxgradsError("--distributed finds the run's processes itself; drop --coordinator and the rest")
    if not args.distributed:
        if any(v is None for v in given):
            raise JaxgradsError("--coordinator, --num-processes and --process-id go together")
        parse_address(args.coordinator)
        count = positive_int("--num-processes", args.num_processes)
        if not 0 <= args.process_id < count:
            raise JaxgradsError(f"--process-id {args.process_id}: valid: 0-{count - 1}")
    initialize(args.coordinator, args.num_processes, args.process_id)


def set_devices(args) -> bool:
    """Makes ``--devices N`` host (CPU) devices before JAX starts; False when JAX has already
    started in this process with another count (the run then restarts itself in a child)."""
    import jax

    if getattr(args, "devices", None) is None:
        return True
    from jaxgrads.compat import set_host_devices
    from jaxgrads.validation import positive_int

    count = positive_int("--devices", args.devices)
    try:
        set_host_devices(count)
    except RuntimeError:  # a backend is up (jaxgrads called in-process): fine if it has the count
        return len(jax.local_devices(backend="cpu")) == count or jax.default_backend() != "cpu"
    return True


def configure_jax(args) -> None:
    import logging

    import jax

    # a user's jax.debug.callback raising is reported in its row; JAX's own log of it is a traceback
    logging.getLogger("jax._src.debugging").setLevel(logging.CRITICAL)
    if not args.no_x64:
        jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", args.matmul_precision)


def pin(args) -> None:
    """Pins the process before JAX starts, when ``--cpus`` or the preset asks for it."""
    from jaxgrads.measure.machine import cpus_used, pin_cpus
    from jaxgrads.sweep import PRESETS
    from jaxgrads.validation import positive_int

    cpus = args.cpus if args.cpus is not None else PRESETS["quick" if args.quick else args.preset].cpus
    if cpus is not None:
        cpus, available = positive_int("--cpus", cpus), cpus_used()
        if args.cpus is not None and cpus > available:
            raise JaxgradsError(
                f"--cpus {cpus}: this process may run on {available} CPUs; valid: 1-{available}"
            )
        pin_cpus(cpus)


def sweep_of(args):
    """The sweep the options ask for, and its cases: the preset, with each given option replacing
    its field; every name and dtype is checked here, before any file is touched."""
    from jaxgrads.problems.plugins import load_problems
    from jaxgrads.sweep import PRESETS, plan
    from jaxgrads.sweep.options import sweep_from

    load_problems(args.problems_from)
    if getattr(args, "function", None) is not None:
        _function_case(args)
    sweep = sweep_from(vars(args), PRESETS["quick" if args.quick else args.preset])
    if getattr(args, "save_arrays", None) is not None:
        sweep = dataclasses.replace(sweep, save_arrays=Path(args.save_arrays))
    if args.instructions:
        sweep = dataclasses.replace(sweep, instructions=True)
    return sweep, plan(sweep)


def _function_case(args) -> None:
    """``--function``: the function at its arguments registered as a problem, and the options set
    to run it alone at its own size (the methods given, or every one that applies)."""
    from jaxgrads.function import function_problem

    if args.args_from is None:
        raise JaxgradsError("--function needs --args-from MODULE:MAKE, a function returning its arguments")
    if args.processes is not None:
        raise JaxgradsError("--function runs in this process only; leave out --processes")
    if args.problems or args.sizes:
        raise JaxgradsError("--function sets the problem and size itself; leave out --problems and --sizes")
    from jaxgrads.function.plugin import export

    f, made, argnums = function_args(args)
    problem, size, _ = function_problem(f, made, argnums, batch_axis=args.batch_axis, has_aux=args.has_aux)
    export(args.function, args.args_from, args.argnums, args.batch_axis, args.has_aux)  # the children's
    args.problems, args.sizes = [problem.name], [f"{size.m}x{size.n}"]
    if size.batch:
        args.batch = [size.batch]
    if not args.dtypes:
        from jaxgrads.function.defaults import own_dtype

        args.dtypes = [own_dtype(made, argnums)]


def summarize(out: Path, report: str | None = None) -> None:
    from jaxgrads.report.markdown import markdown_report, status_counts, summary_table
    from jaxgrads.results.files import atomic_write_text
    from jaxgrads.results.schema import read_results

    df = read_results(out)
    if report:
        atomic_write_text(report, markdown_report(df))
    print(summary_table(df))
    print(f"\n{len(df)} rows ({status_counts(df)}) -> {out}" + (f"; report {report}" if report else ""))


def _default_output(device_spec: str) -> Path:
    from jaxgrads.validation import resolve_device

    backend = resolve_device(device_spec).platform
    return Path("results") / f"{socket.gethostname()}-{backend}-{dt.date.today().isoformat()}.csv"


def run(args) -> int:
    import subprocess
    import sys
    import time

    began = time.perf_counter()
    from jaxgrads.results.files import check_output
    from jaxgrads.sweep import run_sweep
    from jaxgrads.sweep.distributed import is_lead, launch
    from jaxgrads.sweep.phases import Phases
    from jaxgrads.validation import positive_int

    pin(args)
    several = args.processes is not None and positive_int("--processes", args.processes) > 1
    if several and args.instructions:
        raise JaxgradsError("--instructions counts one process under valgrind; leave out --processes")
    if args.resume and (several or args.distributed or args.coordinator is not None):
        raise JaxgradsError(
            "--resume: a run of several processes starts afresh (they must run the same cases); "
            "use --overwrite"
        )
    if not set_devices(args):
        from jaxgrads.sweep.distributed import stop_child

        child = subprocess.Popen([sys.executable, "-m", "jaxgrads", *args.argv])
        try:
            return child.wait()
        except BaseException:
            stop_child(child)
            raise
    join(args)
    configure_jax(args)
    sweep, cases = sweep_of(args)
    for flag, value in (("-o/--output", args.output), ("--report", args.report)):
        if value is not None and not value.strip():
            raise JaxgradsError(f"{flag}: the path is empty; give a file path")
    out = Path(args.output) if args.output is not None else _default_output(args.device)
    if args.output is None:
        out.parent.mkdir(parents=True, exist_ok=True)
    if args.report is not None:
        check_output(Path(args.report), resume=False, overwrite=True)
    if args.processes is not None and args.processes > 1:
        check_output(out, resume=args.resume, overwrite=args.overwrite)
        return launch(args.argv, args.processes, args.coordinator)
    phases = Phases(since=began)
    run_sweep(sweep, out, resume=args.resume, overwrite=args.overwrite, cases=cases, phases=phases)
    if is_lead():  # the other processes of a jax.distributed run wrote nothing the user asked for
        summarize(out, args.report)
        print(phases.line(), file=sys.stderr)
        if args.function is not None:
            from jaxgrads.function import recommend
            from jaxgrads.results.schema import read_results

            print(recommend(read_results(out)))
    return 0


def forwarded_sweep(command: str, run_args: list[str], *, plugins: bool, load: Sequence[str] = ()):
    """Checks the sweep options ``command`` forwards to ``jaxgrads run``, before any child starts.

    ``load``: plug-ins the children load (A/B's per-side ones), so their problem names resolve here.
    """
    from jaxgrads.problems.plugins import load_problems

    parser = run_parser()
    sweep_args = parser.parse_args(run_args)
    pin(sweep_args)  # the children inherit it (and pin themselves the same way)
    (group,) = [g for g in parser._action_groups if g.title == RUN_ONLY]
    for action in group._group_actions:
        if getattr(sweep_args, action.dest):
            flag = action.option_strings[0]
            raise JaxgradsError(f"{command} forwards sweep options only; {flag} is not one")
    if sweep_args.problems_from and not plugins:
        raise JaxgradsError(f"{command}: give plug-ins per side with --a-problems-from / --b-problems-from")
    configure_jax(sweep_args)
    load_problems(list(load))
    sweep_of(sweep_args)
    return sweep_args
