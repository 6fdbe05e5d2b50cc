"""Running the CLI as a user does: a process, its exit code, its one-line errors."""

import atexit
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

FAST = ("--samples", "2", "--min-sample-time", "0.001", "--device", "cpu")  # a short, timed sweep
# JAX's own settings stay out of the children, and pytest's (a PYTEST_XDIST_WORKER turns
# pytest-benchmark off in a child pytest); jaxgrads' (a synthetic machine, its state folder) go in
ENV = {
    k: v for k, v in os.environ.items()
    if not (k.startswith("JAX") or k.startswith("PYTEST_")) or k.startswith("JAXGRADS_")
}  # fmt: skip
# JAXGRADS_TEST_FORK=0: every command in a fresh interpreter (as `python -m jaxgrads` from a shell)
FORK = os.environ.get("JAXGRADS_TEST_FORK", "1") != "0"


class _Server:
    """tests/forkserver.py, started on first use: each command a fork of an interpreter that has
    imported jaxgrads already (a process of its own, without JAX's import time)."""

    def __init__(self):
        self._proc, self._lock = None, threading.Lock()

    def run(self, args, cwd, timeout):
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen(
                    [sys.executable, str(Path(__file__).with_name("forkserver.py"))],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV,
                )  # fmt: skip
                atexit.register(self._proc.kill)
            req = {"argv": list(map(str, args)), "cwd": str(cwd) if cwd else None, "timeout": timeout}
            self._proc.stdin.write(json.dumps(req) + "\n")
            self._proc.stdin.flush()
            answer = json.loads(self._proc.stdout.readline())
        return subprocess.CompletedProcess(
            [sys.executable, "-m", "jaxgrads", *args], answer["rc"], answer["stdout"], answer["stderr"]
        )


_SERVER = _Server()


def jaxgrads(*args, cwd=None, env=None, timeout=300):
    """``python -m jaxgrads ARGS``; ``env`` adds to (or replaces entries of) the test environment, in
    a fresh interpreter; without it, a fork of one that has jaxgrads imported (tests/forkserver.py)."""
    if FORK and env is None:
        return _SERVER.run(args, cwd, timeout)
    return subprocess.run(
        [sys.executable, "-m", "jaxgrads", *args],
        capture_output=True,
        text=True,
        env=ENV | (env or {}),
        cwd=cwd,
        timeout=timeout,
    )


def assert_one_line_error(result, *needles):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jaxgrads: error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]
