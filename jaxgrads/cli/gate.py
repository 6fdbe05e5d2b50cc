"""``jaxgrads gate``: fail (exit 1) when a run is slower than a baseline; the rule is in ``jaxgrads.gate``."""

from __future__ import annotations

import sys
from pathlib import Path

from jaxgrads.cli.common_args import add_baselines_dir, add_problems_from
from jaxgrads.cli.parsing import add_rule_options, rule_from, with_examples

__all__ = ["add", "check_markdown", "publish", "run"]

EPILOG = """Exit status: 0 pass, 1 regression (or inconclusive with --strict), 2 bad input.

examples:
  jaxgrads run --preset gate -o results/gate/current.csv --overwrite
  jaxgrads gate results/gate/current.csv                       against this machine's baseline
  jaxgrads gate new.csv --baseline old.csv --threshold 20% --markdown summary.md
"""


def add(sub) -> None:
    from jaxgrads.gate import Rule

    p = with_examples(sub, "gate", "fail (exit 1) when CURRENT is slower than a baseline", EPILOG)
    p.add_argument("current", help="a results CSV (with its .samples.csv beside it)")
    p.add_argument("--baseline", metavar="CSV", help="default: results/baselines/<CURRENT's fingerprint>.csv")
    add_baselines_dir(p, "--baselines-dir")
    add_rule_options(p, Rule())
    add_problems_from(p)


def check_markdown(path: str | None) -> None:
    if path:
        from jaxgrads.results.files import check_output

        check_output(Path(path), resume=False, overwrite=True)


def publish(result, markdown: str | None) -> int:
    """The verdicts on the terminal and in ``--markdown``; returns the exit code."""
    from jaxgrads.gate import markdown_report, text_report
    from jaxgrads.results.files import atomic_write_text

    print(text_report(result), end="")
    if markdown:
        atomic_write_text(markdown, markdown_report(result))
    return result.exit_code


def _publish_line(line: str, markdown: str | None, code: int) -> int:
    """A gate verdict that is one line (nothing to compare), on the terminal and in ``--markdown``."""
    from jaxgrads.results.files import atomic_write_text

    print(line)
    if markdown:
        atomic_write_text(markdown, f"## {line}\n")
    return code


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
            + ("XLA metrics, instruction counts and failed kernels gated"
               if not set(differs) & set(gate.VERSIONS) else
               "failed kernels gated, XLA metrics and instruction counts not comparable")
        )  # fmt: skip
    return closest


def run(args) -> int:
    from jaxgrads import gate
    from jaxgrads.sweep.processes import Side, fresh_confirm

    rule = rule_from(args)
    check_markdown(args.markdown)
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
    confirm = fresh_confirm(Side("current", sys.executable, tuple(args.problems_from)), current)
    result = gate.compare(
        baseline, current, rule, confirm=None if args.no_confirm else confirm, strict=args.strict
    )
    return publish(result, args.markdown)
