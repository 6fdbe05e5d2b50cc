"""The gate's verdicts as a terminal table and as markdown for a CI job summary."""

from __future__ import annotations

import math

from jaxgrads.gate.comparison import ORDER, GateResult
from jaxgrads.results.labels import format_seconds, table

__all__ = ["headline", "markdown_report", "text_report"]


def _fmt(x: float, spec: str) -> str:
    return format(x, spec) if isinstance(x, float | int) and math.isfinite(x) else "–"


def _rows(result: GateResult) -> list[list[str]]:
    rows = []
    for r in result.table.to_dict("records"):
        ratio = _fmt(r["ratio"], ".3f")
        if math.isfinite(r["confirm_ratio"]):
            ratio += f" (again {r['confirm_ratio']:.3f})"
        metrics = r["metrics"] + (f" ({r['metric_detail']})" if r["metric_detail"] else "")
        instr = r["instructions"] + (f" ({r['instr_ratio']:.4f})" if math.isfinite(r["instr_ratio"]) else "")
        rows.append([
            r["kernel"], format_seconds(r["baseline_s"]), format_seconds(r["current_s"]), ratio,
            _fmt(r["p"], ".2g"), r["verdict"], r["timing"], metrics, instr,
        ])  # fmt: skip
    return rows


HEADER = ["kernel", "baseline", "current", "ratio", "p", "verdict", "timing", "XLA metrics", "instructions"]


def headline(result: GateResult) -> str:
    counts = result.table["verdict"].value_counts()
    parts = ", ".join(f"{counts[v]} {v}" for v in ORDER if v in counts)
    state = "FAIL" if result.exit_code else "PASS"
    return f"gate {state}: {len(result.table)} kernels compared ({parts})"


def text_report(result: GateResult) -> str:
    """The terminal table, regressions first."""
    rows = _rows(result)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    out = [line(HEADER), line(["-" * w for w in widths]), *map(line, rows), ""]
    if not result.summary.empty:
        out.append("geometric-mean ratio per problem (gated kernels):")
        out += [
            f"  {s['problem']}/{s['wrt']}: {s['geomean_ratio']:.3f} over {s['kernels']} kernels"
            for s in result.summary.to_dict("records")
        ]
    out += [f"note: {n}" for n in result.notes]
    out.append(headline(result))
    return "\n".join(out) + "\n"


def markdown_report(result: GateResult) -> str:
    """The same as markdown, for a CI job summary."""
    out = [f"## {headline(result)}", ""]
    out += [f"- {n}" for n in result.notes]
    out += ["", table(HEADER, [[c.replace("|", "\\|") for c in r] for r in _rows(result)])]
    if not result.summary.empty:
        rows = [
            [s["problem"], s["wrt"], str(s["kernels"]), f"{s['geomean_ratio']:.3f}"]
            for s in result.summary.to_dict("records")
        ]
        out += ["", table(["problem", "wrt", "gated kernels", "geometric-mean ratio"], rows)]
    return "\n".join(out) + "\n"
