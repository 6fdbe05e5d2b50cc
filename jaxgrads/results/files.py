"""Results files that survive faults: reading, replacing, appending, locking, repairing.

Every file jaxgrads reads or writes goes through here, so one set of rules holds everywhere:

* **Reading** (:func:`read_text`): a missing file, a folder, an unreadable or binary file, or an
  empty one is a one-line :class:`JaxgradsError` naming the path and what was expected.
* **Outputs are regular files** (:func:`check_output`): a device node, a FIFO, a socket or a folder
  given as an output is refused before anything runs, whatever ``--overwrite`` says.
* **Replacing** (:func:`atomic_write_text`, :class:`jaxgrads.results.locks.Replacement`): the new
  content goes to a temporary file beside the target and is renamed over it only once complete, so
  a run that fails leaves the old file as it was and no temporary file behind.
* **Appending** (:class:`CsvAppender`): each batch of rows is written, flushed and synced whole; a
  write that fails (a full disk) is cut back to the last whole row before the error surfaces.
* **One writer** (:class:`jaxgrads.results.locks.OutputLock`): an exclusive ``flock`` on a lock file
  beside the output; a second writer of the same output is refused with one line.
* **Repair** (:func:`cut_tail`): a file whose last line was cut (a killed run, a full disk) loses
  that partial line, which ``--resume`` then measures again.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from jaxgrads.errors import JaxgradsError

__all__ = [
    "CsvAppender",
    "atomic_write_text",
    "check_output",
    "csv_header",
    "cut_tail",
    "output_folder",
    "read_text",
    "samples_path",
    "temporary_beside",
    "write_error",
]


def samples_path(csv_path: str | os.PathLike) -> Path:
    """The raw samples file beside a results CSV: ``run.csv`` -> ``run.samples.csv``."""
    p = Path(csv_path)
    return p.with_name(p.stem + ".samples.csv")


def read_text(path: str | os.PathLike, expected: str) -> str:
    """The text of ``path``; a one-line JaxgradsError when it cannot be what ``expected`` says.

    Refused: a missing path, a folder, anything that is not a regular file, an unreadable file,
    bytes that are not UTF-8 (a binary file), and an empty or blank file.
    """
    path = Path(path)
    if path.is_dir():
        raise JaxgradsError(f"{path} is a folder; expected {expected}")
    if not path.exists():
        raise JaxgradsError(f"{path}: no such file")
    if not path.is_file():
        raise JaxgradsError(f"{path} is not a regular file; expected {expected}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise JaxgradsError(f"{path}: cannot read it ({exc.strerror}); expected {expected}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise JaxgradsError(f"{path}: binary, not text; expected {expected}") from None
    if "\x00" in text:
        raise JaxgradsError(f"{path}: binary, not text (NUL bytes); expected {expected}")
    if not text.strip():
        raise JaxgradsError(f"{path}: empty file; expected {expected}")
    return text


def _is_special(path: Path) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a folder (a device, FIFO, socket)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def check_output(path: str | os.PathLike, *, resume: bool, overwrite: bool) -> None:
    """Refuses, before anything runs, an output that cannot be written or would be overwritten.

    Only a regular file is ever appended to or replaced: a folder, a device node, a FIFO or a
    socket is refused with or without ``--overwrite``.
    """
    if not os.fspath(path).strip():
        raise JaxgradsError("output path is empty; give a file path")
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise JaxgradsError(f"output {path} is a folder; give a file path")
    if _is_special(path):
        raise JaxgradsError(f"output {path} is not a regular file (a device, FIFO or socket); refused")
    if not parent.is_dir():
        raise JaxgradsError(f"output folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise JaxgradsError(f"output {path} is not writable")
    if path.exists() and path.stat().st_size > 0 and not (resume or overwrite):
        raise JaxgradsError(
            f"output {path} exists; pass --resume to continue it or --overwrite to replace it"
        )


def output_folder(path: str | os.PathLike, flag: str) -> Path:
    """A folder an option writes into (``--save-arrays``, ``--output``), created if need be."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise JaxgradsError(f"{flag} {folder} is a file; give a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JaxgradsError(f"{flag} {folder}: cannot create it ({exc.strerror})") from None
    if not os.access(folder, os.W_OK):
        raise JaxgradsError(f"{flag} {folder} is not writable")
    return folder


def write_error(path: str | os.PathLike, exc: OSError, kept: str = "") -> JaxgradsError:
    """The one line for a failed write: the path, the system's reason, and what was kept."""
    reason = exc.strerror or type(exc).__name__
    return JaxgradsError(f"cannot write {path}: {reason}" + (f"; {kept}" if kept else ""))


def temporary_beside(path: Path, suffix: str = ".tmp") -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent or Path("."))
    os.close(fd)
    return Path(name)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` to a temporary file beside ``path``, then renames it over ``path``.

    On any failure (a full disk, a read-only folder) the temporary file is removed, ``path`` keeps
    its old content, and the error is one line naming ``path``.
    """
    path = Path(path)
    if _is_special(path):
        raise JaxgradsError(f"output {path} is not a regular file (a device, FIFO or socket); refused")
    tmp = None
    try:
        tmp = temporary_beside(path)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise write_error(path, exc, f"{path} left as it was") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def cut_tail(path: str | os.PathLike) -> int:
    """Drops a cut last line (no newline at the end of the file); returns the bytes dropped.

    A killed or out-of-space writer can stop mid-row; whole rows end in a newline (the CSV writer's
    ``\\r\\n``, and no field holds a line break), so everything after the last newline is partial.
    """
    path = Path(path)
    if not path.is_file():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with open(path, "r+b") as f:
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return len(data) - keep


def csv_header(path: str | os.PathLike) -> list[str]:
    """The first line of a CSV as column names ([] for an empty file)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return next(csv.reader(f), [])


class CsvAppender:
    """Appends rows to a CSV, each batch written whole, flushed and synced at once.

    A write that fails part-way (a full disk) is cut back to where the batch began, so the file
    always ends at a whole row; the OSError then propagates. ``fields`` gives the column order of a
    new file; an existing file keeps its own order (``csv_header``), which the caller has checked.
    """

    def __init__(self, path: str | os.PathLike, fields: Iterable[str]):
        self.path = Path(path)
        existing = self.path.exists() and self.path.stat().st_size > 0
        self.fields = tuple(csv_header(self.path)) if existing else tuple(fields)
        self.rows = 0  # rows this appender wrote
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if not existing:
            try:
                self._append(self._format(None))
            except OSError:
                os.close(self._fd)
                raise

    def _format(self, rows: Iterable[Mapping] | None) -> bytes:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.fields, extrasaction="ignore")
        if rows is None:
            writer.writeheader()
        else:
            writer.writerows(rows)
        return buf.getvalue().encode("utf-8")

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def truncate(self, size: int) -> None:
        """Cuts the file back to ``size`` bytes (a whole-row boundary from :meth:`size`)."""
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, size)

    def _append(self, data: bytes) -> None:
        start = self.size()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            self.truncate(start)
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None

    def write(self, rows: Iterable[Mapping]) -> None:
        rows = list(rows)
        self._append(self._format(rows))
        self.rows += len(rows)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
