"""Virtual environments made on first use: one per dependency list (``history measure``'s commits)
or per jax release (``jaxgrads releases``).

An environment is a folder with a ``.ready`` file written only after its install finished (its
dependency list): a killed install leaves no ``.ready``, and the next use makes the folder again. A
release's environment lives outside the checkout, in the cache (:func:`cache_folder`), so every
checkout and every run of the machine shares it: ``<cache>/releases/jax-<version>/``. It holds jax,
jaxlib and jaxgrads' other dependencies, not jaxgrads itself: its processes import this source tree
(``PYTHONPATH``, :func:`source_root`), so the same code measures every release.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

from jaxgrads.errors import JaxgradsError

__all__ = [
    "cache_folder",
    "environment",
    "project_dependencies",
    "release_dependencies",
    "release_environment",
    "source_root",
]

RELEASE = re.compile(r"^\d+\.\d+\.\d+(\.\d+)?$")  # 0.4.30, 0.9.0.1


def cache_folder() -> Path:
    """``$JAXGRADS_CACHE``, else ``$XDG_CACHE_HOME/jaxgrads``, else ``~/.cache/jaxgrads``."""
    if os.environ.get("JAXGRADS_CACHE"):
        return Path(os.environ["JAXGRADS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jaxgrads"


def source_root() -> Path:
    """The folder that holds this ``jaxgrads`` package: first on a release process's ``PYTHONPATH``."""
    return Path(__file__).resolve().parents[2]


def project_dependencies(pyproject: Path | None = None) -> list[str]:
    """``[project] dependencies`` of ``pyproject`` (default: this source tree's; an installed
    jaxgrads: its metadata's requirements without extras)."""
    path = pyproject or source_root() / "pyproject.toml"
    if path.is_file():
        try:
            return list(tomllib.loads(path.read_text(encoding="utf-8"))["project"].get("dependencies", []))
        except (KeyError, tomllib.TOMLDecodeError) as exc:
            raise JaxgradsError(f"{path}: no readable [project] dependencies ({exc})") from None
    from importlib.metadata import requires

    return [r for r in requires("jaxgrads") or [] if "extra ==" not in r]


def release_dependencies(version: str, deps: Sequence[str] | None = None) -> list[str]:
    """The project's dependencies with jax and jaxlib pinned to ``version``."""
    if not RELEASE.match(version):
        raise JaxgradsError(f"jax release {version!r}: expected a version such as 0.4.30")
    rest = [d for d in (project_dependencies() if deps is None else deps)
            if re.split(r"[\s\[<>=!~;]", d, maxsplit=1)[0].lower() not in ("jax", "jaxlib")]  # fmt: skip
    return [f"jax=={version}", f"jaxlib=={version}", *rest]


def environment(folder: Path, deps: Sequence[str], log: Callable[[str], None] = print) -> str:
    """The interpreter of the environment ``folder`` with ``deps``, created (again) when it is not
    ready with exactly those; a failed install is a RuntimeError with pip's last line."""
    python = folder / "bin" / "python"
    ready = folder / ".ready"
    wanted = "\n".join(deps) + "\n"
    if ready.is_file() and ready.read_text(encoding="utf-8") == wanted and python.exists():
        return str(python)
    log(f"  environment {folder}: creating ({len(deps)} dependencies)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    for cmd in (
        [sys.executable, "-m", "venv", "--clear", str(folder)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *deps],
    ):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            raise RuntimeError(f"environment {folder.name}: {last}")
    ready.write_text(wanted, encoding="utf-8")
    return str(python)


def release_environment(version: str, log: Callable[[str], None] = print) -> str:
    """The interpreter of jax ``version``'s environment in the cache, created on first use; a
    release the package index lacks is a one-line JaxgradsError."""
    folder = cache_folder() / "releases" / f"jax-{version}"
    try:
        return environment(folder, release_dependencies(version), log)
    except RuntimeError as exc:
        raise JaxgradsError(f"jax {version}: cannot make its environment ({exc})") from None
