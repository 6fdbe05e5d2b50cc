"""Where the bench scripts put what they measured: results/<name>.md and the marked block of the page
(README.md or one in docs/) that holds it."""

from __future__ import annotations

from pathlib import Path

from jaxgrads.results.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]


def pages() -> list[Path]:
    """README.md and every page of docs/: where generated blocks live."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def publish(name: str, text: str, *, readme: bool = True) -> None:
    """Writes ``text`` to results/<name>.md, prints it, and replaces the ``<!-- name:start -->`` ...
    ``<!-- name:end -->`` block of the page that holds it (unless ``readme`` is False)."""
    atomic_write_text(ROOT / "results" / f"{name}.md", text + "\n")
    print(text)
    if readme:
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        holders = [p for p in pages() if start in p.read_text()]
        if len(holders) != 1:
            raise SystemExit(f"{start}: expected in one page of README.md and docs/, found in {len(holders)}")
        page = holders[0]
        head, rest = page.read_text().split(start, 1)
        _, tail = rest.split(end, 1)
        atomic_write_text(page, f"{head}{start}\n{text}\n{end}{tail}")
