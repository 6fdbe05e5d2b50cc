"""The ``jaxgrads`` command: list, run, report, baseline, gate, ab.

Exit codes: 0 ok, 1 a check failed, 2 bad input (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.util
import json
import math
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from jaxgrads.cli.interrupts import interrupt_handled, interrupts
from jaxgrads.errors import JaxgradsError

__all__ = ["main", "make_parser"]

RUN_EPILOG = """examples:
  jaxgrads run                                  the default sweep, results/<host>-<backend>-<date>.csv
  jaxgrads run --quick                          a short sweep (under a minute on 2 cores)
  jaxgrads run --problems quadratic --wrt x --methods jacfwd jacrev analytic --sizes 256 1024
  jaxgrads run --problems matvec --sizes 4096x64 64x4096 --dtypes float32 float64
  jaxgrads run --problems-from bench/user_problems.py --problems softplus_layer
  jaxgrads run --problems matvec --wrt A --methods jacrev jacrev_chunked torch --chunk-sizes 8 64 512
  jaxgrads run --output results/big.csv --resume    continue an interrupted sweep
"""


BASELINE_EPILOG = """examples:
  jaxgrads baseline                    the gate's sweep -> results/baselines/<fingerprint>.csv
  jaxgrads baseline --overwrite        re-record this machine's baseline (commit both CSVs)
"""

GATE_EPILOG = """Exit status: 0 pass, 1 regression (or inconclusive with --strict), 2 bad input.

examples:
  jaxgrads run --preset gate -o results/gate/current.csv --overwrite
  jaxgrads gate results/gate/current.csv                       against this machine's baseline
  jaxgrads gate new.csv --baseline old.csv --threshold 20% --markdown summary.md
"""

AB_EPILOG = """Sweep options after the A/B ones go to both sides' `jaxgrads run`.

examples:
  jaxgrads ab --a venv-jax-old/bin/python --b .venv/bin/python --preset gate
  jaxgrads ab --a .venv/bin/python --b .venv/bin/python \\
      --a-problems-from main/problems.py --b-problems-from pr/problems.py --problems mine
"""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line: ``jaxgrads: error: ...`` and exit 2."""

    def error(self, message):
        raise JaxgradsError(message)


MAX_SECONDS = 3600.0  # a sample or a first call longer than an hour is a typo, not a benchmark


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of seconds up to {MAX_SECONDS:g}, got {text!r}"
        )
    return value


def _memory(text: str) -> int:
    units = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "kib": 2**10, "mib": 2**20, "gib": 2**30}
    t = text.strip().lower()
    num = t.rstrip("kmgib")
    unit = t[len(num) :]
    try:
        value = float(num) * units[unit]
    except (ValueError, KeyError):
        value = math.nan
    if not (math.isfinite(value) and value >= 1):
        raise argparse.ArgumentTypeError(
            f"expected a memory size of at least 1 byte like 8GiB or 512MiB, got {text!r}"
        )
    return int(value)


def _add_sweep_options(p: argparse.ArgumentParser) -> None:
    """The options that choose a sweep: ``run``'s, forwarded to it by ``baseline`` and ``ab``."""
    from jaxgrads.validation import DTYPES

    p.add_argument(
        "--preset",
        default="default",
        choices=("default", "quick", "gate", "scaling", "crossover"),
        help="the base sweep (%(default)s); scaling: squares 32-512; crossover: matvec/x fwd vs rev",
    )
    p.add_argument("--quick", action="store_true", help="the same as --preset quick")
    p.add_argument("--problems", nargs="+", metavar="NAME", help="default: all")
    p.add_argument("--wrt", nargs="+", metavar="ARG", help="default: every derivative")
    p.add_argument(
        "--methods",
        nargs="+",
        metavar="NAME",
        help="default: every JAX method that applies; 'torch': the peer",
    )
    p.add_argument(
        "--chunk-sizes", nargs="+", metavar="C", help="basis vectors per step of the chunked methods (64)"
    )
    p.add_argument("--sizes", nargs="+", metavar="N|MxN", help="e.g. 1024 4096x64")
    p.add_argument("--batch", nargs="+", metavar="B", help="batch rows for the linear layer")
    p.add_argument("--dtypes", nargs="+", metavar="DTYPE", help=f"of {', '.join(DTYPES)}")
    p.add_argument("--device", default="auto", help="cpu, gpu, or auto (the GPU if JAX sees one)")
    p.add_argument("--samples", type=int, help="samples per row (default 7; quick 5; gate 9)")
    p.add_argument("--min-sample-time", type=_seconds, metavar="S", help="seconds per sample")
    p.add_argument("--memory-budget", type=_memory, metavar="SIZE", help="default: half of free")
    p.add_argument(
        "--max-steps", type=int, metavar="N", help="skip loop/map methods of more sequential steps (16384)"
    )
    p.add_argument(
        "--max-call-time",
        type=_seconds,
        metavar="S",
        help="skip a case whose first call takes longer (10; gate 0.1)",
    )
    p.add_argument("--problems-from", action="append", default=[], metavar="FILE_OR_MODULE")
    p.add_argument("--cpus", type=int, metavar="N", help="pin the run to N CPUs (gate preset: 1)")
    p.add_argument("--no-x64", action="store_true", help="leave JAX's x64 mode off (no float64)")
    p.add_argument(
        "--matmul-precision",
        default="highest",
        choices=("default", "high", "highest"),
        help="jax_default_matmul_precision (GPU float32: default is TF32, ~1e-3 relative)",
    )


def _add_rule_options(p: argparse.ArgumentParser, rule) -> None:
    """The gate's decision rule (jaxgrads.gate.Rule; ``rule`` gives the defaults) and output options."""
    p.add_argument(
        "--threshold",
        default=f"{rule.threshold:.0%}",
        help="median slowdown that trips a kernel (%(default)s)",
    )
    p.add_argument(
        "--alpha", default=f"{rule.alpha:g}", help="one-sided Mann-Whitney p that trips (%(default)s)"
    )
    p.add_argument(
        "--max-cv", default=f"{rule.max_cv:.0%}", help="noisier baseline samples: inconclusive (%(default)s)"
    )
    p.add_argument(
        "--metric-tolerance",
        default=f"{rule.metric_tolerance:.0%}",
        help="XLA flops/bytes change allowed (%(default)s)",
    )
    p.add_argument(
        "--max-drift",
        default=f"{rule.max_drift:.0%}",
        help="machine probes moved more since the baseline: timings inconclusive (%(default)s)",
    )
    p.add_argument("--no-confirm", action="store_true", help="no confirmation run: tripped stays suspect")
    p.add_argument("--strict", action="store_true", help="inconclusive kernels fail too")
    p.add_argument("--markdown", metavar="MD", help="also write the table as markdown (CI summaries)")


def _with_examples(sub, name: str, help: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with worked examples, laid out as written."""
    return sub.add_parser(
        name, help=help, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def make_parser() -> argparse.ArgumentParser:
    from jaxgrads.gate import AB_RULE, Rule

    parser = _Parser(prog="jaxgrads", description="Benchmark JAX Jacobians against closed forms.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p_list = sub.add_parser("list", help="problems, their wrt arguments and applicable methods")
    p_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p_list.add_argument("--problems-from", action="append", default=[], metavar="FILE_OR_MODULE")

    p_run = _with_examples(sub, "run", "run a sweep and write a CSV", RUN_EPILOG)
    _add_sweep_options(p_run)
    p_run.add_argument("--output", "-o", metavar="CSV", help="default results/<host>-<backend>-<date>.csv")
    p_run.add_argument("--report", metavar="MD", help="also write the markdown report here")
    p_run.add_argument("--resume", action="store_true", help="keep the output's rows, run the rest")
    p_run.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p_run.add_argument("--save-arrays", metavar="DIR", help="one .npz per row (Jacobians ≤ 16 MiB)")

    p_base = _with_examples(
        sub, "baseline", "record the gate's baseline: results/baselines/<fingerprint>.csv", BASELINE_EPILOG
    )
    p_base.add_argument("--dir", default="results/baselines", help="where baselines live (%(default)s)")
    p_base.add_argument("--overwrite", action="store_true", help="replace this machine's baseline")
    p_base.add_argument(
        "--rounds", type=int, default=3, help="fresh processes pooled into the baseline (%(default)s)"
    )

    p_gate = _with_examples(sub, "gate", "fail (exit 1) when CURRENT is slower than a baseline", GATE_EPILOG)
    p_gate.add_argument("current", help="a results CSV (with its .samples.csv beside it)")
    p_gate.add_argument(
        "--baseline", metavar="CSV", help="default: results/baselines/<CURRENT's fingerprint>.csv"
    )
    p_gate.add_argument("--baselines-dir", default="results/baselines", metavar="DIR")
    _add_rule_options(p_gate, Rule())
    p_gate.add_argument("--problems-from", action="append", default=[], metavar="FILE_OR_MODULE")

    p_ab = _with_examples(
        sub, "ab", "A/B: the same sweep with two interpreters in alternating fresh processes", AB_EPILOG
    )
    p_ab.add_argument("--a", required=True, metavar="PYTHON_A", help="the reference interpreter")
    p_ab.add_argument("--b", required=True, metavar="PYTHON_B", help="the interpreter under test")
    p_ab.add_argument("--a-problems-from", action="append", default=[], metavar="FILE_OR_MODULE")
    p_ab.add_argument("--b-problems-from", action="append", default=[], metavar="FILE_OR_MODULE")
    p_ab.add_argument("--rounds", type=int, default=3, help="A B pairs (%(default)s)")
    p_ab.add_argument("--out-dir", default="results/ab", metavar="DIR", help="round CSVs (%(default)s)")
    _add_rule_options(p_ab, AB_RULE)
    p_ab.add_argument("--overwrite", action="store_true", help="replace the round CSVs of an earlier A/B")

    p_report = sub.add_parser("report", help="markdown report of results CSVs (with findings and figures)")
    p_report.add_argument(
        "csv",
        nargs="+",
        help="results CSVs from jaxgrads run, reported together (a case in several: the last)",
    )
    p_report.add_argument("--output", "-o", metavar="MD", help="write here (default: print)")
    p_report.add_argument("--plots", metavar="DIR", help="draw the figures into DIR and embed them")

    p_plot = sub.add_parser("plot", help="figures of results CSVs: PNG and SVG (the [plot] extra)")
    p_plot.add_argument("csv", nargs="+", help="results CSVs from jaxgrads run, plotted together")
    p_plot.add_argument("--out", required=True, metavar="DIR", help="folder for the figures (created)")

    p_import = sub.add_parser(
        "import-pytest-benchmark", help="convert pytest-benchmark JSON (make bench-pytest) to a results CSV"
    )
    p_import.add_argument("json", help="a --benchmark-json file of bench/test_benchmarks.py")
    p_import.add_argument("--output", "-o", required=True, metavar="CSV", help="the results CSV to write")
    p_import.add_argument("--overwrite", action="store_true", help="replace an existing output")
    return parser


def load_problems(sources: list[str]) -> None:
    """Imports each plug-in file or dotted module; they register problems on import."""
    for source in sources:
        path = Path(source)
        try:
            if source.endswith(".py") or path.exists():
                if not path.is_file():
                    raise JaxgradsError(f"--problems-from {source}: no such file")
                spec = importlib.util.spec_from_file_location(f"jaxgrads_user_{path.stem}", path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(source)
        except JaxgradsError:
            raise
        except ModuleNotFoundError as exc:
            raise JaxgradsError(f"--problems-from {source}: {exc}") from None
        except Exception as exc:
            first = (str(exc).splitlines() or [""])[0]
            raise JaxgradsError(
                f"--problems-from {source}: import failed: {type(exc).__name__}: {first}"
            ) from None


def _list(args) -> int:
    from jaxgrads.methods.registry import applicable_methods
    from jaxgrads.problems import list_problems

    load_problems(args.problems_from)
    listing = [
        {
            "problem": p.name,
            "doc": p.doc,
            "wrt": {
                d.name: {"doc": d.doc, "methods": list(applicable_methods(p, d.name))} for d in p.derivatives
            },
        }
        for p in list_problems()
    ]
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for p in listing:
        print(f"{p['problem']}: {p['doc']}")
        for wrt, d in p["wrt"].items():
            print(f"  {wrt:<3} {d['doc']}")
            print(f"      methods: {', '.join(d['methods'])}")
    return 0


def _default_output(device_spec: str) -> Path:
    from jaxgrads.validation import resolve_device

    backend = resolve_device(device_spec).platform
    return Path("results") / f"{socket.gethostname()}-{backend}-{dt.date.today().isoformat()}.csv"


def _configure_jax(args) -> None:
    import jax

    if not args.no_x64:
        jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", args.matmul_precision)


def _sweep(args):
    """The sweep the options ask for: the preset, with each given option replacing its field."""
    from jaxgrads import sweep as runner
    from jaxgrads.validation import positive_int, resolve_dtype

    load_problems(args.problems_from)
    base = runner.PRESETS["quick" if args.quick else args.preset]
    changes = {"device": args.device}
    for name in ("problems", "wrt", "methods"):
        if getattr(args, name):
            changes[name] = tuple(getattr(args, name))
    if args.sizes:
        changes["sizes"] = runner.sizes_from(args.sizes)
    if args.batch:
        changes["batches"] = tuple(positive_int("--batch", b) for b in args.batch)
    if args.dtypes:
        changes["dtypes"] = tuple(resolve_dtype(d).name for d in args.dtypes)
    if args.samples is not None:
        changes["samples"] = positive_int("--samples", args.samples)
    if args.min_sample_time is not None:
        changes["min_sample_s"] = args.min_sample_time
    if args.chunk_sizes:
        changes["chunk_sizes"] = tuple(positive_int("chunk size", c) for c in args.chunk_sizes)
    if args.max_steps is not None:
        changes["max_steps"] = positive_int("--max-steps", args.max_steps)
    if args.max_call_time is not None:
        changes["max_call_s"] = args.max_call_time
    if args.memory_budget is not None:
        changes["memory_budget"] = args.memory_budget
    if getattr(args, "save_arrays", None) is not None:
        changes["save_arrays"] = Path(args.save_arrays)
    sweep = runner.Sweep(**{**base.__dict__, **changes})
    runner.plan(sweep)  # every name and dtype checked before any file is touched
    return sweep


def _summarize(out: Path, report: str | None = None) -> None:
    from jaxgrads.report.markdown import markdown_report, status_counts, summary_table
    from jaxgrads.results.files import atomic_write_text
    from jaxgrads.results.schema import read_results

    df = read_results(out)
    if report:
        atomic_write_text(report, markdown_report(df))
    print(summary_table(df))
    print(f"\n{len(df)} rows ({status_counts(df)}) -> {out}" + (f"; report {report}" if report else ""))


def _pin(args) -> None:
    """Pins the process before JAX starts, when ``--cpus`` or the preset asks for it."""
    from jaxgrads import sweep as runner
    from jaxgrads.measure.machine import cpus_used, pin_cpus
    from jaxgrads.validation import positive_int

    cpus = args.cpus if args.cpus is not None else runner.PRESETS["quick" if args.quick else args.preset].cpus
    if cpus is not None:
        cpus, available = positive_int("--cpus", cpus), cpus_used()
        if args.cpus is not None and cpus > available:
            raise JaxgradsError(
                f"--cpus {cpus}: this process may run on {available} CPUs; valid: 1-{available}"
            )
        pin_cpus(cpus)


def _run(args) -> int:
    from jaxgrads import sweep as runner
    from jaxgrads.results.files import check_output

    _pin(args)
    _configure_jax(args)
    sweep = _sweep(args)
    for flag, value in (("-o/--output", args.output), ("--report", args.report)):
        if value is not None and not value.strip():
            raise JaxgradsError(f"{flag}: the path is empty; give a file path")
    out = Path(args.output) if args.output is not None else _default_output(args.device)
    if args.output is None:
        out.parent.mkdir(parents=True, exist_ok=True)
    if args.report is not None:
        check_output(Path(args.report), resume=False, overwrite=True)
    runner.run_sweep(sweep, out, resume=args.resume, overwrite=args.overwrite)
    _summarize(out, args.report)
    return 0


def _machine_slug(device_spec: str) -> str:
    from jaxgrads.gate import FINGERPRINT, fingerprint_slug
    from jaxgrads.measure.machine import run_metadata
    from jaxgrads.validation import resolve_device

    meta = run_metadata(resolve_device(device_spec))
    return fingerprint_slug({k: str(meta[k]) for k in FINGERPRINT})


def _forwarded_sweep(command: str, run_args: list[str], *, plugins: bool, load: Sequence[str] = ()):
    """Checks the sweep options ``command`` forwards to ``jaxgrads run``, before any child starts.

    ``load``: plug-ins the children load (A/B's per-side ones), so their problem names resolve here.
    """
    sweep_args = make_parser().parse_args(["run", *run_args])
    _pin(sweep_args)  # the children inherit it (and pin themselves the same way)
    for flag in ("output", "report", "resume", "overwrite", "save_arrays"):
        if getattr(sweep_args, flag):
            raise JaxgradsError(
                f"{command} forwards sweep options only; --{flag.replace('_', '-')} is not one"
            )
    if sweep_args.problems_from and not plugins:
        raise JaxgradsError(f"{command}: give plug-ins per side with --a-problems-from / --b-problems-from")
    _configure_jax(sweep_args)
    load_problems(list(load))
    _sweep(sweep_args)
    return sweep_args


def _baseline(args, run_args: list[str]) -> int:
    import tempfile

    from jaxgrads.results.files import check_output
    from jaxgrads.sweep import processes as ab
    from jaxgrads.validation import positive_int

    rounds = positive_int("--rounds", args.rounds)
    run_args = ["--preset", "gate", *run_args]  # a --preset among them comes later and wins
    sweep_args = _forwarded_sweep("baseline", run_args, plugins=True)
    folder = Path(args.dir)
    if not folder.is_dir():
        folder.mkdir(parents=True)
    out = folder / f"{_machine_slug(sweep_args.device)}.csv"
    check_output(out, resume=False, overwrite=args.overwrite)
    side = ab.Side("baseline", sys.executable)
    with tempfile.TemporaryDirectory(prefix="jaxgrads-baseline-") as tmp:
        paths = []
        for r in range(1, rounds + 1):
            print(f"baseline round {r}/{rounds}", file=sys.stderr)
            paths.append(ab.run_child(side, run_args, Path(tmp) / f"round{r}.csv"))
        ab.pool_csvs(paths, out)
    _summarize(out)
    print(f"baseline for this machine: {out} (commit it with {out.stem}.samples.csv)")
    return 0


def _rule(args):
    from jaxgrads.gate import Rule, parse_fraction

    return Rule(
        threshold=parse_fraction("--threshold", args.threshold),
        alpha=parse_fraction("--alpha", args.alpha, below=1),
        max_cv=parse_fraction("--max-cv", args.max_cv),
        metric_tolerance=parse_fraction("--metric-tolerance", args.metric_tolerance),
        max_drift=parse_fraction("--max-drift", args.max_drift),
    )


def _publish(result, markdown: str | None) -> int:
    from jaxgrads.gate import markdown_report, text_report
    from jaxgrads.results.files import atomic_write_text

    print(text_report(result), end="")
    if markdown:
        atomic_write_text(markdown, markdown_report(result))
    return result.exit_code


def _check_markdown(path: str | None) -> None:
    if path:
        from jaxgrads.results.files import check_output

        check_output(Path(path), resume=False, overwrite=True)


def _gate(args) -> int:
    import tempfile

    from jaxgrads import gate
    from jaxgrads.sweep import processes as ab

    rule = _rule(args)
    _check_markdown(args.markdown)
    current = gate.load_run(args.current, role="current")
    baseline_path = Path(args.baseline) if args.baseline else _default_baseline(args, current)
    if baseline_path is None:
        return _publish_line(
            f"gate {'FAIL' if args.strict else 'PASS'}: nothing compared: no baseline of backend "
            f"{current.value('backend')!r} in {args.baselines_dir} (record one with `make baseline`)",
            args.markdown,
            1 if args.strict else 0,
        )
    baseline = gate.load_run(baseline_path, role="baseline")
    side = ab.Side("current", sys.executable, tuple(args.problems_from))

    def confirm(keys):
        print(f"confirming {len(keys)} tripped kernel(s) in a fresh process ...", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="jaxgrads-confirm-") as tmp:
            (fresh,) = ab.remeasure([side], current.rows.loc[keys], Path(tmp), "confirm")
        return {k: (None, fresh.samples[k]) for k in keys if k in fresh.samples}

    result = gate.compare(
        baseline, current, rule, confirm=None if args.no_confirm else confirm, strict=args.strict
    )
    return _publish(result, args.markdown)


def _default_baseline(args, current) -> Path | None:
    """This machine's baseline in ``--baselines-dir``, else the closest one there (said on one line)."""
    from jaxgrads import gate

    fp = gate.fingerprint(current)
    own = Path(args.baselines_dir) / f"{gate.fingerprint_slug(fp)}.csv"
    if own.is_file():
        return own
    closest, differs = gate.closest_baseline(args.baselines_dir, fp)
    if closest is not None:
        print(
            f"gate: no baseline for this machine ({own.name}); comparing with the closest, {closest} "
            f"(differs in {', '.join(differs)}): timings inconclusive, "
            + ("XLA metrics and failed kernels gated" if not set(differs) & set(gate.VERSIONS) else
               "failed kernels gated, XLA metrics not comparable")
        )  # fmt: skip
    return closest


def _publish_line(line: str, markdown: str | None, code: int) -> int:
    """A gate verdict that is one line (nothing to compare), on the terminal and in ``--markdown``."""
    from jaxgrads.results.files import atomic_write_text

    print(line)
    if markdown:
        atomic_write_text(markdown, f"## {line}\n")
    return code


def _ab(args, run_args: list[str]) -> int:
    from jaxgrads import gate
    from jaxgrads.results.files import output_folder
    from jaxgrads.sweep import processes as ab
    from jaxgrads.validation import positive_int

    rule = _rule(args)
    rounds = positive_int("--rounds", args.rounds)
    _check_markdown(args.markdown)
    _forwarded_sweep("ab", run_args, plugins=False, load=[*args.a_problems_from, *args.b_problems_from])
    out_dir = output_folder(args.out_dir, "--out-dir")
    existing = sorted(out_dir.glob("[ab][0-9]*.csv"))
    if existing and not args.overwrite:
        raise JaxgradsError(f"{out_dir} holds an earlier A/B ({existing[0].name}); pass --overwrite")
    sides = (
        ab.Side("A", args.a, tuple(args.a_problems_from)),
        ab.Side("B", args.b, tuple(args.b_problems_from)),
    )
    for side in sides:
        ab.check_side(side)
    rounds_of = {"A": [], "B": []}
    for r in range(1, rounds + 1):
        order = sides if r % 2 else sides[::-1]  # A B, B A, ...: neither side always goes first
        for side in order:
            print(f"round {r}/{rounds}: {side.name} ({side.python})", file=sys.stderr)
            rounds_of[side.name].append(ab.run_child(side, run_args, out_dir / f"{side.name.lower()}{r}.csv"))
    a, b = (ab.pooled_run(rounds_of[n], out_dir / f"{n.lower()}-pooled.csv", f"side {n}") for n in "AB")

    def confirm(keys):
        print(f"confirming {len(keys)} tripped kernel(s): one more A/B round", file=sys.stderr)
        fa, fb = ab.remeasure(sides, b.rows.loc[keys], out_dir, "confirm")
        return {k: (fa.samples[k], fb.samples[k]) for k in keys if k in fa.samples and k in fb.samples}

    result = gate.compare(
        a, b, rule, confirm=None if args.no_confirm else confirm, same_machine=True, strict=args.strict
    )
    return _publish(result, args.markdown)


def _read_all(paths: Sequence[str]):
    """The results CSVs as one table; a case measured in several keeps the row of the last file."""
    import pandas as pd

    from jaxgrads.results.schema import KEY, read_results

    df = pd.concat([read_results(p, require_timed=True) for p in paths], ignore_index=True)
    return df.drop_duplicates(list(KEY), keep="last").reset_index(drop=True)


def _draw(df, path: str, flag: str) -> dict:
    """The figures of ``df`` drawn into folder ``path``; a folder made here is removed if drawing fails."""
    import shutil

    from jaxgrads.report.plots import plot_all, require_matplotlib

    require_matplotlib()
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise JaxgradsError(f"{flag} {out} is a file; give a folder for the figures")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise JaxgradsError(f"folder {out.parent} does not exist")
    created = not out.exists()
    try:
        out.mkdir(exist_ok=True)
        return plot_all(df, out)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise


def _report(args) -> int:
    from jaxgrads.report.markdown import markdown_report
    from jaxgrads.results.files import atomic_write_text, check_output

    df = _read_all(args.csv)
    if args.output is not None:
        check_output(Path(args.output), resume=False, overwrite=True)
    figures = _draw(df, args.plots, "--plots") if args.plots is not None else None
    where = Path(args.output).parent if args.output else Path.cwd()
    text = markdown_report(df, figures=figures, relative_to=where)
    if args.output:
        atomic_write_text(args.output, text)
    else:
        print(text, end="")
    return 0


def _plot(args) -> int:
    df = _read_all(args.csv)
    made = _draw(df, args.out, "--out")
    for name, paths in made.items():
        print(f"{name}: {', '.join(str(p) for p in paths)}")
    print(f"{len(made)} figures -> {args.out}")
    return 0


def _import(args) -> int:
    from jaxgrads.results.files import check_output
    from jaxgrads.results.pytest_import import import_pytest_benchmark

    out = Path(args.output)
    check_output(out, resume=False, overwrite=args.overwrite)
    rows = import_pytest_benchmark(args.json, out)
    print(f"{rows} rows -> {out} (samples beside it)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parses ``argv`` and dispatches; returns the exit code."""
    with interrupts():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    try:
        parser = make_parser()
        args, extra = parser.parse_known_args(argv)
        if args.command in ("ab", "baseline"):  # the rest goes to `jaxgrads run`
            return {"ab": _ab, "baseline": _baseline}[args.command](args, extra)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        commands = {
            "list": _list, "run": _run, "report": _report, "gate": _gate, "plot": _plot,
            "import-pytest-benchmark": _import,
        }  # fmt: skip
        return commands[args.command](args)
    except JaxgradsError as exc:
        print(f"jaxgrads: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `jaxgrads list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a full disk, a read-only folder, a vanished file: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"jaxgrads: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        interrupt_handled()
        print("jaxgrads: interrupted; finished rows are kept (rerun with --resume)", file=sys.stderr)
        return 130
