"""Each sweep option declared once, for the three places that speak them.

:data:`SWEEP_OPTIONS` is read by ``jaxgrads run`` (and ``baseline`` and ``ab``, which forward to it)
through :func:`add_sweep_options` on an argparse parser, by the pytest-benchmark suite through the
same function on pytest's ``addoption`` (``bench/suite/conftest.py``, with the prefix ``--jaxgrads-``), and
in reverse by :func:`rerun_args`, which writes the options of a child ``jaxgrads run`` that measures
given rows again. A new option is one :class:`SweepOption` here.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jaxgrads.errors import JaxgradsError
from jaxgrads.sweep.config import PRESETS, Sweep, sizes_from
from jaxgrads.sweep.plan import REGIMES
from jaxgrads.validation import DTYPES, positive_int, resolve_dtype

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_SECONDS", "PROBLEMS_FROM", "SWEEP_OPTIONS", "SweepOption", "add_sweep_options", "rerun_args",
    "shard_of", "sweep_from",
]  # fmt: skip

MAX_SECONDS = 3600.0  # a sample or a first call longer than an hour is a typo, not a benchmark


def seconds(text: str) -> float:
    """An argparse type: a positive number of seconds, at most :data:`MAX_SECONDS`."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of seconds up to {MAX_SECONDS:g}, got {text!r}"
        )
    return value


def memory(text: str) -> int:
    """An argparse type: ``8GiB``, ``512MiB``, ``4096`` (bytes), at least one byte."""
    units = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "kib": 2**10, "mib": 2**20, "gib": 2**30}
    t = text.strip().lower()
    num = t.rstrip("kmgib")
    unit = t[len(num) :]
    try:
        value = float(num) * units[unit]
    except (ValueError, KeyError):
        value = math.nan
    if not (math.isfinite(value) and value >= 1):
        raise argparse.ArgumentTypeError(
            f"expected a memory size of at least 1 byte like 8GiB or 512MiB, got {text!r}"
        )
    return int(value)


def shard_of(text: str) -> tuple[int, int]:
    """``K/N`` (1 <= K <= N) as (K, N); a one-line JaxgradsError naming what is valid otherwise."""
    k, _, n = str(text).partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise JaxgradsError(f"--shard {text}: expected K/N with 1 <= K <= N, e.g. 1/4 ... 4/4")
    return int(k), int(n)


def _names(column: str) -> Callable[[pd.DataFrame], list[str]]:
    return lambda rows: sorted(set(rows[column].astype(str)))


def _nonzero(column: str) -> Callable[[pd.DataFrame], list[str]]:
    return lambda rows: sorted({str(int(v)) for v in rows[column] if int(v)})


def _sizes(rows: pd.DataFrame) -> list[str]:
    """``MxN`` of each row (m = 0, an unused dimension, reruns as square)."""
    return sorted({f"{int(r.m) or int(r.n)}x{int(r.n)}" for r in rows.itertuples()})


def _missing(value) -> bool:
    """A missing results cell (None, NaN, pandas' NA)."""
    try:
        return value is None or bool(value != value)
    except TypeError:  # pandas' NA has no truth value
        return True


def _first(column: str, keep: Callable[[str], bool]) -> Callable[[pd.DataFrame], list[str]]:
    def values(rows: pd.DataFrame) -> list[str]:
        if column not in rows or not len(rows) or _missing(rows[column].iloc[0]):
            return []
        value = str(rows[column].iloc[0])
        return [value] if keep(value) else []

    return values


@dataclass(frozen=True)
class SweepOption:
    """One option of a sweep.

    Attributes:
      name: its dest; the flag is ``--name`` with dashes.
      argparse: keyword arguments for ``add_argument``/``addoption`` (help, nargs, type, ...).
      sweep_field: the :class:`Sweep` field it sets, or None where the CLI acts on it itself.
      parse: the given value to the field's (default: the value, tuples for lists).
      from_rows: the option's values that reproduce given results rows (:func:`rerun_args`); a
        flag (no values) is given when this returns ``[""]``.
    """

    name: str
    argparse: Mapping[str, Any]
    sweep_field: str | None = None
    parse: Callable[[Any], Any] | None = None
    from_rows: Callable[[pd.DataFrame], list[str]] | None = field(default=None, repr=False)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


# a plug-in file or module registering problems, repeatable: `run` reads it here, the other commands
# through jaxgrads.cli.common_args
PROBLEMS_FROM: Mapping[str, Any] = {"action": "append", "default": [], "metavar": "FILE_OR_MODULE"}

SWEEP_OPTIONS: tuple[SweepOption, ...] = (
    SweepOption("preset", {"default": "default", "choices": tuple(PRESETS),
                           "help": "the base sweep (%(default)s); scaling: squares 32-512; crossover: "
                                   "matvec/x fwd vs rev; structure: dense vs colored"}),
    SweepOption("quick", {"action": "store_true", "help": "the same as --preset quick"}),
    SweepOption("problems", {"nargs": "+", "metavar": "NAME", "help": "default: all"}, "problems",
                from_rows=_names("problem")),
    SweepOption("wrt", {"nargs": "+", "metavar": "ARG", "help": "default: every derivative"}, "wrt",
                from_rows=_names("wrt")),
    SweepOption("methods", {"nargs": "+", "metavar": "NAME",
                            "help": "default: every JAX method that applies; 'torch': the peer"},
                "methods", from_rows=_names("method")),
    SweepOption("chunk_sizes", {"nargs": "+", "metavar": "C",
                                "help": "basis vectors per step of the chunked methods (64)"},
                "chunk_sizes", lambda v: tuple(positive_int("chunk size", c) for c in v),
                from_rows=_nonzero("chunk_size")),
    SweepOption("sizes", {"nargs": "+", "metavar": "N|MxN", "help": "e.g. 1024 4096x64"}, "sizes",
                sizes_from,
                from_rows=_sizes),
    SweepOption("regimes", {"nargs": "+", "choices": (*REGIMES, "none"),
                            "help": "per target, add the size that reaches each regime's traffic "
                                    "(default: cache memory; none with --sizes)"},
                "regimes", lambda v: tuple(r for r in v if r != "none"), from_rows=lambda rows: ["none"]),
    SweepOption("batch", {"nargs": "+", "metavar": "B", "help": "batch rows for the linear layer"},
                "batches", lambda v: tuple(positive_int("--batch", b) for b in v),
                from_rows=_nonzero("batch")),
    SweepOption("dtypes", {"nargs": "+", "metavar": "DTYPE", "help": f"of {', '.join(DTYPES)}"}, "dtypes",
                lambda v: tuple(resolve_dtype(d).name for d in v), from_rows=_names("dtype")),
    SweepOption("device", {"default": "auto", "help": "cpu, gpu, or auto (the GPU if JAX sees one)"},
                "device"),
    SweepOption("devices", {"type": int, "metavar": "N",
                            "help": "the sharded methods' mesh: N devices (a CPU gets N host devices; "
                                    "default: all JAX sees)"},
                "devices", lambda v: positive_int("--devices", v),
                from_rows=_first("devices", lambda v: v.isdigit() and int(v) > 1)),
    SweepOption("shard", {"metavar": "K/N", "help": "run only every N-th case, from the K-th (1 <= K <= N): "
                                                    "one machine's part of a sweep split across N"},
                "shard", lambda v: shard_of(v)),
    SweepOption("samples", {"type": int, "help": "samples per row (default 7; quick 5; gate 9)"}, "samples",
                lambda v: positive_int("--samples", v),
                from_rows=lambda rows: [str(int(rows["samples"].max()))]),
    SweepOption("min_sample_time", {"type": seconds, "metavar": "S", "help": "seconds per sample"},
                "min_sample_s"),
    SweepOption("max_time", {"type": seconds, "metavar": "S",
                             "help": "a kernel's samples together last about S seconds: a slow kernel "
                                     "keeps fewer, at least 3 (1; gate: all)"},
                "max_time_s"),
    SweepOption("memory_budget", {"type": memory, "metavar": "SIZE", "help": "default: half of free"},
                "memory_budget"),
    SweepOption("max_steps", {"type": int, "metavar": "N",
                              "help": "skip loop/map methods of more sequential steps (16384)"},
                "max_steps", lambda v: positive_int("--max-steps", v)),
    SweepOption("max_call_time", {"type": seconds, "metavar": "S",
                                  "help": "skip a case whose first call takes longer (10; gate 0.1)"},
                "max_call_s"),
    SweepOption("jobs", {"type": int, "metavar": "N",
                         "help": "compile N kernels at once, ahead of timing them one by one "
                                 "(default: the CPUs the run may use; 1: one at a time)"},
                "jobs", lambda v: positive_int("--jobs", v)),
    # the runner's, not the pytest suite's (whose harness is pytest-benchmark's timer): no Sweep field
    SweepOption("instructions", {"action": "store_true",
                                 "help": "also count instructions per call under valgrind's callgrind"}),
    SweepOption("problems_from", PROBLEMS_FROM),
    SweepOption("cpus", {"type": int, "metavar": "N", "help": "pin the run to N CPUs (gate preset: 1)"},
                from_rows=_first("cpus_used", lambda v: v.isdigit())),
    SweepOption("no_x64", {"action": "store_true", "help": "leave JAX's x64 mode off (no float64)"},
                from_rows=lambda rows: [""] if _first("x64", lambda v: v.lower() == "false")(rows) else []),
    SweepOption("matmul_precision", {"default": "highest", "choices": ("default", "high", "highest"),
                                     "help": "jax_default_matmul_precision (GPU float32: default is "
                                             "TF32, ~1e-3 relative)"},
                from_rows=_first("matmul_precision", lambda v: v in ("default", "high", "highest"))),
)  # fmt: skip


def add_sweep_options(add: Callable[..., Any], prefix: str = "--", *, fields_only: bool = False) -> None:
    """Declares every sweep option with ``add`` (``parser.add_argument`` or pytest's ``addoption``).

    ``prefix`` replaces ``--`` (the pytest suite: ``--jaxgrads-``, dest ``jaxgrads_<name>``);
    ``fields_only`` keeps the options that set a :class:`Sweep` field.
    """
    for option in SWEEP_OPTIONS:
        if fields_only and option.sweep_field is None:
            continue
        flag = prefix + option.name.replace("_", "-")
        add(flag, dest=(prefix.strip("-").replace("-", "_") + "_" if prefix != "--" else "") + option.name,
            **option.argparse)  # fmt: skip


def sweep_from(values: Mapping[str, Any], base: Sweep) -> Sweep:
    """``base`` with each given option (``values`` by option name; None or empty: not given) set."""
    changes = {}
    if values.get("sizes") and not values.get("regimes"):  # sizes given: those sizes alone
        changes["regimes"] = ()
    for option in SWEEP_OPTIONS:
        value = values.get(option.name)
        if option.sweep_field is None or value is None or value == [] or value is False:
            continue
        parse = option.parse or (lambda v: tuple(v) if isinstance(v, list) else v)
        changes[option.sweep_field] = parse(value)
    return Sweep(**{**base.__dict__, **changes})


def rerun_args(rows: pd.DataFrame) -> list[str]:
    """``jaxgrads run`` options whose sweep covers every kernel in ``rows`` (and maybe a few more).

    The sweep is a cross product, so rows of two problems at two sizes rerun four (problem, size)
    pairs; the caller picks out the ones it asked for.
    """
    args: list[str] = []
    for option in SWEEP_OPTIONS:
        values = option.from_rows(rows) if option.from_rows else []
        if values:
            args += [option.flag, *(v for v in values if v)]
    return args
