"""The history folder: results CSVs of many commits, kept as they were written, one file per run.

Layout of ``results/history/`` (or ``--history DIR``)::

    runs/<started_at>-<commit>-<run_id>.csv          a run, as ``jaxgrads run`` wrote it
    runs/<started_at>-<commit>-<run_id>.samples.csv  its raw samples, when it had them
    measured.csv                                     commits ``history measure`` finished here
    work/                                            ``history measure``'s worktrees, environments
                                                     and partial runs (resumed, then removed)

A run enters once (its ``run_id`` names the file): adding it again is a no-op. The samples file is
written before the rows, each atomically, so a killed ``add`` leaves either the whole run or no run
(a samples file alone is ignored and rewritten by the next ``add``). Writers hold a lock on the
folder, so two ``add`` or ``measure`` processes take turns instead of interleaving.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from jaxgrads.errors import JaxgradsError
from jaxgrads.results.files import atomic_write_text, read_text
from jaxgrads.results.locks import OutputLock
from jaxgrads.results.schema import read_results, samples_path

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_FOLDER", "History", "commit_hash"]

DEFAULT_FOLDER = Path("results") / "history"


def commit_hash(described: str) -> str:
    """The commit's hex prefix from a run's ``git_commit`` (``git describe`` output): ``v1.2-3-gabc123``
    and ``abc123+dirty`` give ``abc123``; "" when it names none."""
    text = str(described).strip().removesuffix("+dirty")
    match = re.search(r"(?:^|-g)([0-9a-f]{7,40})$", text)
    return match.group(1) if match else ""


class History:
    """The runs kept in one folder."""

    def __init__(self, folder: str | Path = DEFAULT_FOLDER):
        self.folder = Path(folder)
        self.runs_dir = self.folder / "runs"
        self.work = self.folder / "work"
        self.measured_path = self.folder / "measured.csv"

    def run_files(self) -> list[Path]:
        if not self.runs_dir.is_dir():
            return []
        return sorted(p for p in self.runs_dir.glob("*.csv") if not p.name.endswith(".samples.csv"))

    def lock(self) -> OutputLock:
        """The writers' lock (a second ``add``/``measure`` on the same folder is refused with one line)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return OutputLock(self.folder / "history")

    def add(self, path: str | Path, *, locked: bool = False) -> tuple[Path, bool]:
        """Copies run ``path`` (and its samples) in; returns (stored file, whether it was new).

        Refused with one line: a file that is not a results CSV of a known schema version, one with
        no timed row, several runs in one file, and a run with no commit (history orders runs by it).
        ``locked``: the caller holds :meth:`lock` already.
        """
        df = read_results(path, require_timed=True)
        runs = sorted(set(df["run_id"].astype(str)))
        if len(runs) != 1:
            named = ", ".join(runs[:3])
            raise JaxgradsError(f"{path}: {len(runs)} runs in one file ({named}); add one run per file")
        commit = commit_hash(df["git_commit"].iloc[0])
        if not commit:
            raise JaxgradsError(
                f"{path}: no git commit recorded (git_commit {df['git_commit'].iloc[0]!r}); history orders "
                "runs by commit: run jaxgrads from a git checkout"
            )
        started = re.sub(r"[^0-9A-Za-z]", "", str(df["started_at"].iloc[0]))[:15]
        target = self.runs_dir / f"{started}-{commit[:12]}-{runs[0]}.csv"
        with contextlib.nullcontext() if locked else self.lock():
            if target.is_file():
                return target, False
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            samples = samples_path(path)
            if samples.is_file() and samples.stat().st_size:
                atomic_write_text(samples_path(target), read_text(samples, "a samples CSV"))
            atomic_write_text(target, read_text(path, "a jaxgrads results CSV"))
        return target, True

    def table(self) -> pd.DataFrame:
        """Every kept run's rows, with ``commit`` (the hex prefix) and ``run_file``; one line if none."""
        import pandas as pd

        files = self.run_files()
        if not files:
            raise JaxgradsError(
                f"history {self.folder} is empty: add runs with `jaxgrads history add RUN.csv` or measure "
                "commits with `jaxgrads history measure A..B`"
            )
        frames = []
        for f in files:
            df = read_results(f)
            frames.append(df.assign(commit=[commit_hash(c) for c in df["git_commit"]], run_file=f.name))
        return pd.concat(frames, ignore_index=True)
