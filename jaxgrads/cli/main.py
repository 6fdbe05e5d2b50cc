"""The ``jaxgrads`` command: one module per subcommand, each with ``add(sub)`` and ``run(args)``.

Exit codes: 0 ok, 1 a check failed, 2 bad input (one line on stderr, no traceback), 130 Ctrl-C,
143 SIGTERM (stopped as Ctrl-C stops: finished rows kept).
Nothing heavy is imported before :func:`main` runs, so even a Ctrl-C in the first second or a bad
flag gets its one line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys

from jaxgrads.cli import ab, advise, baseline, convert, gate, history, listing, releases, report, site
from jaxgrads.cli import run as run_command
from jaxgrads.cli.interrupts import interrupt_handled, interrupts, last_signal
from jaxgrads.cli.parsing import Parser
from jaxgrads.errors import JaxgradsError

__all__ = ["entry", "main", "make_parser"]

# each command: its module's run(args); ab, baseline, history and releases also get the sweep options
# they forward
COMMANDS = {
    "list": listing.run, "run": run_command.run, "advise": advise.run, "report": report.report,
    "plot": report.plot,
    "gate": gate.run, "import-pytest-benchmark": convert.run, "site": site.run,
}  # fmt: skip
INTERRUPTED = (128 + signal.SIGINT, 128 + signal.SIGTERM)  # 130, 143
FORWARDING = {"ab": ab.run, "baseline": baseline.run, "history": history.run, "releases": releases.run}


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="jaxgrads", description="Benchmark JAX Jacobians against closed forms.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    modules = (listing, run_command, advise, baseline, gate, ab, releases, report, convert, history, site)
    for module in modules:
        module.add(sub)
    return parser


def entry() -> None:
    """The process entry point (``jaxgrads`` and ``python -m jaxgrads``): :func:`main`, then exit.

    An interrupted run leaves at once (``os._exit(130)``, streams flushed, files already synced and
    closed): interpreter shutdown, with JAX's exit hooks and Python's default SIGINT handling back in
    force, is where a late second interrupt would otherwise end the process by the signal itself.
    """
    code = main()
    if code in INTERRUPTED:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    """Parses ``argv`` and dispatches; returns the exit code."""
    with interrupts():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    try:
        parser = make_parser()
        args, extra = parser.parse_known_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # a command that restarts itself
        if args.command in FORWARDING:  # the rest goes to `jaxgrads run`
            return FORWARDING[args.command](args, extra)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return COMMANDS[args.command](args)
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
        sig = last_signal()
        how = "interrupted" if sig == signal.SIGINT else f"stopped by {signal.Signals(sig).name}"
        print(f"jaxgrads: {how}; finished rows are kept (rerun with --resume)", file=sys.stderr)
        return 128 + sig
