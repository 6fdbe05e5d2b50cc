"""The arguments several commands take, each declared once: what writes a file (``--output``,
``--overwrite``), what loads plug-ins (``--problems-from``), where baselines live, and the
slowdown that counts as a regression (``--threshold``)."""

from __future__ import annotations

import argparse

__all__ = [
    "BASELINES_DIR",
    "add_baselines_dir",
    "add_output",
    "add_overwrite",
    "add_problems_from",
    "add_threshold",
]

BASELINES_DIR = "results/baselines"  # the gate's baselines, one CSV per machine fingerprint


def add_output(p: argparse.ArgumentParser, metavar: str, help: str, *, required: bool = False) -> None:
    """``--output/-o``: the file or folder a command writes (``metavar`` says which)."""
    p.add_argument("--output", "-o", required=required, metavar=metavar, help=help)


def add_overwrite(p: argparse.ArgumentParser, what: str = "an existing output") -> None:
    """``--overwrite``: replace ``what`` (without it, an existing output is an error, never lost)."""
    p.add_argument("--overwrite", action="store_true", help=f"replace {what}")


def add_problems_from(p: argparse.ArgumentParser, flag: str = "--problems-from") -> None:
    """A plug-in file or module registering problems (repeatable; the sweep option's declaration,
    :data:`jaxgrads.sweep.options.PROBLEMS_FROM`); A/B gives one per side."""
    from jaxgrads.sweep.options import PROBLEMS_FROM

    p.add_argument(flag, **PROBLEMS_FROM)


def add_baselines_dir(p: argparse.ArgumentParser, flag: str, help: str | None = None) -> None:
    """The folder of the gate's baselines (``results/baselines``)."""
    p.add_argument(flag, default=BASELINES_DIR, metavar="DIR", help=help)


def add_threshold(p: argparse.ArgumentParser, default: str | None, help: str) -> None:
    """``--threshold``: the relative slowdown (``10%`` or ``0.1``) that counts as a regression: of a
    kernel's median against its baseline (the gate), or of a step in a series (the history)."""
    p.add_argument("--threshold", default=default, help=help)
