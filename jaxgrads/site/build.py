"""``jaxgrads site``: results (and, given one, a history) as a static site of self-contained pages.

Pages, each one HTML file with its charts (inline SVG drawn by :mod:`jaxgrads.report.plots`), style
and script (:mod:`jaxgrads.site.assets`) inside it, so it opens from ``file://`` with no network:

- ``index.html``: the runs and machines; the figures of the whole table (every kernel above its floor,
  forward vs reverse, devices: :func:`jaxgrads.report.plots.overview_figures`); every target per
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

import html
import io
import math
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from jaxgrads.errors import JaxgradsError
from jaxgrads.report.roles import CLOSED_FORM
from jaxgrads.results.labels import format_seconds, size_text
from jaxgrads.results.schema import one_per_case
from jaxgrads.site.assets import SCRIPT, STYLE

__all__ = ["MARKER", "write_site"]

MARKER = ".jaxgrads-site"  # in every site folder: only such a folder is ever replaced
FILTERS = ("dtype", "device", "machine")


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def _page(title: str, body: str, *, home: bool = False) -> str:
    nav = "" if home else '<nav><a href="index.html">← all targets</a></nav>'
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head>\n<body>{nav}<h1>{_esc(title)}</h1>\n"
        f"{body}\n</body></html>\n"
    )


def _attrs(row: dict) -> str:
    return " ".join(f'data-{k}="{_esc(row[k])}"' for k in FILTERS if k in row)


def _table(columns: list[str], rows: Iterable[tuple[dict, list]], *, caption: str = "") -> str:
    """A sortable table; each row is (filter attributes, cells), a cell ``(text, value)`` or text."""
    head = "".join(f'<th scope="col">{_esc(c)}</th>' for c in columns)
    lines = []
    for attrs, cells in rows:
        tds = []
        for cell in cells:
            text, value = cell if isinstance(cell, tuple) else (cell, None)
            if value is None:
                tds.append(f'<td class="text">{text}</td>')
            else:
                shown = value if isinstance(value, float) and math.isfinite(value) else ""
                tds.append(f'<td data-value="{shown}">{text}</td>')
        lines.append(f"<tr {_attrs(attrs)}>{''.join(tds)}</tr>")
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    return (
        f'<table class="sortable">{cap}<thead><tr>{head}</tr></thead><tbody>\n'
        + "\n".join(lines)
        + "</tbody></table>"
    )


def _filters(df: pd.DataFrame) -> str:
    menus = []
    for k in FILTERS:
        values = sorted(set(df[k].astype(str)))
        options = '<option value="">all</option>' + "".join(
            f'<option value="{_esc(v)}">{_esc(v)}</option>' for v in values
        )
        menus.append(f'<label>{k} <select data-filter="{k}" aria-label="{k}">{options}</select></label>')
    return f'<div class="filters">{"".join(menus)}</div>'


def _svg(plt, fig, salt: str) -> str:
    """A figure as inline SVG: text kept as text, ids salted so many charts can share one page."""
    buffer = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _chart(plt, fig, salt: str, caption: str, attrs: dict | None = None) -> str:
    return (
        f'<figure class="chart" {_attrs(attrs or {})}>{_svg(plt, fig, salt)}'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


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

    parts = [_filters(g)]
    for (device, machine), dm in g.groupby(["device", "machine"], sort=True):
        parts.append(f"<h2>{_esc(device)} · {_esc(machine)}</h2>")
        for dtype, d in dm.groupby("dtype", sort=True):
            attrs = {"dtype": dtype, "device": device, "machine": machine}
            salt = _slug(f"{target}-{device}-{machine}-{dtype}")
            charts = [
                _chart(plt, fig, f"{salt}-{name}", f"{name}: {dtype}, {device}, {machine}", attrs)
                for name, fig in target_figures(plt, d)
            ]
            fig = roofline_figure(plt, d, f"{target} ({dtype}): roofline")
            if fig is not None:
                charts.append(
                    _chart(plt, fig, f"{salt}-roofline", f"roofline: {dtype}, {device}, {machine}", attrs)
                )
            if not charts:
                charts.append(f'<p class="note" {_attrs(attrs)}>{_esc(dtype)}: one size only, no chart.</p>')
            parts.extend(charts)
    parts.append("<h2>Every kernel</h2>")
    closed = g[g["label"] == CLOSED_FORM].set_index(["device", "machine", "dtype", "size"])["time_median_s"]
    closed = closed[~closed.index.duplicated()]
    rows = []
    for r in g.sort_values(["dtype", "elements", "label"]).to_dict("records"):
        t = float(r["time_median_s"])
        base = closed.get((r["device"], r["machine"], r["dtype"], r["size"]), math.nan)
        ratio = t / base if base and math.isfinite(base) else math.nan
        rows.append(
            (
                r,
                [
                    _esc(r["label"]),
                    _esc(r["size"]),
                    _esc(r["dtype"]),
                    _esc(r["device"]),
                    _esc(r["machine"]),
                    (format_seconds(t), t),
                    (f"{ratio:.3g}×" if math.isfinite(ratio) else "–", ratio),
                    _num(r, "roofline_frac", "{:.3g}"),
                    _num(r, "floor_frac", "{:.3g}"),
                    _num(r, "err_f64", "{:.2g}"),
                    _num(r, "peak_bytes", "{:,.0f}"),
                    (format_seconds(_float(r, "compile_s")), _float(r, "compile_s")),
                ],
            )
        )
    parts.append(
        _table(
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
    return _page(f"{target}", "\n".join(parts))


def _float(r: dict, col: str) -> float:
    try:
        v = float(r.get(col))
    except (TypeError, ValueError):
        return math.nan
    return v


def _num(r: dict, col: str, fmt: str):
    v = _float(r, col)
    return (fmt.format(v) if math.isfinite(v) else "–", v)


def _index(plt, t: pd.DataFrame, df: pd.DataFrame, histories, sources: list[str], kernel_pages: dict) -> str:
    from jaxgrads.report.plots import overview_figures

    runs = df.drop_duplicates("run_id")
    parts = [
        '<p class="note">Written by <code>jaxgrads site</code> from: '
        + ", ".join(f"<code>{_esc(s)}</code>" for s in sources)
        + ".</p>"
    ]
    parts.append("<h2>Runs</h2>")
    parts.append(
        _table(
            ["run", "started", "commit", "machine", "device", "jax", "rows"],
            [
                (
                    {},
                    [
                        _esc(r["run_id"]),
                        _esc(r["started_at"]),
                        _esc(r["git_commit"]),
                        _esc(f"{r['cpu_model']} ({r['host']})"),
                        _esc(r["device_kind"]),
                        _esc(r["jax_version"]),
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
    overview = [_chart(plt, fig, f"overview-{name}", name) for name, fig in overview_figures(df)]
    if overview:
        parts.append("<h2>Every target</h2>")
        parts.extend(overview)
    parts.append("<h2>Targets</h2>")
    parts.append(
        '<p class="note">Per target, dtype, device and machine, at its largest size: the closed form\'s '
        "time and the fastest autodiff method (its time over the closed form's).</p>"
    )
    parts.append(_filters(t))
    rows = []
    for (target, dtype, device, machine), g in t.groupby(["target", "dtype", "device", "machine"], sort=True):
        top = g[g["elements"] == g["elements"].max()]
        closed = top[top["label"] == CLOSED_FORM]["time_median_s"]
        auto = top[top["label"] != CLOSED_FORM].sort_values("time_median_s")
        base = float(closed.median()) if len(closed) else math.nan
        best = auto.iloc[0] if len(auto) else None
        ratio = float(best["time_median_s"]) / base if best is not None and math.isfinite(base) else math.nan
        link = f'<a href="{_esc(_target_file(target))}">{_esc(target)}</a>'
        rows.append(
            (
                {"dtype": dtype, "device": device, "machine": machine},
                [
                    link,
                    _esc(dtype),
                    _esc(device),
                    _esc(machine),
                    (str(g["label"].nunique()), float(g["label"].nunique())),
                    (_esc(top["size"].iloc[0]), float(top["elements"].iloc[0])),
                    (format_seconds(base), base),
                    _esc(best["label"] if best is not None else "–"),
                    (
                        format_seconds(float(best["time_median_s"])) if best is not None else "–",
                        float(best["time_median_s"]) if best is not None else math.nan,
                    ),
                    (f"{ratio:.3g}×" if math.isfinite(ratio) else "–", ratio),
                ],
            )
        )
    parts.append(
        _table(
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
        parts.append(_history_section(histories, kernel_pages))
    return _page("jaxgrads results", "\n".join(parts), home=True)


def _history_section(h, kernel_pages: dict) -> str:
    from jaxgrads.history.series import REGRESSION_COLUMNS, family_level, regression_table

    parts = [
        f"<h2>History</h2><p>{len(h.commits)} commits, {len(h.series)} series; newest commit "
        f"<code>{_esc(h.newest[:12])}</code>.</p>"
    ]
    parts.append(
        '<h3>Fingerprints</h3><p class="note">Series never mix machines or jax versions: one line '
        "per fingerprint in each kernel's chart.</p><ul>"
        + "".join(f"<li><code>{_esc(fp)}</code></li>" for fp in h.fingerprints)
        + "</ul>"
    )
    for note in h.notes:
        parts.append(f'<p class="note">{_esc(note)}</p>')
    regs = regression_table(h)
    parts.append("<h3>Regressions</h3>")
    if regs.empty:
        parts.append(
            f"<p>No step up beyond its metric's threshold with confidence ≥ {family_level(h, 0.99):.6f} "
            f"(0.99 family-wise over the {sum(not s.floor for s in h.series)} series not at the dispatch "
            "floor).</p>"
        )
    else:
        parts.append(
            _table(
                [c for c in REGRESSION_COLUMNS if not c.startswith("points")],
                [
                    (
                        {},
                        [
                            _kernel_link(r["kernel"], kernel_pages),
                            _esc(r["metric"]),
                            _esc(r["fingerprint"]),
                            _esc(r["commit"][:12]),
                            (f"{r['before']:.4g}", r["before"]),
                            (f"{r['after']:.4g}", r["after"]),
                            (f'<span class="regression">{r["ratio"]:.3g}×</span>', r["ratio"]),
                            (f"{r['confidence']:.3f}", r["confidence"]),
                            "yes" if r["newest"] else "",
                        ],
                    )
                    for r in regs.to_dict("records")
                ],
            )
        )
    parts.append("<h3>Kernels</h3>")
    rows = []
    for kernel, series in _by_kernel(h).items():
        steps = sum(len(s.steps) for s in series)
        points = max(len(s.points) for s in series)
        rows.append(
            (
                {},
                [
                    _kernel_link(kernel, kernel_pages),
                    (str(points), float(points)),
                    (str(steps), float(steps)),
                    _esc(", ".join(sorted({s.metric.column for s in series}))),
                ],
            )
        )
    parts.append(_table(["kernel", "commits", "steps", "metrics"], rows))
    return "\n".join(parts)


def _by_kernel(h) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in h.series:
        out.setdefault(s.kernel, []).append(s)
    return out


def _kernel_file(kernel: str) -> str:
    return f"kernel-{_slug(kernel)}.html"


def _target_file(target: str) -> str:
    return f"target-{_slug(target.replace('/', '-'))}.html"


def _kernel_link(kernel: str, pages: dict) -> str:
    return f'<a href="{_esc(pages[kernel])}">{_esc(kernel)}</a>' if kernel in pages else _esc(kernel)


def _kernel_page(plt, kernel: str, series: list, commits: list[str]) -> str:
    from jaxgrads.report.plots import history_figure

    panels = []
    for metric in dict.fromkeys(s.metric.column for s in series):
        lines = [
            (
                s.fingerprint,
                list(s.points["commit"]),
                list(s.points["value"]),
                [(s.commit_at(t), t.ratio, t.confidence) for t in s.steps],
            )
            for s in series
            if s.metric.column == metric
        ]
        panels.append((next(s.metric.label for s in series if s.metric.column == metric), lines))
    fig = history_figure(plt, panels, commits)
    parts = [
        _chart(
            plt, fig, _slug(kernel), f"{kernel} over commits (git order); dashed: a step, ×ratio (confidence)"
        )
    ]
    floor = [s.fingerprint for s in series if s.floor]
    if floor:
        parts.append(
            f'<p class="note">Time at the dispatch floor on {_esc(", ".join(floor))}: within the gate\'s '
            "floor factor of the dispatch floor, its steps are the dispatch path's noise, never a "
            "regression.</p>"
        )
    parts.append("<h2>Steps</h2>")
    steps = [
        (
            {},
            [
                _esc(s.metric.column),
                _esc(s.fingerprint),
                _esc(s.commit_at(t)[:12]),
                (f"{t.before:.4g}", t.before),
                (f"{t.after:.4g}", t.after),
                (f"{t.ratio:.3g}×", t.ratio),
                (f"{t.confidence:.3f}", t.confidence),
            ],
        )
        for s in series
        for t in s.steps
    ]
    parts.append(
        _table(["metric", "fingerprint", "commit", "before", "after", "ratio", "confidence"], steps)
        if steps
        else "<p>No step: each series stays on one level.</p>"
    )
    parts.append("<h2>Points</h2>")
    order = {c: i for i, c in enumerate(commits)}
    points = [
        (
            {},
            [
                (_esc(p["commit"][:12]), float(order[p["commit"]])),
                _esc(s.metric.column),
                _esc(s.fingerprint),
                (f"{p['value']:.6g}", float(p["value"])),
                (str(p["runs"]), float(p["runs"])),
                _esc(p["started_at"]),
            ],
        )
        for s in series
        for p in s.points.to_dict("records")
    ]
    parts.append(_table(["commit", "metric", "fingerprint", "value", "runs", "first run"], points))
    return _page(kernel, "\n".join(parts))


def write_site(
    df: pd.DataFrame, out: str | Path, *, histories=None, sources: list[str], overwrite: bool
) -> list[Path]:
    """Writes the site of results ``df`` (and ``histories``, :func:`jaxgrads.history.series.build`) into
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
            for kernel, series in _by_kernel(histories).items():
                if max(len(s.points) for s in series) >= 2:  # a history of one commit is a point, not a chart
                    kernel_pages[kernel] = _kernel_file(kernel)
                    pages[kernel_pages[kernel]] = _kernel_page(plt, kernel, series, histories.commits)
        for target, g in t.groupby("target", sort=True):
            pages[_target_file(target)] = _target_page(plt, target, g)
        pages["index.html"] = _index(plt, t, df, histories, sources, kernel_pages)
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
