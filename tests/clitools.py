"""Running the CLI as a user does: a subprocess, its exit code, its one-line errors."""

import os
import subprocess
import sys

FAST = ("--samples", "2", "--min-sample-time", "0.001", "--device", "cpu")  # a short, timed sweep
ENV = {k: v for k, v in os.environ.items() if not k.startswith("JAX")}


def jaxgrads(*args, cwd=None, env=None):
    """``python -m jaxgrads ARGS``; ``env`` adds to (or replaces entries of) the test environment."""
    return subprocess.run(
        [sys.executable, "-m", "jaxgrads", *args],
        capture_output=True,
        text=True,
        env=ENV | (env or {}),
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(result, *needles):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jaxgrads: error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]
