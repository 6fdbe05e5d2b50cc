"""The site's history parts: the index's history section (commits, fingerprints, regressions) and a
page per kernel (its metrics over commits, a line per fingerprint, its steps)."""

from __future__ import annotations

from jaxgrads.site.html import chart, esc, page, slug, table

__all__ = ["by_kernel", "history_section", "kernel_file", "kernel_link", "kernel_page"]


def history_section(h, kernel_pages: dict) -> str:
    from jaxgrads.history.series import REGRESSION_COLUMNS, family_level, regression_table

    parts = [
        f"<h2>History</h2><p>{len(h.commits)} commits, {len(h.series)} series; newest commit "
        f"<code>{esc(h.newest[:12])}</code>.</p>"
    ]
    parts.append(
        '<h3>Fingerprints</h3><p class="note">Series never mix machines or jax versions: one line '
        "per fingerprint in each kernel's chart.</p><ul>"
        + "".join(f"<li><code>{esc(fp)}</code></li>" for fp in h.fingerprints)
        + "</ul>"
    )
    for note in h.notes:
        parts.append(f'<p class="note">{esc(note)}</p>')
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
            table(
                [c for c in REGRESSION_COLUMNS if not c.startswith("points")],
                [
                    (
                        {},
                        [
                            kernel_link(r["kernel"], kernel_pages),
                            esc(r["metric"]),
                            esc(r["fingerprint"]),
                            esc(r["commit"][:12]),
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
    for kernel, series in by_kernel(h).items():
        steps = sum(len(s.steps) for s in series)
        points = max(len(s.points) for s in series)
        rows.append(
            (
                {},
                [
                    kernel_link(kernel, kernel_pages),
                    (str(points), float(points)),
                    (str(steps), float(steps)),
                    esc(", ".join(sorted({s.metric.column for s in series}))),
                ],
            )
        )
    parts.append(table(["kernel", "commits", "steps", "metrics"], rows))
    return "\n".join(parts)


def by_kernel(h) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in h.series:
        out.setdefault(s.kernel, []).append(s)
    return out


def kernel_file(kernel: str) -> str:
    return f"kernel-{slug(kernel)}.html"


def kernel_link(kernel: str, pages: dict) -> str:
    return f'<a href="{esc(pages[kernel])}">{esc(kernel)}</a>' if kernel in pages else esc(kernel)


def kernel_page(plt, kernel: str, series: list, commits: list[str]) -> str:
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
        chart(
            plt, fig, slug(kernel), f"{kernel} over commits (git order); dashed: a step, ×ratio (confidence)"
        )
    ]
    floor = [s.fingerprint for s in series if s.floor]
    if floor:
        parts.append(
            f'<p class="note">Time at the dispatch floor on {esc(", ".join(floor))}: within the gate\'s '
            "floor factor of the dispatch floor, its steps are the dispatch path's noise, never a "
            "regression.</p>"
        )
    parts.append("<h2>Steps</h2>")
    steps = [
        (
            {},
            [
                esc(s.metric.column),
                esc(s.fingerprint),
                esc(s.commit_at(t)[:12]),
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
        table(["metric", "fingerprint", "commit", "before", "after", "ratio", "confidence"], steps)
        if steps
        else "<p>No step: each series stays on one level.</p>"
    )
    parts.append("<h2>Points</h2>")
    order = {c: i for i, c in enumerate(commits)}
    points = [
        (
            {},
            [
                (esc(p["commit"][:12]), float(order[p["commit"]])),
                esc(s.metric.column),
                esc(s.fingerprint),
                (f"{p['value']:.6g}", float(p["value"])),
                (str(p["runs"]), float(p["runs"])),
                esc(p["started_at"]),
            ],
        )
        for s in series
        for p in s.points.to_dict("records")
    ]
    parts.append(table(["commit", "metric", "fingerprint", "value", "runs", "first run"], points))
    return page(kernel, "\n".join(parts))


