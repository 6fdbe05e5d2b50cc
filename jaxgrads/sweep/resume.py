"""Continuing an interrupted sweep: the output made whole and consistent before anything runs."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from jaxgrads.errors import JaxgradsError
from jaxgrads.results.files import atomic_write_text, csv_header, cut_tail, read_text
from jaxgrads.results.schema import FIELDS, SAMPLE_FIELDS, read_results, row_key, samples_path, timed_rows

if TYPE_CHECKING:
    pass

__all__ = ["prepare_resume"]


def _note(text: str) -> None:
    print(f"jaxgrads: {text}", file=sys.stderr)


def _check_columns(path: Path, fields: tuple[str, ...]) -> None:
    """Refuses to append to a file whose columns are not this version's (in any order)."""
    header = csv_header(path)
    if header and sorted(header) != sorted(fields):
        missing = [f for f in fields if f not in header]
        extra = [f for f in header if f not in fields]
        raise JaxgradsError(
            f"{path}: its columns are not this version's (missing: {', '.join(missing) or 'none'}; "
            f"extra: {', '.join(extra) or 'none'}); resume into a new -o file, or pass --overwrite"
        )


def prepare_resume(out: Path) -> tuple[set[tuple], dict]:
    """Makes a resumed output whole and consistent before anything runs.

    A cut last row (a killed or out-of-space run) is dropped, in the CSV and in its samples; a
    file with other columns than this version writes is refused; a row marked ok without a finite
    time or without samples is removed, to be measured again; samples of rows that never reached
    the CSV are dropped. Returns the keys the output holds and its run's id columns.
    """
    import pandas as pd

    spath = samples_path(out)
    for path, fields in ((out, FIELDS), (spath, SAMPLE_FIELDS)):
        if path.is_file() and path.stat().st_size:
            read_text(path, "a jaxgrads results CSV" if path == out else "a samples CSV")  # text at all?
            dropped = cut_tail(path)
            if dropped:
                _note(f"{path}: dropped a cut last row ({dropped} bytes); it is measured again")
            _check_columns(path, fields)
    if len(csv_header(out)) == 0 or read_text(out, "a jaxgrads results CSV").count("\n") < 2:
        _drop_orphan_samples(spath, set())
        return set(), {}
    previous = read_results(out)
    sampled = set()
    if spath.is_file() and spath.stat().st_size:
        raw = pd.read_csv(io.StringIO(read_text(spath, "a samples CSV")), dtype=str, keep_default_na=False)
        sampled = {row_key(r) for r in raw.to_dict("records")}
    keys = [row_key(r) for r in previous.to_dict("records")]
    untimed = (previous["status"] == "ok") & ~previous.index.isin(timed_rows(previous).index)
    unsampled = (previous["status"] == "ok") & ~pd.Series([k in sampled for k in keys], index=previous.index)
    redo = (untimed | unsampled).to_numpy()
    if redo.any():
        lines = [r for r in csv.reader(io.StringIO(read_text(out, "a jaxgrads results CSV"))) if r]
        buf = io.StringIO()
        csv.writer(buf).writerows([lines[0]] + [r for r, bad in zip(lines[1:], redo, strict=True) if not bad])
        atomic_write_text(out, buf.getvalue())
        _note(
            f"{out}: {int(redo.sum())} row(s) marked ok without a finite time or samples are measured again"
        )
    done = {k for k, bad in zip(keys, redo, strict=True) if not bad}
    _drop_orphan_samples(spath, done)
    kept = previous[~redo]
    meta = {k: kept[k].iloc[0] for k in ("run_id", "started_at")} if len(kept) else {}
    return done, meta


def _drop_orphan_samples(path: Path, done: set[tuple]) -> None:
    """Removes samples whose row never reached the CSV (the sweep stopped between the two writes)."""
    import pandas as pd

    if not path.is_file() or path.stat().st_size == 0:
        return
    samples = pd.read_csv(io.StringIO(read_text(path, "a samples CSV")), dtype=str, keep_default_na=False)
    keep = [row_key(r) in done for r in samples.to_dict("records")]
    if not all(keep):
        atomic_write_text(path, samples[keep].to_csv(index=False))
