"""Loading user problems: a plug-in file or dotted module registers problems when it is imported."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path

from jaxgrads.errors import JaxgradsError

__all__ = ["LOADED", "load_object", "load_problems"]

# every plug-in loaded in this process, as given (files made absolute): child processes load them too
LOADED: list[str] = []


def _run_file(path: Path):
    """Imports a user's ``.py`` file as the module ``jaxgrads_user_<stem>``."""
    spec = importlib.util.spec_from_file_location(f"jaxgrads_user_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_problems(sources: Iterable[str]) -> None:
    """Imports each plug-in file or dotted module; they register problems on import.

    A missing file or module, or one that raises, is a one-line JaxgradsError naming it.
    """
    for source in sources:
        path = Path(source)
        try:
            if source.endswith(".py") or path.exists():
                if not path.is_file():
                    raise JaxgradsError(f"--problems-from {source}: no such file")
                _run_file(path)
                source = str(path.resolve())
            else:
                importlib.import_module(source)
        except JaxgradsError:
            raise
        except ModuleNotFoundError as exc:
            raise JaxgradsError(f"--problems-from {source}: {exc}") from None
        except Exception as exc:
            first = (str(exc).splitlines() or [""])[0]
            raise JaxgradsError(
                f"--problems-from {source}: import failed: {type(exc).__name__}: {first}"
            ) from None
        if source not in LOADED:
            LOADED.append(source)


def load_object(spec: str, flag: str):
    """``MODULE:NAME`` or ``FILE.py:NAME``: that object of the module (imported, or run from the
    file); anything missing or raising is a one-line JaxgradsError naming ``flag`` and ``spec``."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise JaxgradsError(f"{flag} {spec}: expected MODULE:NAME or FILE.py:NAME, e.g. layers.py:mlp_block")
    try:
        if where.endswith(".py"):
            if not Path(where).is_file():
                raise JaxgradsError(f"{flag} {spec}: no such file {where}")
            module = _run_file(Path(where))
        else:
            module = importlib.import_module(where)
    except JaxgradsError:
        raise
    except Exception as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise JaxgradsError(f"{flag} {spec}: import failed: {type(exc).__name__}: {first}") from None
    if not hasattr(module, name):
        raise JaxgradsError(f"{flag} {spec}: {where} has no {name!r}")
    return getattr(module, name)
