"""What the commands' parsers share: one-line errors, worked examples, the gate's rule options."""

from __future__ import annotations

import argparse

from jaxgrads.cli.common_args import add_threshold
from jaxgrads.errors import JaxgradsError

__all__ = ["Parser", "add_rule_options", "rule_from", "with_examples"]


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line: ``jaxgrads: error: ...`` and exit 2."""

    def error(self, message):
        raise JaxgradsError(message)


def with_examples(sub, name: str, help: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with worked examples, laid out as written."""
    return sub.add_parser(
        name, help=help, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def add_rule_options(p: argparse.ArgumentParser, rule) -> None:
    """The gate's decision rule (``jaxgrads.gate.Rule``; ``rule`` gives the defaults) and output options."""
    add_threshold(p, f"{rule.threshold:.0%}", "median slowdown that trips a kernel (%(default)s)")
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


def rule_from(args):
    """The :class:`jaxgrads.gate.Rule` the rule options ask for; a bad value is a one-line error."""
    from jaxgrads.gate import Rule, parse_fraction

    return Rule(
        threshold=parse_fraction("--threshold", args.threshold),
        alpha=parse_fraction("--alpha", args.alpha, below=1),
        max_cv=parse_fraction("--max-cv", args.max_cv),
        metric_tolerance=parse_fraction("--metric-tolerance", args.metric_tolerance),
        max_drift=parse_fraction("--max-drift", args.max_drift),
    )
