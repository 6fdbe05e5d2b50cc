"""A one-line progress bar on a terminal: current case, rows done, ETA. Silent when not a TTY."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


def _fmt(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """Redraws ``[done/total] case  ETA`` on one line of ``stream`` if it is a terminal."""

    def __init__(self, total: int, stream=None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.done = total, 0
        self.start = time.perf_counter()

    def update(self, label: str) -> None:
        """Shows ``label`` as the case now running."""
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        eta = f"ETA {_fmt(elapsed / self.done * (self.total - self.done))}" if self.done else "ETA ?"
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "." * (width - filled)
        line = f"[{bar}] {self.done}/{self.total} {eta}  {label}"
        self.stream.write("\r" + line[:150].ljust(150))
        self.stream.flush()

    def advance(self) -> None:
        self.done += 1

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 150 + "\r")
            self.stream.flush()
