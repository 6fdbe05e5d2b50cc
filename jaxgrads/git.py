"""Asking git: one command's output, or None where there is no git, no repository or no answer in
time (a run records "" for its commit then, and a history orders nothing)."""

from __future__ import annotations

import os
import subprocess

__all__ = ["git"]


def git(repo: str | os.PathLike, *args: str, timeout: float) -> str | None:
    """``git -C repo ARGS``'s standard output, or None when it fails or takes over ``timeout`` s."""
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                             timeout=timeout, check=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout
