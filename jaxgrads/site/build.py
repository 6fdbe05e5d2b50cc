"""``jaxgrads site``: results (and, given one, a history) as a static site of self-contained pages.

Pages, each one HTML file with its charts (inline SVG drawn by :mod:`jaxgrads.report.plots`), style
and script (:mod:`jaxgrads.site.assets`) inside it, so it opens from ``file://`` with no network:

- ``index.html``: the runs and machines; the figures of the whole table (every kernel above its floor,
  forward vs reverse, devices: :func:`jaxgrads.report.figures.overview_figures`); every target per
  dtype, device and machine (its largest
  size: the closed form's time, the fastest autodiff method and its ratio to the closed form); with
  a history, the commits, the fingerprints its series are split by, the regressions and the kernels.
- ``target-<problem>-<wrt>.html``: per device and machine, and per dtype, time vs size per method,
  time against the closed form's, and the roofline; a table of every row.
- ``kernel-<id>.html`` (with a history): the kernel's metrics over commits, a line per fingerprint,
  steps marked; its points and steps as tables.

Every table sorts by a click on a column's header; the filter menus (dtype, device, machine) hide
the charts and rows of the others. The site is written into a temporary folder beside ``out`` and
renamed into place once complete: a failure leaves the previous site as it was.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from jaxgrads.errors import JaxgradsError
from jaxgrads.report.roles import CLOSED_FORMS, DIVISORS
from jaxgrads.results.labels import format_seconds, size_text
from jaxgrads.results.schema import one_per_case
from jaxgrads.site.history_pages import by_kernel, history_section, kernel_file, kernel_page
from jaxgrads.site.html import chart, data_attrs, esc, filters, float_of, num, page, slug, table
from jaxgrads.site.release_pages import FILE as RELEASES_FILE
from jaxgrads.site.release_pages import releases_page

__all__ = ["MARKER", "write_site"]

MARKER = ".jaxgrads-site"  # in every site folder: only such a folder is ever replaced


def _label_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Timed rows (one per case) with the filters' columns: dtype, device, machine."""
    from jaxgrads.report.plots import timed_for_plots

    t = timed_for_plots(one_per_case(df))
    devices = pd.to_numeric(t["devices"], errors="coerce").fillna(1).astype(int)
    t["device"] = [
        f"{k}" + (f" ×{d}" if d > 1 else "")
        for k, d in zip(t["device_kind"].astype(str), devices, strict=True)
    ]
    t["machine"] = [
        f"{c} ({h})" for c, h in zip(t["cpu_model"].astype(str), t["host"].astype(str), strict=True)
    ]
    t["target"] = t["problem"].astype(str) + "/" + t["wrt"].astype(str)
    t["size"] = [
        size_text(int(m or 0), int(n or 0), int(b or 0))
        for m, n, b in zip(t["m"], t["n"], t["batch"], strict=True)
    ]
    return t


def _target_page(plt, target: str, g: pd.DataFrame) -> str:
    from jaxgrads.report.plots import roofline_figure, target_figures

    parts = [filters(g)]
    for (device, machine), dm in g.groupby(["device", "machine"], sort=True):
        parts.append(f"<h2>{esc(device)} · {esc(machine)}</h2>")
        for dtype, d in dm.groupby("dtype", sort=True):
            attrs = {"dtype": dtype, "device": device, "machine": machine}
            salt = slug(f"{target}-{device}-{machine}-{dtype}")
            charts = [
                chart(plt, fig, f"{salt}-{name}", f"{name}: {dtype}, {device}, {machine}", attrs)
                for name, fig in target_figures(plt, d)
            ]
            fig = roofline_figure(plt, d, f"{target} ({dtype}): roofline")
            if fig is not None:
                charts.append(
                    chart(plt, fig, f"{salt}-roofline", f"roofline: {dtype}, {device}, {machine}", attrs)
                )
            if not charts:
                note = f"{esc(dtype)}: one size only, no chart."
                charts.append(f'<p class="note" {data_attrs(attrs)}>{note}</p>')
            parts.extend(charts)
    parts.append("<h2>Every kernel</h2>")
    # each case's divisor: the fastest closed form measured beside it (report.roles.DIVISORS)
    case = ["device", "machine", "dtype", "size"]
    closed = g[g["label"].isin(DIVISORS)].groupby(case)["time_median_s"].min()
    rows = []
    for r in g.sort_values(["dtype", "elements", "label"]).to_dict("records"):
        t = float(r["time_median_s"])
        base = closed.get((r["device"], r["machine"], r["dtype"], r["size"]), math.nan)
        ratio = t / base if base and math.isfinite(base) else math.nan
        rows.append(
            (
                r,
                [
                    esc(r["label"]),
                    esc(r["size"]),
                    esc(r["dtype"]),
                    esc(r["device"]),
                    esc(r["machine"]),
                    (format_seconds(t), t),
                    (f"{ratio:.3g}×" if math.isfinite(ratio) else "–", ratio),
                    num(r, "roofline_frac", "{:.3g}"),
                    num(r, "floor_frac", "{:.3g}"),
                    num(r, "err_f64", "{:.2g}"),
                    num(r, "peak_bytes", "{:,.0f}"),
                    (format_seconds(float_of(r, "compile_s")), float_of(r, "compile_s")),
                ],
            )
        )
    parts.append(
        table(
            [
                "method",
                "size",
                "dtype",
                "device",
                "machine",
                "time",
                "÷ closed form",
                "roofline",
                "floor",
                "error (f64)",
                "peak bytes",
                "compile",
            ],
            rows,
        )
    )
    return page(f"{target}", "\n".join(parts))



def _index(plt, t: pd.DataFrame, df: pd.DataFrame, histories, sources: list[str], kernel_pages: dict) -> str:
    from jaxgrads.report.figures import overview_figures

    runs = df.drop_duplicates("run_id")
    parts = [
        '<p class="note">Written by <code>jaxgrads site</code> from: '
        + ", ".join(f"<code>{esc(s)}</code>" for s in sources)
        + ".</p>"
    ]
    parts.append("<h2>Runs</h2>")
    parts.append(
        table(
            ["run", "started", "commit", "machine", "device", "jax", "rows"],
            [
                (
                    {},
                    [
                        esc(r["run_id"]),
                        esc(r["started_at"]),
                        esc(r["git_commit"]),
                        esc(f"{r['cpu_model']} ({r['host']})"),
                        esc(r["device_kind"]),
                        esc(r["jax_version"]),
                        (
                            str(int((df["run_id"] == r["run_id"]).sum())),
                            float((df["run_id"] == r["run_id"]).sum()),
                        ),
                    ],
                )
                for r in runs.to_dict("records")
            ],
        )
    )
    overview = [chart(plt, fig, f"overview-{name}", name) for name, fig in overview_figures(df)]
    if overview:
        parts.append("<h2>Every target</h2>")
        parts.extend(overview)
    parts.append("<h2>Targets</h2>")
    parts.append(
        '<p class="note">Per target, dtype, device and machine, at its largest size: the closed form\'s '
        "time (the fastest closed form measured there, named) and the fastest autodiff method (its time "
        "over the closed form's).</p>"
    )
    parts.append(filters(t))
    rows = []
    for (target, dtype, device, machine), g in t.groupby(["target", "dtype", "device", "machine"], sort=True):
        top = g[g["elements"] == g["elements"].max()]
        closed = top[top["label"].isin(DIVISORS)].sort_values("time_median_s")
        auto = top[~top["label"].isin(CLOSED_FORMS)].sort_values("time_median_s")
        base = float(closed["time_median_s"].iloc[0]) if len(closed) else math.nan
        best = auto.iloc[0] if len(auto) else None
        ratio = float(best["time_median_s"]) / base if best is not None and math.isfinite(base) else math.nan
        link = f'<a href="{esc(_target_file(target))}">{esc(target)}</a>'
        rows.append(
            (
                {"dtype": dtype, "device": device, "machine": machine},
                [
                    link,
                    esc(dtype),
                    esc(device),
                    esc(machine),
                    (str(g["label"].nunique()), float(g["label"].nunique())),
                    (esc(top["size"].iloc[0]), float(top["elements"].iloc[0])),
                    (format_seconds(base) + (f" ({esc(closed['label'].iloc[0])})" if len(closed) else ""),
                     base),
                    esc(best["label"] if best is not None else "–"),
                    (
                        format_seconds(float(best["time_median_s"])) if best is not None else "–",
                        float(best["time_median_s"]) if best is not None else math.nan,
                    ),
                    (f"{ratio:.3g}×" if math.isfinite(ratio) else "–", ratio),
                ],
            )
        )
    parts.append(
        table(
            [
                "target",
                "dtype",
                "device",
                "machine",
                "methods",
                "largest size",
                "closed form",
                "fastest autodiff",
                "its time",
                "÷ closed form",
            ],
            rows,
        )
    )
    if histories is not None:
        parts.append(history_section(histories, kernel_pages))
    return page("jaxgrads results", "\n".join(parts), home=True)


def _target_file(target: str) -> str:
    return f"target-{slug(target.replace('/', '-'))}.html"


def write_site(
    df: pd.DataFrame, out: str | Path, *, histories=None, sources: list[str], overwrite: bool, releases=None
) -> list[Path]:
    """Writes the site of results ``df`` (and ``histories``, :func:`jaxgrads.history.series.build`, and
    ``releases``, :func:`jaxgrads.site.release_pages.read_releases`: a page of its own) into
    folder ``out``; returns the pages. An existing ``out`` is replaced only with ``overwrite`` and only
    if it is a site (it holds :data:`MARKER`)."""
    from jaxgrads.report.plots import require_matplotlib

    plt = require_matplotlib()
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    if out.exists():
        if not out.is_dir():
            raise JaxgradsError(f"-o {out} is a file; give a folder for the site")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise JaxgradsError(
                f"-o {out} is a folder that is not a jaxgrads site; refused (give a new or empty one)"
            )
        if any(out.iterdir()) and not overwrite:
            raise JaxgradsError(f"-o {out} holds a site; pass --overwrite to replace it")
    if not parent.is_dir():
        raise JaxgradsError(f"folder {parent} does not exist")
    t = _label_rows(df)
    if t.empty:
        raise JaxgradsError("no timed rows to put on a site")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    try:
        pages = {}
        kernel_pages = {}
        if histories is not None:
            for kernel, series in by_kernel(histories).items():
                if max(len(s.points) for s in series) >= 2:  # a history of one commit is a point, not a chart
                    kernel_pages[kernel] = kernel_file(kernel)
                    pages[kernel_pages[kernel]] = kernel_page(plt, kernel, series, histories.commits)
        for target, g in t.groupby("target", sort=True):
            pages[_target_file(target)] = _target_page(plt, target, g)
        if releases is not None:
            pages[RELEASES_FILE] = releases_page(plt, *releases)
        pages["index.html"] = _index(plt, t, df, histories, sources, kernel_pages)
        if releases is not None:
            pages["index.html"] = pages["index.html"].replace(
                "</body>", f'<h2>Releases</h2><p><a href="{RELEASES_FILE}">Jacobian cost across jax '
                "releases</a></p>\n</body>")  # fmt: skip
        for name, text in pages.items():
            (tmp / name).write_text(text, encoding="utf-8")
        (tmp / MARKER).write_text("written by jaxgrads site\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=parent))
            os.replace(out, old / "site")
        os.replace(tmp, out)
        tmp = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return [out / name for name in pages]
