"""``jaxgrads run --function`` in a child process: the function registered again from the options.

A run's callgrind children (``--instructions``) and the processes of ``jaxgrads ab`` / ``releases``
rebuild every case from its problem's name, so a child must register the user's function as the
run did. The run puts its options in the environment (:data:`ENV`, JSON: the file or module of the
function and of its arguments, resolved to absolute paths, ``argnums``, ``batch_axis``, ``has_aux``)
and names this module among its plug-ins (:data:`jaxgrads.problems.plugins.LOADED`); imported in the
child, it registers the same problem under the same name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from jaxgrads.errors import JaxgradsError

__all__ = ["ENV", "export", "load_function", "register_from_env"]

ENV = "JAXGRADS_FUNCTION"


def _absolute(spec: str) -> str:
    where, sep, name = spec.rpartition(":")
    return f"{Path(where).resolve()}{sep}{name}" if sep and where.endswith(".py") else spec


def load_function(function: str, args_from: str | None, argnums) -> tuple:
    """(f, its arguments as a tuple, argnums: an int or a tuple) from ``MODULE:FN`` and
    ``MODULE:MAKE``; one line for a missing ``args_from``, an import failure or a ``MAKE`` that raises."""
    from jaxgrads.problems.plugins import load_object

    if args_from is None:
        raise JaxgradsError("--function needs --args-from MODULE:MAKE, a function returning its arguments")
    f = load_object(function, "--function")
    make = load_object(args_from, "--args-from")
    try:
        made = make()
    except Exception as exc:
        raise JaxgradsError(f"--args-from {args_from}: raised {type(exc).__name__}: {exc}") from None
    made = tuple(made) if isinstance(made, (tuple, list)) else (made,)  # the arguments, each any pytree
    argnums = list(argnums) if isinstance(argnums, (list, tuple)) else [argnums]
    return f, made, argnums[0] if len(argnums) == 1 else tuple(argnums)


def export(function: str, args_from: str, argnums, batch_axis: int | None, has_aux: bool) -> None:
    """Makes this process's children register the function: the options in :data:`ENV` and this
    module among the loaded plug-ins."""
    from jaxgrads.problems.plugins import LOADED

    argnums = list(argnums) if isinstance(argnums, (list, tuple)) else [argnums]
    options = {"function": _absolute(function), "args_from": _absolute(args_from), "argnums": argnums,
               "batch_axis": batch_axis, "has_aux": has_aux}  # fmt: skip
    os.environ[ENV] = json.dumps(options)
    if __name__ not in LOADED:
        LOADED.append(__name__)


def register_from_env() -> str | None:
    """Registers the function of :data:`ENV` (when set); returns its problem's name."""
    from jaxgrads.function.problem import function_problem

    text = os.environ.get(ENV)
    if not text:
        return None
    o = json.loads(text)
    f, made, argnums = load_function(o["function"], o["args_from"], o["argnums"])
    problem, _, _ = function_problem(f, made, argnums, batch_axis=o["batch_axis"], has_aux=o["has_aux"])
    return problem.name


register_from_env()
