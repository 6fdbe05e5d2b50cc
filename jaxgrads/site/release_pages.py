"""The site's releases page: the kernels' instructions and time per call across jax releases (a
``jaxgrads releases`` folder's ``table.csv``) and the steps between adjacent configurations
(``steps.csv``), with the figure ``make releases`` puts in docs/releases.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jaxgrads.errors import JaxgradsError
from jaxgrads.site.html import chart, esc, page, table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FILE", "read_releases", "releases_figure", "releases_page"]

FILE = "releases.html"


def read_releases(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table, steps) of a ``jaxgrads releases`` folder; one line when it holds none."""
    import pandas as pd

    folder = Path(folder)
    if not (folder / "table.csv").is_file() or not (folder / "steps.csv").is_file():
        raise JaxgradsError(
            f"--releases {folder}: no table.csv and steps.csv (run jaxgrads releases -o {folder})"
        )
    found = pd.read_csv(folder / "steps.csv", keep_default_na=False)
    numbers = ("instr_ratio", "time_ratio", "instr_before", "instr_after", "time_before_s", "time_after_s")
    for column in numbers:
        found[column] = pd.to_numeric(found[column], errors="coerce")
    return pd.read_csv(folder / "table.csv"), found


def releases_figure(plt, t: pd.DataFrame):
    """Instructions and median time per call against the configuration: a grey line per kernel, the
    median over kernels in red; log scales."""
    configs = list(dict.fromkeys(t["config"]))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharex=True)
    for ax, column, label in ((axes[0], "instructions", "instructions per call (callgrind)"),
                              (axes[1], "time_median_s", "median time per call (s)")):  # fmt: skip
        wide = t.pivot_table(index="kernel", columns="config", values=column).reindex(columns=configs)
        for _, row in wide.iterrows():
            ax.plot(range(len(configs)), row.to_numpy(), color="0.75", lw=0.8)
        ax.plot(range(len(configs)), wide.median().to_numpy(), color="C3", lw=2.2, marker="o",
                label="median over kernels")  # fmt: skip
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.set_xticks(range(len(configs)), configs, rotation=60, ha="right", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def releases_page(plt, t: pd.DataFrame, found: pd.DataFrame) -> str:
    configs = list(dict.fromkeys(t["config"]))
    flagged = found[found["step"] != ""]
    parts = [
        f"<p>{t['kernel'].nunique()} kernels under {len(configs)} configurations "
        f"({esc(', '.join(configs))}); a step is a kernel whose instructions (compared across releases) "
        "or time the gate's A/B rule calls a regression or an improvement.</p>",
        chart(plt, releases_figure(plt, t), "releases", "instructions and time per call, oldest first"),
        f"<h2>Steps ({len(flagged)})</h2>",
    ]
    rows = []
    for r in flagged.to_dict("records"):
        cls = "regression" if r["step"] == "regression" else "faster"
        step = f'<span class="{cls}">{esc(r["step"])}</span>'
        rows.append(({}, [
            esc(r["before"]), esc(r["after"]), esc(r["kernel"]), step,
            (f"{r['instr_ratio']:.3f}×", r["instr_ratio"]), esc(r["instructions"]),
            (f"{r['time_ratio']:.3f}×", r["time_ratio"]), esc(r["timing"]),
        ]))  # fmt: skip
    parts.append(table(["from", "to", "kernel", "step", "instructions", "verdict", "time", "verdict"], rows))
    return page("jaxgrads: Jacobian cost across jax releases", "\n".join(parts))
