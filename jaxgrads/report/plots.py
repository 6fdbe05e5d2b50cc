r"""Figures from a results table (matplotlib, the ``[plot]`` extra): PNG and SVG of each. This module
draws a target's figures and the site's; :mod:`jaxgrads.report.figures` the whole table's (``floor``,
``crossover``, ``devices``) and writes them all.

- ``time-<problem>-<wrt>``: median time vs Jacobian size, log-log, one line per method, each method
  its own colour and marker in every figure (:func:`method_style`); the closed form drawn black and
  dashed, the floor as a gray line over a shaded region no kernel may enter.
- ``speedup-<problem>-<wrt>``: each method's time over ``analytic``'s, vs size (above 1: slower than
  the closed form).
- ``floor``: every kernel's time against its compulsory traffic, above its floor
  (:mod:`jaxgrads.measure.floor`), which is marked by the term that bounds it (dispatch, a cache
  level, memory, first touch, compute).
- ``crossover``: for ``matvec`` w.r.t. x at one fixed $m \cdot n$, $t_\text{jacfwd} / t_\text{jacrev}$
  against the aspect ratio $m/n$. The cost model (n JVPs against m VJPs of the same cost) predicts
  $n/m$, and the crossover at $m = n$; both are drawn with the measured one.
- ``roofline-<problem>-<wrt>`` (the site's, per target): each kernel's achieved flop rate against its
  arithmetic intensity (XLA's flops over bytes accessed), under the run's two ceilings: the matmul
  rate and memory bandwidth × intensity.
- ``history-<kernel>`` (the site's): one kernel's metrics over commits, a line per machine
  fingerprint, each step marked at its commit with its ratio and confidence.
- ``devices``: the sharded methods against the device count: time (strong scaling: one case; weak
  scaling: each device's share fixed, dashed) and each device's peak memory (strong), with the ideal
  1/D drawn for strong scaling (:mod:`jaxgrads.report.devices`).

Sizes are the Jacobian's element count, so problems with one and two dimensions share an axis.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from jaxgrads.errors import JaxgradsError
from jaxgrads.report.roles import CLOSED_FORM, TEXTBOOK
from jaxgrads.results.labels import method_label
from jaxgrads.results.schema import timed_rows

__all__ = [
    "FLOOR_MARKERS",
    "history_figure",
    "legend",
    "method_style",
    "require_matplotlib",
    "roofline_figure",
    "save_figure",
    "target_figures",
    "timed_for_plots",
]

FORMATS = ("png", "svg")
FLOOR_MARKERS = {"dispatch": "_", "L1": "1", "L2": "2", "L3": "3", "memory": "v", "first-touch": "^",
                 "compute": "s"}  # fmt: skip


def require_matplotlib():
    """matplotlib's pyplot on the headless Agg backend, or a one-line error naming the extra."""
    try:
        import matplotlib
    except ImportError:
        raise JaxgradsError("plots need matplotlib: pip install 'jaxgrads[plot]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def timed_for_plots(df: pd.DataFrame) -> pd.DataFrame:
    """The timed rows with the plots' ``label`` (method and chunk) and ``elements`` (Jacobian size)."""
    t = timed_rows(df).copy()
    t["label"] = [method_label(r) for r in t.to_dict("records")]
    t["elements"] = [_elements(s) for s in t["jac_shape"].astype(str)]
    return t


def _elements(shape: str) -> int:
    return math.prod(int(d) for d in shape.split("x") if d) if shape else 1


def tight_bbox(fig, pad_inches: float = 0.1):
    """The box (inches) around everything ``fig`` draws, padded as ``bbox_inches="tight"`` pads it.

    Measured once with the figure's raster renderer and passed to each ``savefig``: ``"tight"`` makes
    every ``savefig`` draw the figure twice (once to measure, once to write), so a figure written
    as PNG and SVG was drawn four times and is now drawn three (the site's SVG charts two, counting
    the measurement). The box can differ from ``"tight"``'s by a pixel or two of padding.
    """
    return fig.get_tightbbox(fig.canvas.get_renderer()).padded(pad_inches)


def save_figure(fig, out: Path, name: str, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Writes ``fig`` as ``out/name.<format>`` for each format, each by rename (no partial file)."""
    paths, bbox = [], tight_bbox(fig)
    for fmt in formats:
        path = out / f"{name}.{fmt}"
        tmp = path.with_name(f".{path.name}.tmp.{fmt}")
        fig.savefig(tmp, format=fmt, dpi=110, bbox_inches=bbox)
        tmp.replace(path)
        paths.append(path)
    return paths


# every method keeps one colour and marker in every figure, and no two methods share both: the
# registry's order, ten colours, then the next marker
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
          "tab:olive", "tab:cyan", "#4b0082")  # fmt: skip
MARKERS = ("o", "^", "v", "D", "P", "X", "<", ">")


def method_style(label: str) -> dict:
    """The line style of a method's series (a chunked one's label: its method's): the closed form
    black and dashed, the textbook form gray and dotted, every other method its own colour and marker."""
    if label == CLOSED_FORM:
        return dict(color="black", linestyle="--", linewidth=2.2, marker="s", zorder=5)
    if label == TEXTBOOK:
        return dict(color="dimgray", linestyle=":", linewidth=2.0, marker="s", zorder=5)
    from jaxgrads.methods import METHODS

    names = [n for n in METHODS if n not in (CLOSED_FORM, TEXTBOOK)]
    name = label.split("·", 1)[0]
    i = names.index(name) if name in names else len(names) + sum(map(ord, name))
    chunked = "·" in label
    return dict(color=COLORS[i % len(COLORS)], marker=MARKERS[(i // len(COLORS)) % len(MARKERS)],
                linewidth=1.3, markersize=5, linestyle="-." if chunked else "-")  # fmt: skip


def _floor_line(ax, g: pd.DataFrame) -> None:
    """The case's floor (:mod:`jaxgrads.measure.floor`) against size: no kernel may be below it."""
    if "floor_s" not in g.columns:
        return
    if "output_format" in g.columns:  # a sparse output writes its nonzeros only: a floor of its own
        g = g[g["output_format"].astype(str).isin(("dense", "", "nan"))]
    floor = pd.to_numeric(g["floor_s"], errors="coerce").groupby(g["elements"]).median().dropna().sort_index()
    floor = floor[floor > 0]
    if len(floor):
        ax.fill_between(floor.index, floor.values, floor.values.min() / 2, color="0.88", zorder=0)
        ax.plot(floor.index, floor.values, color="0.35", linewidth=1.0, label="floor, dense output")


def _family(g: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows of one shape family (one aspect ratio m/n, one batch) with the most sizes.

    A line through 512x16 and 16x512 would mix shapes; square shapes win ties.
    """
    aspect = np.where(g["m"].fillna(0) > 0, g["m"] / g["n"], 1.0)
    g = g.assign(aspect=aspect, batch0=g["batch"].fillna(0))
    counts = g.groupby(["aspect", "batch0"])["elements"].nunique()
    best = max(counts.index, key=lambda k: (counts[k], k[0] == 1.0, k[1]))
    sel = g[(g["aspect"] == best[0]) & (g["batch0"] == best[1])]
    shape = "square" if best[0] == 1.0 else f"m/n = {best[0]:.3g}"
    return sel, shape + (f", batch {int(best[1])}" if best[1] else "")


def legend(ax) -> None:
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def target_figures(plt, timed: pd.DataFrame) -> Iterator[tuple[str, object]]:
    """``time-*`` and ``speedup-*`` of every target and dtype in ``timed`` (:func:`timed_for_plots`)."""
    for (problem, wrt, dtype), g in timed.groupby(["problem", "wrt", "dtype"], sort=False):
        g, shape = _family(g)
        if g["elements"].nunique() < 2:
            continue  # one size: nothing to draw a line through
        suffix = f"{problem}-{wrt}" + ("" if dtype == "float32" else f"-{dtype}")
        fig, ax = plt.subplots(figsize=(8, 4.5))
        _floor_line(ax, g)
        for label, line in g.groupby("label", sort=False):
            line = line.groupby("elements")["time_median_s"].median().sort_index()
            ax.plot(line.index, line.values, label=label, **method_style(label))
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="Jacobian size (elements)",
            ylabel="median time per Jacobian (s)",
        )
        ax.set_title(f"{problem} / {wrt} ({dtype}, {shape}): time vs size")
        ax.grid(True, which="both", alpha=0.3)
        legend(ax)
        yield f"time-{suffix}", fig

        base = g[g["label"] == CLOSED_FORM].groupby("elements")["time_median_s"].median()
        if base.empty:
            continue
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for label, line in g[g["label"] != CLOSED_FORM].groupby("label", sort=False):
            line = line.groupby("elements")["time_median_s"].median()
            ratio = (line / base).dropna().sort_index()
            if len(ratio):
                ax.plot(ratio.index, ratio.values, label=label, **method_style(label))
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1.5, label=f"{CLOSED_FORM} (= 1)")
        ax.set(xscale="log", yscale="log", xlabel="Jacobian size (elements)",
               ylabel="time ÷ analytic closed form's time")  # fmt: skip
        ax.set_title(f"{problem} / {wrt} ({dtype}, {shape}): time against the closed form's")
        ax.grid(True, which="both", alpha=0.3)
        legend(ax)
        yield f"speedup-{suffix}", fig


def roofline_figure(plt, timed: pd.DataFrame, title: str):
    """One target's kernels on the roofline (``timed``: :func:`timed_for_plots` rows of one run's
    ceilings); None when no row has both flops and bytes."""
    cols = ("flops", "bytes_accessed", "ceiling_flops_per_s", "ceiling_bytes_per_s")
    if any(c not in timed.columns for c in cols):
        return None
    pts = timed.assign(**{c: pd.to_numeric(timed[c], errors="coerce") for c in cols})
    pts = pts[(pts["flops"] > 0) & (pts["bytes_accessed"] > 0)]
    if pts.empty:
        return None
    intensity = pts["flops"] / pts["bytes_accessed"]
    rate = pts["flops"] / pts["time_median_s"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, idx in pts.groupby("label", sort=False).groups.items():
        style = method_style(label)
        ax.scatter(intensity[idx], rate[idx], s=22, label=label, color=style["color"], marker=style["marker"])
    peak, bandwidth = pts["ceiling_flops_per_s"].median(), pts["ceiling_bytes_per_s"].median()
    if math.isfinite(peak) and math.isfinite(bandwidth) and peak > 0 and bandwidth > 0:
        knee = peak / bandwidth
        x = np.geomspace(min(intensity.min(), knee) / 2, max(intensity.max(), knee) * 2)
        ax.plot(
            x,
            np.minimum(peak, bandwidth * x),
            color="black",
            linewidth=1.2,
            label=f"ceilings: {peak / 1e9:.3g} GFLOP/s, {bandwidth / 1e9:.3g} GB/s",
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="arithmetic intensity (XLA flops / bytes accessed)",
        ylabel="achieved flop/s",
    )
    left = len(timed) - len(pts)
    ax.set_title(title + (f" ({left} kernels without flops not shown)" if left else ""))
    ax.grid(True, which="both", alpha=0.3)
    legend(ax)
    return fig


def history_figure(plt, panels: list[tuple[str, list]], commits: list[str]):
    """One kernel's history: a panel per metric, ``panels`` = [(label, [(fingerprint, commits, values,
    steps)])], steps as (commit, ratio, confidence); x is the commit's place in ``commits`` (git order).
    Each level between steps is drawn as a thick line at its median."""
    where = {c: i for i, c in enumerate(commits)}
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels) + 0.6), squeeze=False)
    for ax, (label, lines) in zip(axes[:, 0], panels, strict=True):
        for fingerprint, cs, values, steps in lines:
            xs = [where[c] for c in cs]
            (line,) = ax.plot(xs, values, marker="o", markersize=3.5, linewidth=0.8, label=fingerprint)
            bounds = [0, *(cs.index(c) for c, _, _ in steps), len(cs)]
            for a, b in zip(bounds, bounds[1:], strict=False):  # each level: the median of its points
                ax.hlines(np.median(values[a:b]), xs[a] - 0.3, xs[b - 1] + 0.3, color=line.get_color(),
                          linewidth=2.2, alpha=0.5)  # fmt: skip
            for commit, ratio, confidence in steps:
                ax.axvline(
                    where[commit] - 0.5,
                    color="tab:red" if ratio > 1 else "tab:green",
                    linestyle="--",
                    linewidth=1,
                )
                ax.annotate(
                    f"×{ratio:.3g} ({confidence:.2f})",
                    (where[commit] - 0.5, 1),
                    fontsize=7,
                    xycoords=("data", "axes fraction"),
                    va="top",
                    ha="left",
                    color=line.get_color(),
                )
        ax.set_ylabel(label, fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6, loc="lower left")
    ticks = list(range(len(commits)))
    step = max(1, len(ticks) // 20)
    axes[-1, 0].set_xticks(ticks[::step], [c[:7] for c in commits[::step]], rotation=60, fontsize=7)
    axes[-1, 0].set_xlabel("commit (git order)")
    for ax in axes[:-1, 0]:
        ax.set_xticks(ticks[::step], [])
    return fig
