"""pytest-benchmark JSON (from bench/suite/test_benchmarks.py) to the runner's results CSV and samples.

Each benchmark of the suite carries the row the runner would have written in
``extra_info["jaxgrads"]``; its timing columns are replaced by pytest-benchmark's own statistics
(median, IQR, min, rounds, iterations) and its raw per-round times (``stats.data``, present when the
suite ran with ``--benchmark-save-data``) become the samples file, so ``jaxgrads report``,
``plot`` and ``gate`` read the result as they read a sweep.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path

import pandas as pd

from jaxgrads.errors import JaxgradsError
from jaxgrads.results.files import atomic_write_text, read_text
from jaxgrads.results.schema import FIELDS, KEY, SAMPLE_FIELDS, blank_row, read_results, samples_path

__all__ = ["import_pytest_benchmark"]


def _load(path: Path) -> list[dict]:
    text = read_text(path, "pytest-benchmark JSON (--benchmark-json)")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JaxgradsError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}); truncated?") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise JaxgradsError(f"{path}: no 'benchmarks' list; not pytest-benchmark JSON")
    if not doc["benchmarks"]:
        raise JaxgradsError(f"{path}: no benchmarks in the file (every case skipped?)")
    return doc["benchmarks"]


def _is_time(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x >= 0


def _row(path: Path, bench: dict) -> tuple[dict, list[float]]:
    if not isinstance(bench, dict):
        raise JaxgradsError(f"{path}: a 'benchmarks' entry is not an object; not pytest-benchmark JSON")
    name = bench.get("name", "?")
    row = (bench.get("extra_info") or {}).get("jaxgrads")
    if not isinstance(row, dict):
        raise JaxgradsError(
            f"{path}: benchmark {name} has no extra_info['jaxgrads'] row; only "
            "bench/suite/test_benchmarks.py's JSON can be imported"
        )
    stats = bench.get("stats")
    if not isinstance(stats, dict):
        raise JaxgradsError(f"{path}: benchmark {name} has no 'stats' object; not pytest-benchmark JSON")
    data = stats.get("data")
    if not data:
        raise JaxgradsError(
            f"{path}: benchmark {name} has no raw data; rerun with --benchmark-save-data "
            "(make bench-pytest does)"
        )
    missing = [k for k in ("median", "iqr", "min", "rounds", "iterations") if k not in stats]
    if missing:
        raise JaxgradsError(f"{path}: benchmark {name} stats lack {', '.join(missing)}")
    numbers = [stats[k] for k in ("median", "iqr", "min", "rounds", "iterations")]
    if not isinstance(data, list) or not all(_is_time(x) for x in [*data, *numbers]):
        raise JaxgradsError(
            f"{path}: benchmark {name} has a stat or data entry that is not a finite, non-negative number"
        )
    row = blank_row() | {f: row[f] for f in FIELDS if f in row} | {
        "time_median_s": stats["median"],
        "time_iqr_s": stats["iqr"],
        "time_min_s": stats["min"],
        "samples": stats["rounds"],
        "inner_loops": stats["iterations"],
    }  # fmt: skip
    flops, bytes_ = row.get("flops"), row.get("bytes_accessed")
    t = float(stats["median"])
    if isinstance(flops, int | float) and math.isfinite(flops) and t > 0:
        row["achieved_flops_per_s"] = flops / t
    if isinstance(bytes_, int | float) and math.isfinite(bytes_) and t > 0:
        row["achieved_bytes_per_s"] = bytes_ / t
    return row, [float(x) for x in data]


def import_pytest_benchmark(source: str | os.PathLike, out: str | os.PathLike) -> int:
    """Writes ``out`` (and its samples file) from pytest-benchmark JSON; returns the row count.

    Both files are built in memory and checked with the CSV reader before either is written.
    """
    source, out = Path(source), Path(out)
    rows, samples = [], []
    for bench in _load(source):
        row, data = _row(source, bench)
        rows.append(row)
        samples += [
            {"run_id": row["run_id"], **{k: row[k] for k in KEY}, "sample": i, "time_s": t}
            for i, t in enumerate(data)
        ]
    table = pd.DataFrame(rows, columns=list(FIELDS)).to_csv(index=False)
    sample_table = pd.DataFrame(samples, columns=list(SAMPLE_FIELDS)).to_csv(index=False)
    probe = out.with_name(f".{out.name}.check.csv")
    try:
        probe.write_text(table)
        read_results(probe, require_timed=True)  # the same checks every reader applies
    finally:
        probe.unlink(missing_ok=True)
    pd.read_csv(io.StringIO(sample_table))
    atomic_write_text(samples_path(out), sample_table)
    atomic_write_text(out, table)
    return len(rows)
