"""The arguments several commands take, each declared once: what writes a file (``--output``,
``--overwrite``), what loads plug-ins (``--problems-from``), where baselines live, and the
slowdown that counts as a regression (``--threshold``)."""

from __future__ import annotations

import argparse
import sys

__all__ = [
    "BASELINES_DIR",
    "add_baselines_dir",
    "add_function",
    "add_rounds",
    "function_args",
    "require_output",
    "add_output",
    "add_overwrite",
    "add_problems_from",
    "add_threshold",
]

BASELINES_DIR = "results/baselines"  # the gate's baselines, one CSV per machine fingerprint


class _Replaced(argparse.Action):
    """An option's old spelling, still accepted for a release: it sets the new option and says, on
    stderr, which one replaces it."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"jaxgrads: warning: {option_string} is replaced by -o/--output (accepted until the next "
              "release)", file=sys.stderr)  # fmt: skip
        setattr(namespace, self.dest, values)


def add_output(
    p: argparse.ArgumentParser, metavar: str, help: str, *, required: bool = False,
    default: str | None = None, replaces: tuple[str, ...] = (),
) -> None:
    """``--output/-o``: the file or folder a command writes (``metavar`` says which), the one spelling
    of an output location in every command; ``replaces``: the command's earlier spellings, accepted
    with a warning. A required output with old spellings is checked by :func:`require_output`."""
    p.add_argument("--output", "-o", required=required and not replaces, default=default, metavar=metavar,
                   help=help)  # fmt: skip
    for old in replaces:
        p.add_argument(old, dest="output", action=_Replaced, metavar=metavar, help=argparse.SUPPRESS)


def require_output(args) -> str:
    """``args.output``, or the one-line error argparse gives a missing required option."""
    if args.output is None:
        from jaxgrads.errors import JaxgradsError

        raise JaxgradsError("the following arguments are required: --output/-o")
    return args.output


def add_rounds(p: argparse.ArgumentParser, what: str) -> None:
    """``--rounds N``: fresh processes of a sweep (baseline's pooled, A/B's pairs, releases')."""
    p.add_argument("--rounds", type=int, default=3, help=f"{what} (%(default)s)")


def add_overwrite(p: argparse.ArgumentParser, what: str = "an existing output") -> None:
    """``--overwrite``: replace ``what`` (without it, an existing output is an error, never lost)."""
    p.add_argument("--overwrite", action="store_true", help=f"replace {what}")


def add_problems_from(p: argparse.ArgumentParser, flag: str = "--problems-from") -> None:
    """A plug-in file or module registering problems (repeatable; the sweep option's declaration,
    :data:`jaxgrads.sweep.options.PROBLEMS_FROM`); A/B gives one per side."""
    from jaxgrads.sweep.options import PROBLEMS_FROM

    p.add_argument(flag, **PROBLEMS_FROM)


def add_function(p, *, required: bool = False) -> None:
    """Your own function and its arguments (``jaxgrads run --function``, ``jaxgrads advise``):
    ``--function``, ``--args-from``, ``--argnums``, ``--batch-axis``, ``--has-aux``."""
    u = p.add_argument_group("your own function (jaxgrads.compare's: every method at your arguments)")
    u.add_argument("--function", required=required, metavar="MODULE:FN",
                   help="a JAX function, e.g. layers.py:mlp_block")  # fmt: skip
    u.add_argument("--args-from", metavar="MODULE:MAKE",
                   help="a function returning FN's arguments (a tuple: one entry, any pytree, per argument)")
    u.add_argument("--argnums", type=int, nargs="+", default=[0], metavar="I",
                   help="the argument(s) to differentiate (0); several: their pytrees together")
    u.add_argument("--batch-axis", type=int, metavar="AXIS",
                   help="per-example Jacobians over this axis of the differentiated leaves and outputs")
    u.add_argument("--has-aux", action="store_true",
                   help="FN returns (output, aux); aux is not differentiated")


def function_args(args) -> tuple:
    """``--function``'s function, its arguments and ``argnums`` (an int, or a tuple for several)."""
    from jaxgrads.function.plugin import load_function

    return load_function(args.function, args.args_from, args.argnums)


def add_baselines_dir(p: argparse.ArgumentParser, flag: str, help: str | None = None) -> None:
    """The folder of the gate's baselines (``results/baselines``)."""
    p.add_argument(flag, default=BASELINES_DIR, metavar="DIR", help=help)


def add_threshold(p: argparse.ArgumentParser, default: str | None, help: str) -> None:
    """``--threshold``: the relative slowdown (``10%`` or ``0.1``) that counts as a regression: of a
    kernel's median against its baseline (the gate), or of a step in a series (the history)."""
    p.add_argument("--threshold", default=default, help=help)
