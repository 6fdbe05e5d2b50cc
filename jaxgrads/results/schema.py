"""The CSV schema: one tidy row per measurement, columns in the one order :data:`FIELDS` owns.

The CSV writer, the report and the gate all read column names from here. Units: seconds (``*_s``),
bytes (``*_bytes``, ``bytes_accessed``), floating-point operations (``flops``); errors are relative
except ``max_abs_err``.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from jaxgrads.errors import JaxgradsError
from jaxgrads.results.files import read_text, samples_path

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FIELDS",
    "KEY",
    "MERGE_KEY",
    "SCHEMA_VERSION",
    "blank_row",
    "one_per_case",
    "SAMPLE_FIELDS",
    "STATUSES",
    "read_results",
    "timed_rows",
    "row_key",
    "samples_path",
]

FIELDS: tuple[str, ...] = (
    # the run: identical in every row of one run
    "run_id",  # 12 hex digits
    "started_at",  # ISO 8601, UTC
    "git_commit",  # of the jaxgrads checkout, or "" outside one
    "host",
    "cpu_model",
    "backend",  # cpu, gpu, ...
    "device_kind",  # e.g. "cpu", "NVIDIA H200"
    "jax_version",
    "jaxlib_version",
    "x64",  # JAX x64 mode on
    # the case
    "problem",
    "wrt",  # x, A, ... ; xx for the Hessian in x
    "method",
    "m",  # 0 where the problem does not use the dimension
    "n",
    "batch",
    "dtype",
    "jac_shape",  # e.g. "1024x1024"
    "jac_bytes",  # bytes of the Jacobian
    "status",  # ok, skipped, error
    "message",  # why skipped / the error, one line
    # time
    "compile_s",  # trace + lower + XLA compile, cold
    "time_median_s",  # median over samples of seconds per call
    "time_iqr_s",
    "time_min_s",
    "samples",  # number of samples
    "inner_loops",  # calls averaged in one sample
    # XLA's own accounting (sum over a loop kernel's calls)
    "flops",  # cost_analysis: before optimisation
    "bytes_accessed",  # cost_analysis: after optimisation
    "temp_bytes",  # memory_analysis
    "output_bytes",
    "peak_bytes",
    # accuracy
    "err_closed_form",  # ||J - J_closed|| / ||J_closed||, closed form in the same dtype
    "err_f64",  # ... against the float64 NumPy closed form
    "max_abs_err",  # max |J - J_f64|
    "ok",  # within the dtype's tolerance, finite
    # more run metadata
    "cpu_count",
    "dispatch_floor_s",  # median seconds of a compiled no-op on the device
    "matmul_precision",  # jax_default_matmul_precision in force
    "compile_cache",  # "off", or the persistent compilation cache directory
    "memory_budget_bytes",
    "chunk_size",  # basis vectors per step of a chunked method, 0 otherwise
    "compile_kind",  # "xla" (ahead-of-time compile) or "first_call" (the eager torch peer)
    "torch_threads",  # PyTorch intra-op threads, "" when PyTorch is not loaded
    # the roofline (measure.roofline): the run's ceilings in the row's dtype, and the row against them
    "ceiling_bytes_per_s",  # main memory, in place: bytes read + written per second
    "ceiling_flops_per_s",  # a square matmul
    "achieved_flops_per_s",  # flops / time_median_s
    "achieved_bytes_per_s",  # bytes_accessed / time_median_s
    "roofline_frac",  # max(flops / ceiling_flops, bytes / ceiling_bytes) / time_median_s
    # the cost model's inputs: forward mode pushes wrt_elements tangents, reverse out_elements cotangents
    "wrt_elements",
    "out_elements",
    "cpus_used",  # CPUs the process may run on (the gate's sweep pins itself to one)
    # the instruction tier (sweep.instructions, --instructions): counted under valgrind's callgrind
    "instructions",  # per Jacobian call, every thread, XLA single-threaded
    "noop_instructions",  # per call of a compiled no-op in the same process: the dispatch part
    "instr_calls",  # calls the count was taken over
    "valgrind_version",
    "isa_class",  # the CPU the process saw under valgrind (its ISA level and CPUID brand)
    # the floor (measure.floor): the cache-aware ceilings, the compulsory cost, and the row against it
    "ceiling_l1_bytes_per_s",  # working sets that fit each cache level, in place
    "ceiling_l2_bytes_per_s",
    "ceiling_l3_bytes_per_s",
    "ceiling_first_touch_bytes_per_s",  # writing an output on fresh pages ("" where none are)
    "cache_l1_bytes",  # the machine's data caches ("" where it reports none)
    "cache_l2_bytes",
    "cache_l3_bytes",
    "traffic_bytes",  # compulsory: the inputs the derivative depends on, read, and the Jacobian, written
    "traffic_read_bytes",  # the read part of traffic_bytes
    "min_flops",  # the fewest flops of the closed form
    "floor_s",  # max(dispatch floor, traffic / bandwidth of its level or first touch, flops / peak)
    "floor_frac",  # floor_s / time_median_s: 1 at the limit, below 0.9 a defect of the floor
    "floor_level",  # what binds: dispatch, L1, L2, L3, memory, first-touch, compute
    # devices (methods.sharded): a sharded method's mesh; peak_bytes and the XLA memory columns are
    # then one device's (memory_analysis of the partitioned program)
    "devices",  # devices computing the Jacobian: the mesh's size, 1 for the other methods
    "mesh_shape",  # e.g. "basis=4"; "" for a one-device method
    "processes",  # processes of the run (jax.distributed), 1 for one
    # structure (methods.colored, peers.asdex): the Jacobian's nonzeros and a colored method's work
    "nnz",  # structural nonzeros of the Jacobian (the derivative's declared pattern; dense: every entry)
    "colors",  # JVPs / VJPs / HVPs a colored method pushes ("" for the others)
    "prep_s",  # a colored method's sparsity detection + coloring, before compiling (seconds)
    "output_format",  # dense, or bcoo (jax.experimental.sparse)
    "schema_version",  # SCHEMA_VERSION of the writer; files from before this column are version 1
    # version 3
    "cache_source",  # where cache_l*_bytes come from (sysfs, JAXGRADS_CACHES...) and the probe's check
    # version 4
    "compile_jobs",  # kernels compiling at once when this one compiled (--jobs; 1: alone)
    # version 5
    "wrt_leaves",  # array leaves of the differentiated argument(s): 1 for an array, more for a pytree
    "out_leaves",  # array leaves of the output
    # version 6: what the case decided (measure.case.Case), so nothing downstream works it out again
    "steps",  # sequential steps of one Jacobian (1 for a vectorized method; chunks for a chunked walk)
    "basis",  # basis vectors the method walks or holds: output or input elements (1 at least)
    "memory_bytes",  # the case's estimated peak: what the memory budget is checked against
)
# the column set a file was written with: columns are only ever appended to FIELDS, so a reader of
# version N reads every version up to N; a file from a newer writer is refused (read_results)
SCHEMA_VERSION = 6
# a row's identity across runs: a case measured on 1 and on 4 devices is two measurements
MERGE_KEY_DEFAULTS = {"devices": 1, "processes": 1}
KEY: tuple[str, ...] = ("problem", "wrt", "method", "m", "n", "batch", "dtype", "chunk_size")
MERGE_KEY: tuple[str, ...] = (*KEY, *MERGE_KEY_DEFAULTS)  # KEY is unique within one run
SAMPLE_FIELDS: tuple[str, ...] = ("run_id", *KEY, "sample", "time_s")
STATUSES = ("ok", "skipped", "error")
_INT_FIELDS = (
    "m", "n", "batch", "jac_bytes", "samples", "inner_loops", "cpu_count", "chunk_size", "wrt_elements",
    "out_elements", "cpus_used", "instr_calls", "devices", "processes", "colors", "schema_version",
    "compile_jobs", "wrt_leaves", "out_leaves", "steps", "basis", "memory_bytes",
)  # fmt: skip
_STR_FIELDS = (
    "run_id", "started_at", "git_commit", "host", "cpu_model", "backend", "device_kind", "jax_version",
    "jaxlib_version", "problem", "wrt", "method", "dtype", "jac_shape", "status", "message",
    "matmul_precision", "compile_cache", "compile_kind", "valgrind_version", "isa_class", "floor_level",
    "mesh_shape", "output_format",
)  # fmt: skip


def blank_row() -> dict:
    """A row of this schema with every column empty but ``schema_version``."""
    return {f: "" for f in FIELDS} | {"schema_version": SCHEMA_VERSION}


def one_per_case(df: pd.DataFrame) -> pd.DataFrame:
    """One row per :data:`KEY`: of a case measured on several device or process counts (results
    merged across runs), the one on the fewest. What every table but the devices section shows."""
    if not all(c in df.columns for c in MERGE_KEY_DEFAULTS):
        return df
    order = df.sort_values(list(MERGE_KEY_DEFAULTS), kind="stable")
    return order.drop_duplicates(list(KEY), keep="first").sort_index()


def row_key(row: Mapping) -> tuple:
    """The identity of a measurement: problem, wrt, method, m, n, batch, dtype."""
    return tuple(str(row[k]) for k in KEY)


def read_results(path: str | os.PathLike, *, require_timed: bool = False) -> pd.DataFrame:
    """Loads a results CSV, checking it is one: raises a one-line JaxgradsError otherwise.

    Args:
      path: the CSV.
      require_timed: also require at least one row with status ``ok`` and a time.
    """
    import pandas as pd

    path = Path(path)
    text = read_text(path, "a jaxgrads results CSV")
    try:
        df = pd.read_csv(
            io.StringIO(text),
            keep_default_na=False,
            na_values={c: ["nan", "NaN", ""] for c in FIELDS if c not in _STR_FIELDS},
            dtype=dict.fromkeys(_STR_FIELDS, str),
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise JaxgradsError(f"{path}: not a CSV ({str(exc).splitlines()[0]})") from None
    missing = [f for f in FIELDS[: FIELDS.index("ok") + 1] if f not in df.columns]
    if missing:
        raise JaxgradsError(f"{path}: missing columns {', '.join(missing)}; not a jaxgrads results CSV")
    bad = ~df["status"].isin(STATUSES)
    if bad.any():
        raise JaxgradsError(
            f"{path}: row {int(bad.idxmax()) + 2} has status {df['status'][bad].iloc[0]!r}; "
            f"valid: {', '.join(STATUSES)} (truncated file?)"
        )
    _check_version(path, df)
    for col in _INT_FIELDS:
        if col in df.columns:
            df[col] = _integers(df[col])
    if "chunk_size" not in df.columns:
        df["chunk_size"] = pd.array([0] * len(df), dtype="Int64")
    for col, default in MERGE_KEY_DEFAULTS.items():  # files from before these columns: one device
        if col not in df.columns:
            df[col] = pd.array([default] * len(df), dtype="Int64")
        else:
            df[col] = df[col].fillna(default)
    for col in ("m", "n", "batch", "chunk_size"):
        if df[col].isna().any():
            raise JaxgradsError(f"{path}: column {col} has a non-integer value (truncated file?)")
    df["ok"] = df["ok"].astype(str).str.lower().eq("true")
    if require_timed and timed_rows(df).empty:
        raise JaxgradsError(f"{path}: no timed rows (every row skipped, failed or without a finite time)")
    return df


def _check_version(path: Path, df: pd.DataFrame) -> None:
    """Refuses a file written with a schema this reader does not know (a newer jaxgrads, or a column
    that is not a version number)."""
    import pandas as pd

    if "schema_version" not in df.columns:
        df["schema_version"] = 1
        return
    raw = df["schema_version"]
    version = pd.to_numeric(raw, errors="coerce")
    bad = raw.notna() & ~version.isin(range(1, SCHEMA_VERSION + 1))
    if bad.any():
        i = int(bad.idxmax())
        raise JaxgradsError(
            f"{path}: row {i + 2} has schema_version {str(raw[i])!r}; this jaxgrads reads results "
            f"schema versions 1 to {SCHEMA_VERSION} (written by a newer jaxgrads? upgrade it)"
        )
    df["schema_version"] = version.fillna(1)


def _integers(column: pd.Series) -> pd.Series:
    """Integer columns as Int64; one holding a count past int64 (a huge Jacobian's bytes) as float."""
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    if values.dtype == object:  # integers past uint64: Python ints
        values = values.astype(float)
    finite = values.dropna()
    if len(finite) and not finite.abs().le(2**62).all():
        return values.astype(float)
    return values.astype("Int64")


def timed_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that carry a usable time: status ok and a finite, positive median."""
    import pandas as pd

    t = pd.to_numeric(df["time_median_s"], errors="coerce")
    return df[(df["status"] == "ok") & t.map(lambda v: math.isfinite(v) and v > 0)]
