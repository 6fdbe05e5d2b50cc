"""The ``jaxgrads`` command: list, run, report.

Exit codes: 0 ok, 1 a check failed, 2 bad input (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.util
import json
import os
import socket
import sys
from pathlib import Path

from jaxgrads.validation import DTYPES, JaxgradsError, positive_int

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


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line: ``jaxgrads: error: ...`` and exit 2."""

    def error(self, message):
        raise JaxgradsError(message)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _memory(text: str) -> int:
    units = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "kib": 2**10, "mib": 2**20, "gib": 2**30}
    t = text.strip().lower()
    num = t.rstrip("kmgib")
    unit = t[len(num) :]
    try:
        value = float(num) * units[unit]
    except (ValueError, KeyError):
        value = -1
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a memory size like 8GiB or 512MiB, got {text!r}")
    return int(value)


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jaxgrads", description="Benchmark JAX Jacobians against closed forms.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p_list = sub.add_parser("list", help="problems, their wrt arguments and applicable methods")
    p_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p_list.add_argument("--problems-from", action="append", default=[], metavar="FILE_OR_MODULE")

    p_run = sub.add_parser(
        "run",
        help="run a sweep and write a CSV",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_run.add_argument("--problems", nargs="+", metavar="NAME", help="default: all")
    p_run.add_argument("--wrt", nargs="+", metavar="ARG", help="default: every derivative")
    p_run.add_argument(
        "--methods",
        nargs="+",
        metavar="NAME",
        help="default: every JAX method that applies; 'torch': the peer",
    )
    p_run.add_argument(
        "--chunk-sizes", nargs="+", metavar="C", help="basis vectors per step of the chunked methods (64)"
    )
    p_run.add_argument("--sizes", nargs="+", metavar="N|MxN", help="e.g. 1024 4096x64")
    p_run.add_argument("--batch", nargs="+", metavar="B", help="batch rows for the linear layer")
    p_run.add_argument("--dtypes", nargs="+", metavar="DTYPE", help=f"of {', '.join(DTYPES)}")
    p_run.add_argument("--device", default="auto", help="cpu, gpu, or auto (the GPU if JAX sees one)")
    p_run.add_argument("--samples", type=int, help="samples per row (default 7; quick 5)")
    p_run.add_argument("--min-sample-time", type=_positive_float, metavar="S", help="seconds per sample")
    p_run.add_argument("--memory-budget", type=_memory, metavar="SIZE", help="default: half of free")
    p_run.add_argument(
        "--max-steps", type=int, metavar="N", help="skip loop/map methods of more sequential steps (16384)"
    )
    p_run.add_argument(
        "--max-call-time",
        type=_positive_float,
        metavar="S",
        help="skip a case whose first call takes longer (10)",
    )
    p_run.add_argument("--output", "-o", metavar="CSV", help="default results/<host>-<backend>-<date>.csv")
    p_run.add_argument("--report", metavar="MD", help="also write the markdown report here")
    p_run.add_argument("--resume", action="store_true", help="keep the output's rows, run the rest")
    p_run.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p_run.add_argument("--quick", action="store_true", help="small sizes, fewer and shorter samples")
    p_run.add_argument("--save-arrays", metavar="DIR", help="one .npz per row (Jacobians ≤ 16 MiB)")
    p_run.add_argument("--problems-from", action="append", default=[], metavar="FILE_OR_MODULE")
    p_run.add_argument("--no-x64", action="store_true", help="leave JAX's x64 mode off (no float64)")
    p_run.add_argument(
        "--matmul-precision",
        default="highest",
        choices=("default", "high", "highest"),
        help="jax_default_matmul_precision (GPU float32: default is TF32, ~1e-3 relative)",
    )

    p_report = sub.add_parser("report", help="markdown report of a results CSV")
    p_report.add_argument("csv", help="a results CSV from jaxgrads run")
    p_report.add_argument("--output", "-o", metavar="MD", help="write here (default: print)")
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
    from jaxgrads.methods import applicable_methods
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


def _run(args) -> int:
    import jax

    if not args.no_x64:
        jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", args.matmul_precision)

    from jaxgrads import runner
    from jaxgrads.report import markdown_report, summary_table
    from jaxgrads.schema import atomic_write_text, read_results

    load_problems(args.problems_from)
    base = runner.QUICK_SWEEP if args.quick else runner.DEFAULT_SWEEP
    changes = {"device": args.device}
    for name in ("problems", "wrt", "methods"):
        if getattr(args, name):
            changes[name] = tuple(getattr(args, name))
    if args.sizes:
        changes["sizes"] = runner.sizes_from(args.sizes)
    if args.batch:
        changes["batches"] = tuple(positive_int("--batch", b) for b in args.batch)
    if args.dtypes:
        from jaxgrads.validation import resolve_dtype

        changes["dtypes"] = tuple(resolve_dtype(d).name for d in args.dtypes)
    if args.samples is not None:
        changes["samples"] = positive_int("--samples", args.samples)
    if args.min_sample_time:
        changes["min_sample_s"] = args.min_sample_time
    if args.chunk_sizes:
        changes["chunk_sizes"] = tuple(positive_int("chunk size", c) for c in args.chunk_sizes)
    if args.max_steps is not None:
        changes["max_steps"] = positive_int("--max-steps", args.max_steps)
    if args.max_call_time:
        changes["max_call_s"] = args.max_call_time
    if args.memory_budget:
        changes["memory_budget"] = args.memory_budget
    if args.save_arrays:
        changes["save_arrays"] = Path(args.save_arrays)
    sweep = runner.Sweep(**{**base.__dict__, **changes})
    runner.plan(sweep)  # every name and dtype checked before any file is touched
    out = Path(args.output) if args.output else _default_output(args.device)
    if args.output is None:
        out.parent.mkdir(parents=True, exist_ok=True)
    if args.report:
        runner.check_output(Path(args.report), resume=False, overwrite=True)
    runner.run_sweep(sweep, out, resume=args.resume, overwrite=args.overwrite)
    df = read_results(out)
    if args.report:
        atomic_write_text(args.report, markdown_report(df))
    print(summary_table(df))
    counts = df["status"].value_counts().to_dict()
    print(
        f"\n{len(df)} rows ({', '.join(f'{v} {k}' for k, v in counts.items())}) -> {out}"
        + (f"; report {args.report}" if args.report else "")
    )
    return 0


def _report(args) -> int:
    from jaxgrads.report import markdown_report
    from jaxgrads.schema import atomic_write_text, read_results

    df = read_results(args.csv, require_timed=True)
    text = markdown_report(df)
    if args.output:
        from jaxgrads.runner import check_output

        check_output(Path(args.output), resume=False, overwrite=True)
        atomic_write_text(args.output, text)
    else:
        print(text, end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parses ``argv`` and dispatches; returns the exit code."""
    try:
        args = make_parser().parse_args(argv)
        return {"list": _list, "run": _run, "report": _report}[args.command](args)
    except JaxgradsError as exc:
        print(f"jaxgrads: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `jaxgrads list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("jaxgrads: interrupted; finished rows are kept (rerun with --resume)", file=sys.stderr)
        return 130
