"""README.md and docs/: short, every relative link and anchor resolving, every command and ``make``
target they name existing, and every generated block the output of the study that writes it."""

import argparse
import re
from pathlib import Path

import pytest

from jaxgrads.cli.main import make_parser
from jaxgrads.results.columns import columns_markdown

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 200
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")
COMMAND = re.compile(r"(?:^|[\s`$(])(?P<tool>jaxgrads|make)\s+(?P<name>[a-z][a-z-]*)")
MARKER = re.compile(r"^<!-- ([a-z0-9-]+):(start|end) -->$", re.M)  # alone on its line


def pages(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _prose_and_code(text: str) -> tuple[list[str], list[str]]:
    """The page's lines outside fenced code, and its code: fenced blocks' lines and inline spans."""
    prose, code, fenced = [], [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if fenced:
            code.append(line)
        else:
            prose.append(line)
            code += re.findall(r"`([^`]+)`", line)
    return prose, code


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but hyphens and underscores dropped,
    spaces to hyphens."""
    text = re.sub(r"`|\*\*|\*", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    prose, _ = _prose_and_code(page.read_text())
    seen: dict[str, int] = {}
    out = set()
    for line in prose:
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            out.add(base if n == 0 else f"{base}-{n}")
            seen[base] = n + 1
    return out


def broken_links(root: Path = ROOT) -> list[str]:
    """Every relative link or anchor of README.md and docs/ that does not resolve, as 'page: target'."""
    problems = []
    for page in pages(root):
        prose, _ = _prose_and_code(page.read_text())
        for line in prose:
            for target in LINK.findall(line):
                if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
                    continue
                path, _, anchor = target.partition("#")
                dest = (page.parent / path).resolve() if path else page
                if not dest.exists():
                    problems.append(f"{page.relative_to(root)}: {target} (no such file)")
                elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                    problems.append(f"{page.relative_to(root)}: {target} (no such anchor)")
    return problems


def _subcommands() -> set[str]:
    sub = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def _make_targets(root: Path) -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (root / "Makefile").read_text(), re.M))


def unknown_commands(root: Path = ROOT) -> list[str]:
    """Every ``jaxgrads CMD`` or ``make TARGET`` in the code of README.md and docs/ that does not exist."""
    known = {"jaxgrads": _subcommands(), "make": _make_targets(root)}
    problems = []
    for page in pages(root):
        _, code = _prose_and_code(page.read_text())
        for snippet in code:
            for m in COMMAND.finditer(snippet):
                before = snippet[: m.start("tool")].rstrip().split()
                if before and before[-1] in ("import", "from"):  # `import jaxgrads as jg`
                    continue
                if m["name"] not in known[m["tool"]]:
                    problems.append(f"{page.relative_to(root)}: {m['tool']} {m['name']}")
    return problems


def blocks(root: Path = ROOT) -> dict[str, list[tuple[Path, str]]]:
    """Each generated block's name -> the pages holding it and its text (between the markers)."""
    found: dict[str, list[tuple[Path, str]]] = {}
    for page in pages(root):
        text = page.read_text()
        for name in {m[0] for m in MARKER.findall(text)}:
            start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
            ok = text.count(start) == 1 and text.count(end) == 1 and text.index(start) < text.index(end)
            body = text.split(start, 1)[1].split(end, 1)[0].strip() if ok else None
            found.setdefault(name, []).append((page, body))
    return found


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; at most {README_MAX_LINES}"


def test_every_link_and_anchor_resolves():
    assert broken_links() == []


def test_every_command_and_make_target_named_exists():
    assert unknown_commands() == []


def test_every_generated_block_is_whole_and_written_by_a_study():
    studies = "\n".join(p.read_text() for p in (ROOT / "bench" / "studies").glob("*.py"))
    for name, holders in blocks().items():
        assert len(holders) == 1, f"{name}: in {len(holders)} pages"
        page, body = holders[0]
        assert body is not None, f"{page.name}: the {name} block's markers are not one start before one end"
        assert f'publish("{name}"' in studies, f"no study in bench/studies publishes the {name} block"


def test_the_columns_page_is_the_schemas():
    (page, body), = blocks()["columns"]
    assert body == columns_markdown(), "docs/columns.md is stale: run bench/studies/columns.py"


@pytest.fixture
def broken_site(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "Makefile").write_text("bench:\n\ttrue\n")
    (tmp_path / "README.md").write_text(
        "# Title\n\n## A section\n\n[fine](docs/a.md#usage) [gone](docs/missing.md) [bad](docs/a.md#nope)\n"
        "[self](#a-section) [stale](#old-section)\n\n"
        "```sh\nmake bench\nmake benhc\njaxgrads run\njaxgrads rnu\n```\n"
        "<!-- half:start -->\n"
    )
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Usage\n\n[up](../README.md#a-section)\n")
    return tmp_path


def test_the_checks_fail_on_a_broken_link_a_missing_command_and_a_cut_block(broken_site):
    assert broken_links(broken_site) == [
        "README.md: docs/missing.md (no such file)",
        "README.md: docs/a.md#nope (no such anchor)",
        "README.md: #old-section (no such anchor)",
    ]
    assert unknown_commands(broken_site) == ["README.md: make benhc", "README.md: jaxgrads rnu"]
    assert blocks(broken_site) == {"half": [(broken_site / "README.md", None)]}


def test_anchors_follow_githubs_slugs():
    heading = "Three tiers: what each sees and what it cannot"
    assert slug(heading) == "three-tiers-what-each-sees-and-what-it-cannot"
    assert slug("`--jobs` and the **pool**") == "--jobs-and-the-pool"


@pytest.mark.slow
def test_the_readmes_python_example_runs(tmp_path):
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "example.py").write_text(example)
    done = subprocess.run([sys.executable, str(tmp_path / "example.py")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "fastest" in done.stdout
