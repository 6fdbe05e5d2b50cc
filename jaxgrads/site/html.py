"""The site's HTML pieces: escaping, a page around a body, sortable tables, the filter menus, inline
SVG charts, and numbers read off a row."""

from __future__ import annotations

import html
import io
import math
from collections.abc import Iterable

import pandas as pd

from jaxgrads.site.assets import SCRIPT, STYLE

__all__ = [
    "FILTERS", "chart", "data_attrs", "esc", "filters", "float_of", "num", "page", "slug", "svg", "table",
]  # fmt: skip

FILTERS = ("dtype", "device", "machine")


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def page(title: str, body: str, *, home: bool = False) -> str:
    nav = "" if home else '<nav><a href="index.html">← all targets</a></nav>'
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head>\n<body>{nav}<h1>{esc(title)}</h1>\n"
        f"{body}\n</body></html>\n"
    )


def data_attrs(row: dict) -> str:
    return " ".join(f'data-{k}="{esc(row[k])}"' for k in FILTERS if k in row)


def table(columns: list[str], rows: Iterable[tuple[dict, list]], *, caption: str = "") -> str:
    """A sortable table; each row is (filter attributes, cells), a cell ``(text, value)`` or text."""
    head = "".join(f'<th scope="col">{esc(c)}</th>' for c in columns)
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
        lines.append(f"<tr {data_attrs(attrs)}>{''.join(tds)}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (
        f'<table class="sortable">{cap}<thead><tr>{head}</tr></thead><tbody>\n'
        + "\n".join(lines)
        + "</tbody></table>"
    )


def filters(df: pd.DataFrame) -> str:
    menus = []
    for k in FILTERS:
        values = sorted(set(df[k].astype(str)))
        options = '<option value="">all</option>' + "".join(
            f'<option value="{esc(v)}">{esc(v)}</option>' for v in values
        )
        menus.append(f'<label>{k} <select data-filter="{k}" aria-label="{k}">{options}</select></label>')
    return f'<div class="filters">{"".join(menus)}</div>'


def svg(plt, fig, salt: str) -> str:
    """A figure as inline SVG: text kept as text, ids salted so many charts can share one page."""
    from jaxgrads.report.plots import tight_bbox

    buffer = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", bbox_inches=tight_bbox(fig))
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def chart(plt, fig, salt: str, caption: str, attrs: dict | None = None) -> str:
    return (
        f'<figure class="chart" {data_attrs(attrs or {})}>{svg(plt, fig, salt)}'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )




def float_of(r: dict, col: str) -> float:
    try:
        v = float(r.get(col))
    except (TypeError, ValueError):
        return math.nan
    return v


def num(r: dict, col: str, fmt: str):
    v = float_of(r, col)
    return (fmt.format(v) if math.isfinite(v) else "–", v)

