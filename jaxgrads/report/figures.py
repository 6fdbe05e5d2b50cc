"""Every figure of a results table: each target's (:mod:`jaxgrads.report.plots`) and the whole
table's (``verdict``: :mod:`jaxgrads.report.verdict`; ``floor``, ``crossover``,
``devices``: see :mod:`jaxgrads.report.plots` for what each shows),
drawn one at a time and written as PNG and SVG by :func:`plot_all`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from jaxgrads.report.analysis import crossover, measured_crossover
from jaxgrads.report.plots import (
    FLOOR_MARKERS,
    legend,
    require_matplotlib,
    save_figure,
    target_figures,
    timed_for_plots,
)
from jaxgrads.report.verdict import verdict_table
from jaxgrads.results.labels import method_label
from jaxgrads.results.schema import one_per_case

__all__ = ["iter_figures", "overview_figures", "plot_all"]


def _verdict(plt, df: pd.DataFrame) -> Iterator[tuple[str, object]]:
    """Per target, the fastest autodiff Jacobian over its floor and over the closed form
    (:mod:`jaxgrads.report.verdict`): the suite's question, answered at a glance."""
    v = verdict_table(df)
    if v.empty:
        return
    v = v.iloc[::-1]  # the first target on top
    labels = [f"{r.target} {r.dtype} @ {r.size}: {r.best}" for r in v.itertuples()]
    fig, (ax_f, ax_c) = plt.subplots(1, 2, figsize=(11, 0.32 * len(v) + 1.6), sharey=True)
    y = range(len(v))
    ax_f.barh(y, v["over_floor"], color="tab:gray")
    ax_f.axvline(1.0, color="black", linewidth=1.2)
    ax_f.set(xscale="log", title="time ÷ floor (1: at the floor)", yticks=list(y), yticklabels=labels)
    tie = 1.1  # within 10% of the closed form: neither faster nor slower on one run
    colors = [
        "tab:green" if r < 1 / tie else "tab:red" if r > tie else "tab:gray" for r in v["over_closed_form"]
    ]
    ax_c.barh(y, v["over_closed_form"], color=colors)
    ax_c.axvline(1.0, color="black", linewidth=1.2, linestyle="--")
    ax_c.set(xscale="log", title="time ÷ closed form (green: autodiff faster, red: slower, gray: within 10%)")
    for ax, column in ((ax_f, "over_floor"), (ax_c, "over_closed_form")):
        for i, value in zip(y, v[column], strict=True):
            if value == value:  # not NaN
                ax.annotate(f"{value:.3g}×", (value, i), xytext=(3, 0), textcoords="offset points",
                            va="center", fontsize=7)  # fmt: skip
        ax.grid(True, axis="x", which="both", alpha=0.3)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle("The fastest accurate autodiff Jacobian per target, at its largest size")
    yield "verdict", fig


def _floor(plt, timed: pd.DataFrame) -> Iterator[tuple[str, object]]:
    if any(c not in timed.columns for c in ("floor_s", "traffic_bytes", "floor_level")):
        return
    pts = timed.assign(
        floor_s=pd.to_numeric(timed["floor_s"], errors="coerce"),
        traffic=pd.to_numeric(timed["traffic_bytes"], errors="coerce"),
    ).dropna(subset=["floor_s", "traffic"])
    pts = pts[(pts["floor_s"] > 0) & (pts["traffic"] > 0)]
    if pts.empty:
        return
    fig, ax = plt.subplots(figsize=(8.5, 5))
    for level, g in pts.groupby("floor_level", sort=True):
        ax.scatter(g["traffic"], g["floor_s"], marker=FLOOR_MARKERS.get(level, "x"), s=70, color="black",
                   linewidths=1.2, label=f"floor: {level}")  # fmt: skip
    for problem, g in pts.groupby("problem", sort=False):
        ax.scatter(g["traffic"], g["time_median_s"], s=12, alpha=0.7, label=problem)
    ax.set(xscale="log", yscale="log", xlabel="compulsory traffic (inputs read + Jacobian written, bytes)",
           ylabel="seconds per call")  # fmt: skip
    ax.set_title("Every timed kernel above its floor, marked by what bounds the floor")
    ax.grid(True, which="both", alpha=0.3)
    legend(ax)
    yield "floor", fig


def _crossover(plt, df: pd.DataFrame) -> Iterator[tuple[str, object]]:
    sel = crossover(df)
    if sel is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(sel["aspect"], sel["ratio"], marker="o", color="tab:blue", label="measured t_jacfwd / t_jacrev")
    ax.plot(
        sel["aspect"], sel["model"], linestyle="--", color="gray", label="cost model: n JVPs / m VJPs = n/m"
    )
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axvline(1.0, color="gray", linestyle=":", label="model crossover (m = n)")
    at = measured_crossover(sel)
    if at is not None:
        ax.axvline(at, color="tab:red", linestyle="-.", label=f"measured crossover (m/n ≈ {at:.2g})")
    mn = int(sel["mn"].iloc[0])
    ax.set(xscale="log", yscale="log", xlabel="aspect ratio m / n (outputs / inputs)",
           ylabel="t_jacfwd / t_jacrev (above 1: reverse wins)")  # fmt: skip
    ax.set_title(f"matvec / x, m·n = {mn} ({sel['dtype'].iloc[0]}): forward vs reverse")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    yield "crossover", fig


def _devices(plt, df: pd.DataFrame) -> Iterator[tuple[str, object]]:
    from jaxgrads.report.devices import TARGET, scaling_rows

    strong, weak = scaling_rows(df)
    if strong.empty and weak.empty:
        return
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 4.8))
    for _, g in strong.groupby([*TARGET, "m", "n"], sort=False):
        g = g.sort_values("devices")
        r = g.iloc[0]
        label = f"{r['problem']}/{r['wrt']} {int(r['m'])}x{int(r['n'])} {method_label(r)}"
        (line,) = ax_t.plot(g["devices"], g["time_median_s"], marker="o", label=label)
        ax_t.plot(g["devices"], float(r["time_median_s"]) * float(r["devices"]) / g["devices"], linestyle=":",
                  color=line.get_color(), linewidth=0.8)  # fmt: skip
        ax_m.plot(g["devices"], g["peak_bytes"], marker="o", color=line.get_color(), label=label)
    for _, g in weak.groupby([*TARGET, "share"], sort=False):
        g = g.sort_values("devices")
        r = g.iloc[0]
        label = f"weak: {r['problem']}/{r['wrt']} {method_label(r)}, {r['share'] / 2**20:.2g} MiB/device"
        ax_t.plot(g["devices"], g["time_median_s"], marker="s", linestyle="--", label=label)
    counts = sorted({int(d) for d in pd.concat([strong["devices"], weak["devices"]])})
    ax_t.set(xscale="log", yscale="log", xlabel="devices", ylabel="seconds per call",
             title="Time (dotted: ideal 1/D for strong scaling)")  # fmt: skip
    ax_m.set(xscale="log", yscale="log", xlabel="devices", ylabel="peak bytes per device (XLA)",
             title="Peak memory per device (strong scaling)")  # fmt: skip
    for ax in (ax_t, ax_m):
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    backend = ", ".join(sorted(set(df["backend"].astype(str))))
    fig.suptitle(f"Sharded Jacobians against the number of devices ({backend})")
    yield "devices", fig


def iter_figures(df: pd.DataFrame) -> Iterator[tuple[str, object]]:
    """Every figure the table supports, one (name, matplotlib Figure) at a time; the caller closes each."""
    plt = require_matplotlib()
    plt.rcParams["axes.prop_cycle"] = plt.cycler(color=plt.get_cmap("tab20").colors)
    yield from target_figures(plt, timed_for_plots(one_per_case(df)))
    yield from overview_figures(df)


def overview_figures(df: pd.DataFrame) -> Iterator[tuple[str, object]]:
    """The figures of the whole table rather than of one target: ``verdict``, ``floor``, ``crossover``,
    ``devices``."""
    plt = require_matplotlib()
    one = one_per_case(df)  # a case on several device counts: the devices figure's
    yield from _verdict(plt, one)
    yield from _floor(plt, timed_for_plots(one))
    yield from _crossover(plt, one)
    yield from _devices(plt, df)


def plot_all(df: pd.DataFrame, out: str | Path) -> dict[str, list[Path]]:
    """Draws every figure the table supports into ``out``; returns {figure name: [png, svg]}."""
    plt = require_matplotlib()
    Path(out).mkdir(exist_ok=True)
    made = {}
    for name, fig in iter_figures(df):
        made[name] = save_figure(fig, Path(out), name)
        plt.close(fig)
    return made
