"""Runs on disk as the gate sees them: timed rows with raw samples, what is untimed and why, the
machine fingerprint, the closest committed baseline, and how far the machine's probes moved."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jaxgrads.errors import JaxgradsError
from jaxgrads.results.files import read_text
from jaxgrads.results.labels import row_kernel_id
from jaxgrads.results.schema import KEY, read_results, samples_path, timed_rows

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FINGERPRINT",
    "GATE_KEY",
    "VERSIONS",
    "Run",
    "closest_baseline",
    "fingerprint",
    "fingerprint_slug",
    "load_run",
    "machine_drift",
]

GATE_KEY: tuple[str, ...] = (*KEY, "backend")
FINGERPRINT: tuple[str, ...] = (
    "cpu_model",
    "cpu_count",
    "cpus_used",
    "backend",
    "device_kind",
    "jax_version",
    "jaxlib_version",
)
VERSIONS: tuple[str, ...] = ("backend", "jax_version", "jaxlib_version")


@dataclass
class Run:
    """A results CSV's timed rows, indexed by :data:`GATE_KEY`, with their raw samples.

    ``untimed`` maps every other kernel of the file to why it has no time: ``error: ...``,
    ``skipped: ...``, ``no finite time`` or ``no samples``.
    """

    path: str
    rows: pd.DataFrame
    samples: dict[tuple, np.ndarray]
    untimed: dict[tuple, str] = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # the first row: the run's machine and software

    def value(self, column: str):
        return self.info.get(column, "")


def load_run(path, *, role: str) -> Run:
    """Reads a results CSV and its samples for the gate; every defect is a one-line JaxgradsError.

    A baseline must have timed rows, each with its samples. The current run may have none: its
    kernels that failed, or whose samples are missing, are kept in ``Run.untimed`` for the gate to
    fail.
    """
    import pandas as pd

    is_baseline = role == "baseline"
    df = read_results(path, require_timed=is_baseline)
    if df.empty:
        raise JaxgradsError(f"{role} {path}: no rows (the run stopped before its first case?)")
    missing = [c for c in (*GATE_KEY, *FINGERPRINT, "dispatch_floor_s") if c not in df.columns]
    if missing:
        raise JaxgradsError(f"{role} {path}: missing columns {', '.join(missing)}")
    dup = df.duplicated(list(GATE_KEY), keep=False)
    if dup.any():
        first = df[dup].iloc[0]
        raise JaxgradsError(
            f"{role} {path}: duplicate rows for {row_kernel_id(first)} "
            f"(lines {', '.join(str(i + 2) for i in df.index[dup][:3])}); one row per kernel"
        )
    for col in FINGERPRINT:
        if df[col].astype(str).nunique() > 1:
            raise JaxgradsError(
                f"{role} {path}: rows from more than one machine ({col} differs); one run per file"
            )
    samples = _load_samples(path, role, header_only=df.empty)
    backend = str(df["backend"].iloc[0]) if len(df) else ""
    timed_index = timed_rows(df).index
    by_key, untimed, keep = {}, {}, []
    for i, r in zip(df.index, df.to_dict("records"), strict=True):
        key = tuple(str(r[k]) for k in KEY)
        t = samples.get(key)
        if r["status"] != "ok":
            untimed[(*key, backend)] = f"{r['status']}: {r['message']}".strip().rstrip(":")
        elif i not in timed_index:
            untimed[(*key, backend)] = "no finite time"
        elif t is None or len(t) == 0 or not np.all(np.isfinite(t)):
            if is_baseline:
                raise JaxgradsError(f"{role} {path}: no samples for {'-'.join(key)} (truncated?)")
            untimed[(*key, backend)] = "no samples"
        else:
            by_key[(*key, backend)] = t
            keep.append(i)
    timed = df.loc[keep].copy()
    timed.index = pd.MultiIndex.from_tuples(
        [(*k, backend) for k in timed[list(KEY)].astype(str).itertuples(index=False, name=None)],
        names=GATE_KEY,
    )
    return Run(str(path), timed, by_key, untimed, df.iloc[0].to_dict())


def _load_samples(path, role: str, *, header_only: bool) -> dict[tuple, np.ndarray]:
    """The raw samples beside a results CSV, by :data:`KEY`; a one-line JaxgradsError if unusable."""
    import pandas as pd

    spath = samples_path(path)
    if not spath.is_file():
        raise JaxgradsError(f"{role} {path}: no samples file {spath} beside it; the gate needs raw samples")
    text = read_text(spath, "a samples CSV") if spath.stat().st_size or not header_only else ""
    if not text:
        return {}
    try:
        raw = pd.read_csv(io.StringIO(text), dtype={k: str for k in KEY}, keep_default_na=False)
        raw["time_s"] = pd.to_numeric(raw["time_s"], errors="raise")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, KeyError, ValueError) as exc:
        raise JaxgradsError(f"{role} {spath}: not a samples CSV ({str(exc).splitlines()[0]})") from None
    missing = [k for k in KEY if k not in raw.columns]
    if missing:
        raise JaxgradsError(f"{role} {spath}: not a samples CSV (missing columns {', '.join(missing)})")
    return {k: g["time_s"].to_numpy(float) for k, g in raw.groupby(list(KEY), sort=False)}


def closest_baseline(folder, fp: Mapping[str, str]) -> tuple[Path | None, list[str]]:
    """The committed baseline nearest to fingerprint ``fp``, and the fingerprint fields it differs in.

    Only baselines of ``fp``'s backend qualify (timings and XLA metrics of another backend compare
    nothing). Among them: the same jax and jaxlib first (the XLA metrics are then comparable), then
    the most fingerprint fields in common, then the file name. ``(None, [])`` when none qualifies.
    """
    best, best_score, best_diff = None, None, []
    for path in sorted(Path(folder).glob("*.csv")):
        if path.name.endswith(".samples.csv"):
            continue
        try:
            with open(path, newline="", encoding="utf-8") as f:
                first = next(csv.DictReader(f), None)
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
        if not first or str(first.get("backend")) != fp["backend"]:
            continue
        diff = [k for k in FINGERPRINT if str(first.get(k, "")) != str(fp[k])]
        score = (all(k not in diff for k in VERSIONS), -len(diff))
        if best_score is None or score > best_score:
            best, best_score, best_diff = path, score, diff
    return best, best_diff


def fingerprint(run: Run) -> dict[str, str]:
    """The machine fingerprint: CPU model and count, backend, device kind, jax and jaxlib versions."""
    return {k: str(run.value(k)) for k in FINGERPRINT}


def fingerprint_slug(fp: Mapping[str, str]) -> str:
    """A file name for a fingerprint: ``cpu-amd-epyc-7b13-2cpu-pinned1-jax0.10.2-jaxlib0.10.2``."""
    device = fp["device_kind"] if fp["device_kind"].lower() != fp["backend"].lower() else ""
    cpus = f"{fp['cpu_count']}cpu"
    if fp.get("cpus_used") not in (None, "", fp["cpu_count"]):
        cpus += f"-pinned{fp['cpus_used']}"
    parts = [fp["backend"], device, fp["cpu_model"], cpus, f"jax{fp['jax_version']}",
             f"jaxlib{fp['jaxlib_version']}"]  # fmt: skip
    text = "-".join(p for p in parts if p)
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9.]+", "-", text.lower())).strip("-")


def machine_drift(baseline: Run, current: Run) -> dict[str, float]:
    """The current run's time for the machine's own probes over the baseline's: dispatch floor,
    memory bandwidth and matmul (the roofline's ceilings, inverted to times). Probes missing from
    either run are left out."""
    probes = {"dispatch floor": ("dispatch_floor_s", False), "memory": ("ceiling_bytes_per_s", True),
              "matmul": ("ceiling_flops_per_s", True)}  # fmt: skip
    out = {}
    for name, (col, rate) in probes.items():
        try:
            b, c = float(baseline.value(col)), float(current.value(col))
        except (TypeError, ValueError):
            continue
        if b > 0 and c > 0 and math.isfinite(b) and math.isfinite(c):
            out[name] = b / c if rate else c / b
    return out
