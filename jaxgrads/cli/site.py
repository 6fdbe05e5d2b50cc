"""``jaxgrads site``: results CSVs (and a history) as static, self-contained HTML pages."""

from __future__ import annotations

from pathlib import Path

from jaxgrads.cli.common_args import add_output, add_overwrite
from jaxgrads.cli.parsing import with_examples

__all__ = ["add", "run"]

EPILOG = """Each page holds its charts (SVG), style and script: open site/index.html from disk, no network.

examples:
  jaxgrads site results/latest.csv results/scaling.csv -o site/
  jaxgrads site results/latest.csv --history results/history -o site/ --overwrite
  jaxgrads site results/latest.csv --releases results/releases -o site/ --overwrite
"""


def add(sub) -> None:
    p = with_examples(
        sub, "site", "static HTML site of results CSVs and their history (the [plot] extra)", EPILOG
    )
    p.add_argument(
        "csv", nargs="+", help="results CSVs from jaxgrads run, shown together (a case in several: the last)"
    )
    add_output(p, "DIR", "the site's folder (created)", required=True)
    p.add_argument(
        "--history", metavar="DIR", help="a history folder (jaxgrads history): kernel pages, steps"
    )
    p.add_argument(
        "--releases", metavar="DIR", help="a jaxgrads releases folder: a page of its steps across releases"
    )
    p.add_argument(
        "--repo", default=".", metavar="DIR", help="the git repository ordering the history (%(default)s)"
    )
    add_overwrite(p, "the site an earlier call wrote there")


def run(args) -> int:
    from jaxgrads.cli.report import read_all
    from jaxgrads.report.plots import require_matplotlib
    from jaxgrads.site.build import write_site

    require_matplotlib()
    df = read_all(args.csv)
    histories = None
    if args.history is not None:
        from jaxgrads.history.series import build
        from jaxgrads.history.store import History

        histories = build(History(args.history).table(), Path(args.repo))
    releases = None
    if args.releases is not None:
        from jaxgrads.site.release_pages import read_releases

        releases = read_releases(args.releases)
    pages = write_site(df, args.output, histories=histories, sources=list(args.csv), overwrite=args.overwrite,
                       releases=releases)  # fmt: skip
    kernels = sum(p.name.startswith("kernel-") for p in pages)
    print(f"{len(pages)} pages ({kernels} kernel histories) -> {Path(args.output) / 'index.html'}")
    return 0
