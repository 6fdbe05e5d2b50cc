"""README's result: per target, the fastest accurate autodiff Jacobian against its floor and against
the closed form (``jaxgrads.report.verdict``), as a table in README's ``overview`` block and as
docs/figures/verdict.png, from ``make bench``'s default sweep.

    .venv/bin/python bench/studies/overview.py [results/latest.csv] [--no-readme]

Every figure quoted comes from the CSV; the machine and the date are the run's own columns.
"""

from __future__ import annotations

import sys

from figures import ROOT, publish

from jaxgrads.report.figures import overview_figures
from jaxgrads.report.plots import require_matplotlib, save_figure
from jaxgrads.report.verdict import verdict_markdown
from jaxgrads.results.schema import read_results

FIGURES = ROOT / "docs" / "figures"


def main(argv: list[str]) -> int:
    paths = [a for a in argv if not a.startswith("--")] or [str(ROOT / "results" / "latest.csv")]
    df = read_results(paths[0], require_timed=True)
    plt = require_matplotlib()
    FIGURES.mkdir(parents=True, exist_ok=True)
    for name, fig in overview_figures(df):
        if name == "verdict":
            save_figure(fig, FIGURES, name, formats=("png",))
        plt.close(fig)
    first = df.iloc[0]
    text = "\n".join([
        f"`make bench`'s default sweep on {first['cpu_model']} ({first['backend']}, "
        f"{int(first['cpu_count'])} CPUs), jax {first['jax_version']}, {str(first['started_at'])[:10]}, "
        "written by `bench/studies/overview.py`:",
        "",
        "![The fastest accurate autodiff Jacobian per target, over its floor and over the closed form]"
        "(docs/figures/verdict.png)",
        "",
        verdict_markdown(df),
    ])  # fmt: skip
    publish("overview", text, readme="--no-readme" not in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
