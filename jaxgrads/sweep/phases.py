"""Where a run's wall time goes: each phase of the sweep timed as the main thread spends it.

The phases add up to the sweep's wall time (what is left is ``other``): the machine's probes, the
inputs drawn, compiling (with ``--jobs N``, the main thread's wait for the pool), the warm-up call
and the timed samples, the references (once per case), the accuracy check (once per row) and
writing the rows. What came before the sweep (interpreter and JAX start-up, reading the options,
planning) is ``before``: from the process's start time where the OS says it, or, for a later run in
the same process (the CLI called again in-process), from the moment that run's command began.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PHASES", "Phases", "process_age"]

PHASES = ("probes", "inputs", "compile", "timing", "references", "accuracy", "writing")


def process_age() -> float:
    """Seconds since this process started (Linux's /proc), NaN where the OS does not say."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time in ticks
    except (OSError, ValueError, IndexError):
        return float("nan")


_STARTED: list[float] = []  # when this process's first run began (perf_counter)


class Phases:
    """Seconds per phase of one sweep, accumulated by ``with phases("compile"): ...``.

    ``since``: when the command that runs the sweep began (``time.perf_counter()``), for ``before``
    in a process whose first run has gone.
    """

    def __init__(self, since: float | None = None) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self._start = time.perf_counter()
        first = not _STARTED
        _STARTED.append(self._start)
        self.before = process_age() if first else (self._start - since if since is not None else 0.0)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if name not in self.seconds:
            raise ValueError(f"unknown phase {name!r}; phases: {', '.join(PHASES)}")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def split(self) -> dict[str, float]:
        """Every phase, ``other`` (the sweep's wall time not in a phase), ``before`` and ``wall``."""
        sweep = time.perf_counter() - self._start
        other = max(0.0, sweep - sum(self.seconds.values()))
        before = self.before if self.before == self.before else 0.0
        return {**self.seconds, "other": other, "before": before, "wall": before + sweep}

    def line(self) -> str:
        """``wall 69.2 s: before 5.1 s (start-up, plan), probes 2.0 s (3%), ...``, one line."""
        split = self.split()
        wall = split.pop("wall")
        parts = [f"{name} {s:.1f} s ({100 * s / wall:.0f}%)" for name, s in split.items() if wall > 0]
        return f"wall {wall:.1f} s: " + ", ".join(parts)
