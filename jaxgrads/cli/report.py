"""``jaxgrads report`` and ``jaxgrads plot``: markdown and figures of one or more results CSVs."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from jaxgrads.cli.common_args import add_output, require_output
from jaxgrads.errors import JaxgradsError

__all__ = ["add", "plot", "read_all", "report"]


def add(sub) -> None:
    p = sub.add_parser("report", help="markdown report of results CSVs (with findings and figures)")
    p.add_argument(
        "csv",
        nargs="+",
        help="results CSVs from jaxgrads run, reported together (a case in several: the last)",
    )
    add_output(p, "MD", "write here (default: print)")
    p.add_argument("--plots", metavar="DIR", help="draw the figures into DIR and embed them")
    p = sub.add_parser("plot", help="figures of results CSVs: PNG and SVG (the [plot] extra)")
    p.add_argument("csv", nargs="+", help="results CSVs from jaxgrads run, plotted together")
    add_output(p, "DIR", "folder for the figures (created)", required=True, replaces=("--out",))


def read_all(paths: Sequence[str]):
    """The results CSVs as one table; a case measured in several keeps the row of the last file (a
    case on a different number of devices or processes is another measurement: both are kept)."""
    import pandas as pd

    from jaxgrads.results.schema import MERGE_KEY, read_results

    df = pd.concat([read_results(p, require_timed=True) for p in paths], ignore_index=True)
    return df.drop_duplicates(list(MERGE_KEY), keep="last").reset_index(drop=True)


def _draw(df, path: str, flag: str) -> dict:
    """The figures of ``df`` drawn into folder ``path``; a folder made here is removed if drawing fails."""
    from jaxgrads.report.figures import plot_all
    from jaxgrads.report.plots import require_matplotlib

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


def report(args) -> int:
    from jaxgrads.report.markdown import markdown_report
    from jaxgrads.results.files import atomic_write_text, check_output

    df = read_all(args.csv)
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


def plot(args) -> int:
    df = read_all(args.csv)
    out = require_output(args)
    made = _draw(df, out, "--output")
    for name, paths in made.items():
        print(f"{name}: {', '.join(str(p) for p in paths)}")
    print(f"{len(made)} figures -> {out}")
    return 0
