"""docs/architecture.md against the code: every module in its table, no module it names missing,
and its chain of rooms in the order the imports run."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jaxgrads"
PAGE = ROOT / "docs" / "architecture.md"


def _table() -> dict[str, set[str]]:
    """The page's module table: room (``function/``, or "" for the top level) -> the files it names."""
    named: dict[str, set[str]] = {}
    for line in PAGE.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        first, job = (c.strip() for c in line.strip().strip("|").split("|", 1))
        heads = re.findall(r"`([^`]+)`", first)
        if all(h.endswith("/") for h in heads):
            for room in heads:
                named.setdefault(room, set()).update(re.findall(r"`([a-z_0-9]+\.py)`", job))
        else:
            named.setdefault("", set()).update(heads)
    return named


def _modules() -> set[str]:
    """Every module of the package but the ``__init__``/``__main__`` files: ``room/file.py``."""
    return {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
            if p.name not in ("__init__.py", "__main__.py")}  # fmt: skip


def test_every_module_is_on_the_page_and_every_module_it_names_exists():
    named = {f"{room}{f}" for room, files in _table().items() for f in files}
    modules = _modules()
    assert sorted(modules - named) == [], "modules missing from docs/architecture.md's table"
    assert sorted(named - modules) == [], "docs/architecture.md names modules that do not exist"


def _chain() -> list[set[str]]:
    """The page's chain, lowest first: ``a``/``b`` → ``c`` → ... as sets of rooms."""
    line = next(raw for raw in PAGE.read_text().splitlines() if raw.startswith("The chain, lowest first"))
    return [set(re.findall(r"`([a-z_]+)`", level)) for level in line.split(":", 1)[1].split("→")]


def _room(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_rooms(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.module != "jaxgrads" else [f"jaxgrads.{a.name}" for a in node.names]
        found |= {n.split(".")[1] for n in names if n.startswith("jaxgrads.")}
    return found


def test_the_chain_on_the_page_is_the_order_the_imports_run():
    chain = _chain()
    level = {room: i for i, rooms in enumerate(chain) for room in rooms}
    rooms = {_room(p) for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.stem not in ("__init__",
                                                                                              "__main__")}
    assert sorted(rooms - set(level)) == [], "rooms missing from the chain"
    upward = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent == PACKAGE and path.stem in ("__init__", "__main__"):
            continue  # the package's front door re-exports every room
        room = _room(path)
        for other in _imported_rooms(path) - {room}:
            if other in level and level[other] > level[room]:
                upward.append(f"{path.relative_to(ROOT)} ({room}) imports {other}")
    assert upward == [], "the chain says these imports run up"


def _resolves(name: str) -> bool:
    """Whether ``jaxgrads.a.b.C.x`` names a module and attributes that exist, the first of them where
    it lives: in that module, or (a package's re-export) in one of the package's own modules."""
    import importlib

    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        try:
            obj = importlib.import_module(module)
        except ImportError:
            continue
        for k, attr in enumerate(parts[i:]):
            fields = getattr(obj, "__dataclass_fields__", {})
            found = getattr(obj, attr, None)
            if found is None and attr not in fields:
                return False
            home = getattr(found, "__module__", None)
            moved = isinstance(home, str) and home.startswith("jaxgrads") and not home.startswith(module)
            if k == 0 and moved:
                return False  # named where it no longer lives (a re-export of a moved name)
            obj = found if found is not None else object()
        return True
    return False


def test_every_cross_reference_in_the_docstrings_and_comments_resolves():
    """``:mod:``, ``:func:``, ``:class:``, ``:data:``, ``:attr:``, ``:meth:`` references to a jaxgrads
    name: each names a module and an attribute that exist, where they live (a moved module leaves
    none stale)."""
    stale = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name in re.findall(r":(?:mod|func|attr|class|data|meth):`~?(jaxgrads[\w.]*)`", path.read_text())
        if not _resolves(name)
    ]
    assert stale == []
