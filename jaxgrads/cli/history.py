"""``jaxgrads history``: results over commits (``add``, ``measure``, ``show``, ``regressions``)."""

from __future__ import annotations

from pathlib import Path

from jaxgrads.cli.common_args import add_threshold
from jaxgrads.cli.parsing import Parser, with_examples
from jaxgrads.errors import JaxgradsError

__all__ = ["add", "run"]

EPILOG = """Exit status: 0 ok, 1 the newest commit starts a regression (regressions) or a commit failed
(measure), 2 bad input. Sweep options after `measure A..B` go to each commit's `jaxgrads run`
(default: --preset gate).

examples:
  jaxgrads history add results/latest.csv
  jaxgrads history measure HEAD~10..HEAD                 each commit in its own worktree and venv
  jaxgrads history measure HEAD~3..HEAD --env existing --preset gate --instructions
  jaxgrads history show --metric instructions
  jaxgrads history regressions --threshold 5%           exit 1 if the newest commit starts one
"""


def add(sub) -> None:
    from jaxgrads.history.measure import ENVS
    from jaxgrads.history.series import METRICS
    from jaxgrads.history.store import DEFAULT_FOLDER

    p = with_examples(
        sub, "history", "results over commits: add runs, measure a commit range, find steps", EPILOG
    )
    hsub = p.add_subparsers(dest="history_command", metavar="COMMAND", required=True, parser_class=Parser)
    common = Parser(add_help=False)
    common.add_argument("--history", default=str(DEFAULT_FOLDER), metavar="DIR", help="(%(default)s)")
    common.add_argument("--repo", default=".", metavar="DIR", help="the git repository (%(default)s)")
    a = hsub.add_parser("add", parents=[common], help="keep results CSVs (with their samples) in the history")
    a.add_argument("csv", nargs="+", help="results CSVs from jaxgrads run, one run each")
    m = hsub.add_parser(
        "measure", parents=[common], help="measure each commit of A..B in its own worktree (resumable)"
    )
    m.add_argument("range", metavar="A..B", help="a git range (B's ancestors not A's) or one commit")
    m.add_argument(
        "--env",
        choices=ENVS,
        default="new",
        help="new: a virtualenv per dependency list; existing: this interpreter (%(default)s)",
    )
    for name, helptext in (
        ("show", "every series: points, fingerprint, steps"),
        ("regressions", "steps up, newest first; exit 1 if the newest commit starts one"),
    ):
        s = hsub.add_parser(name, parents=[common], help=helptext)
        s.add_argument(
            "--metric", choices=tuple(METRICS), action="append", help="only these (default: all present)"
        )
        add_threshold(s, None, "a step up by more than this is a regression (default: the "
                      "metric's: 10%% for time, 1%% for instructions and XLA's counts)")  # fmt: skip
        s.add_argument("--confidence", default="0.99", help="least confidence of a step (%(default)s)")


def run(args, extra: list[str]) -> int:
    from jaxgrads.history.store import History

    history = History(args.history)
    if args.history_command != "measure" and extra:
        raise JaxgradsError(f"unrecognized arguments: {' '.join(extra)}")
    if args.history_command == "add":
        return _add(history, args.csv)
    if args.history_command == "measure":
        return _measure(history, args, extra)
    return _series(history, args)


def _add(history, paths) -> int:
    from jaxgrads.results.schema import read_results

    dirty = {}
    for p in paths:  # every file checked before any is kept
        dirty[p] = str(read_results(p, require_timed=True)["git_commit"].iloc[0]).endswith("+dirty")
    for p in paths:
        stored, new = history.add(p)
        note = " (measured in a modified checkout: filed under its commit)" if dirty[p] else ""
        print(f"{p}: {'added as' if new else 'already in the history:'} {stored}{note}")
    return 0


def _measure(history, args, sweep: list[str]) -> int:
    from jaxgrads.cli.run import forwarded_sweep
    from jaxgrads.history.measure import DEFAULT_SWEEP, commit_range, measure_range

    commit_range(args.repo, args.range)  # a range that does not exist: one line before anything else
    sweep = sweep or list(DEFAULT_SWEEP)
    forwarded_sweep("history measure", sweep, plugins=True)
    done, skipped, failed = measure_range(args.repo, args.range, history, env=args.env, sweep=sweep)
    print(f"{len(done)} measured, {len(skipped)} already measured, {len(failed)} failed -> {history.folder}")
    for commit, why in failed:
        print(f"  failed: {commit[:12]}: {why}")
    return 1 if failed else 0


def _series(history, args) -> int:
    import pandas as pd

    from jaxgrads.gate import parse_fraction
    from jaxgrads.history.series import build, family_level, regression_table

    threshold = parse_fraction("--threshold", args.threshold) if args.threshold is not None else None
    confidence = parse_fraction("--confidence", args.confidence, below=1)
    h = build(history.table(), Path(args.repo), args.metric)
    if not h.series:
        wanted = ", ".join(args.metric or ["any metric"])
        raise JaxgradsError(f"history {history.folder}: no timed rows with {wanted}")
    floor = sum(s.floor for s in h.series)
    print(
        f"{len(h.commits)} commits, {len(h.series)} series ({floor} at the dispatch floor: never a "
        f"regression, as in the gate), {len(h.fingerprints)} fingerprint(s); newest commit {h.newest[:12]}"
    )
    for note in h.notes:
        print(f"note: {note}")
    if args.history_command == "show":
        rows = [
            {
                "kernel": s.kernel,
                "metric": s.metric.column,
                "fingerprint": s.fingerprint,
                "points": len(s.points),
                "floor": "floor" if s.floor else "",
                "first": s.points["commit"].iloc[0][:12],
                "last": s.points["commit"].iloc[-1][:12],
                "steps": "; ".join(
                    f"{s.commit_at(t)[:12]} ×{t.ratio:.3g} ({t.confidence:.2f})" for t in s.steps
                ),
            }
            for s in h.series
        ]
        print(pd.DataFrame(rows).to_string(index=False))
        return 0
    regs = regression_table(h, threshold=threshold, confidence=confidence)
    limit = f"{threshold:.0%}" if threshold is not None else "the metric's threshold"
    print(
        f"a regression: a step up by more than {limit} with confidence >= {family_level(h, confidence):.6f} "
        f"({confidence:g} family-wise over the {len(h.series) - floor} series not at the floor)"
    )
    if regs.empty:
        print("no regressions: no step up beyond the threshold with that confidence")
        return 0
    shown = regs.assign(
        commit=regs["commit"].str[:12],
        ratio=regs["ratio"].map("{:.3g}x".format),
        confidence=regs["confidence"].map("{:.3f}".format),
        before=regs["before"].map("{:.4g}".format),
        after=regs["after"].map("{:.4g}".format),
    )
    print(shown.to_string(index=False))
    newest = regs[regs["newest"]]
    if len(newest):
        print(f"{len(newest)} regression(s) start at the newest commit {h.newest[:12]}")
        return 1
    return 0
