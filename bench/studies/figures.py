"""Where the bench scripts put what they measured: results/<name>.md and a marked block of README.md."""

from __future__ import annotations

from pathlib import Path

from jaxgrads.results.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]


def publish(name: str, text: str, *, readme: bool = True) -> None:
    """Writes ``text`` to results/<name>.md, prints it, and replaces README's ``<!-- name:start -->``
    ... ``<!-- name:end -->`` block with it (unless ``readme`` is False)."""
    atomic_write_text(ROOT / "results" / f"{name}.md", text + "\n")
    print(text)
    if readme:
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, rest = (ROOT / "README.md").read_text().split(start, 1)
        _, tail = rest.split(end, 1)
        atomic_write_text(ROOT / "README.md", f"{head}{start}\n{text}\n{end}{tail}")
