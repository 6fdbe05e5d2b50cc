"""One writer per output, and whole replacement: the lock a run holds on its output
(:class:`OutputLock`) and the files beside it that replace the output only when complete
(:class:`Replacement`); see :mod:`jaxgrads.results.files` for the rules they keep."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from jaxgrads.errors import JaxgradsError
from jaxgrads.results.files import samples_path, temporary_beside

__all__ = ["OutputLock", "Replacement"]


class OutputLock:
    """An exclusive lock on one output, held while a run writes it.

    ``flock`` on ``.<name>.lock`` beside the output; the lock file is removed on release. A second
    writer (another ``jaxgrads run`` on the same output) gets a one-line JaxgradsError at once.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.lock_path = self.path.with_name(f".{self.path.name}.lock")
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise JaxgradsError(
                        f"output {self.path} is being written by another jaxgrads run (pid {holder}); "
                        "wait for it or choose another -o"
                    ) from None
                raise
            # the holder before us may have removed the file after we opened it: lock the live one
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
                self._fd = fd
                return self
            os.close(fd)

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.lock_path.unlink()
            os.close(self._fd)
            self._fd = None


class Replacement:
    """New contents for an existing output and its samples, written beside them, swapped in at the end.

    ``rows`` and ``samples`` are the temporary paths to write; :meth:`commit` renames them over the
    targets (samples first, so the rows never name samples that are not there); :meth:`discard`
    removes them, leaving the old files as they were.
    """

    def __init__(self, out: Path, samples: Path):
        self.out, self.samples_out = out, samples
        self.rows = temporary_beside(out, ".csv")
        self.samples = samples_path(self.rows)
        self.rows.unlink()  # the appender creates it with the header

    def commit(self) -> None:
        if self.samples.exists():
            os.replace(self.samples, self.samples_out)
        else:
            self.samples_out.unlink(missing_ok=True)
        os.replace(self.rows, self.out)

    def discard(self) -> None:
        for p in (self.rows, self.samples):
            p.unlink(missing_ok=True)
