"""``history measure A..B``: each commit of a range checked out into its own worktree and measured
there, the way ``asv run A..B`` does; resumable, commits already measured skipped.

For each commit of ``git rev-list --reverse A..B`` (oldest first), not yet in ``measured.csv`` for
this host and these sweep options:

1. ``git worktree add --detach work/wt-<commit>`` (a worktree left by a killed run is replaced);
2. an environment: ``new`` (the default) is a virtualenv per distinct dependency list of the
   commit's ``pyproject.toml`` (``work/env-<hash>``, created once, marked ready only after its
   install finished), so commits that share dependencies share it; ``existing`` is this interpreter;
3. ``python -m jaxgrads run SWEEP_OPTIONS -o work/<commit>.csv`` in the worktree, with the worktree
   first on ``PYTHONPATH`` (the run records the worktree's commit); a partial output from a killed
   run is continued with ``--resume``;
4. the run is added to the history, the commit is appended to ``measured.csv``, and the worktree
   and partial files are removed.

A commit whose run fails is reported with its last error line, left unmarked (the next call tries
it again), and the range goes on; the call then exits 1.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from jaxgrads.errors import JaxgradsError
from jaxgrads.history.environments import environment, project_dependencies
from jaxgrads.history.store import History
from jaxgrads.sweep.distributed import stop_child

__all__ = ["ENVS", "DEFAULT_SWEEP", "commit_range", "measure_range"]

ENVS = ("new", "existing")
DEFAULT_SWEEP = ("--preset", "gate")  # the gate sweep: what `make gate` times
MEASURED_FIELDS = ("commit", "host", "options", "run_file")


def _git(repo: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise JaxgradsError(f"git failed in {repo}: {exc}") from None


def commit_range(repo: str | Path, spec: str) -> list[str]:
    """Full hashes of ``spec`` oldest first: ``A..B`` (B's ancestors that are not A's) or one commit.

    A range git cannot resolve, or one holding no commit, is a one-line error.
    """
    repo = Path(repo)
    if _git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise JaxgradsError(f"{repo} is not a git repository; measure commits from inside one (or --repo)")
    if ".." in spec:
        proc = _git(repo, "rev-list", "--reverse", spec, "--")
    else:
        proc = _git(repo, "rev-list", "--no-walk", f"{spec}^{{commit}}", "--")
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["unknown revision"])[0]
        raise JaxgradsError(f"commit range {spec!r} does not exist in {repo} ({reason})")
    commits = proc.stdout.split()
    if not commits:
        raise JaxgradsError(f"commit range {spec!r} holds no commits (A..B: B's ancestors that are not A's)")
    return commits


def options_id(env: str, sweep: Sequence[str]) -> str:
    """What a measured commit was measured with: the environment and the sweep options."""
    return f"{env}: {shlex.join(sweep)}"


def _measured(history: History) -> set[tuple[str, str, str]]:
    if not history.measured_path.is_file():
        return set()
    with open(history.measured_path, newline="", encoding="utf-8") as f:
        return {(r["commit"], r["host"], r["options"]) for r in csv.DictReader(f)}


def _mark(history: History, commit: str, host: str, options: str, run_file: str) -> None:
    new = not history.measured_path.is_file()
    with open(history.measured_path, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, MEASURED_FIELDS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow({"commit": commit, "host": host, "options": options, "run_file": run_file})
        f.flush()
        os.fsync(f.fileno())


def _environment(history: History, worktree: Path, log: Callable[[str], None]) -> str:
    """The interpreter of the commit's virtualenv, created on first use of its dependency list."""
    try:
        deps = sorted(project_dependencies(worktree / "pyproject.toml"))
    except JaxgradsError as exc:
        raise RuntimeError(str(exc)) from None
    digest = hashlib.sha256("\n".join(deps).encode()).hexdigest()[:12]
    return environment(history.work / f"env-{digest}", deps, log)


def _measure_one(
    repo: Path, history: History, commit: str, env: str, sweep: Sequence[str], log: Callable[[str], None]
) -> Path:
    """Runs the sweep at ``commit`` in its worktree; returns the run's CSV (partial files resumed)."""
    worktree = history.work / f"wt-{commit[:12]}"
    if worktree.exists():  # left by a killed run
        _git(repo, "worktree", "remove", "--force", str(worktree))
        shutil.rmtree(worktree, ignore_errors=True)
    _git(repo, "worktree", "prune")
    proc = _git(repo, "worktree", "add", "--detach", str(worktree), commit)
    if proc.returncode != 0:
        raise RuntimeError(f"git worktree add: {(proc.stderr.strip().splitlines() or ['failed'])[-1]}")
    try:
        python = sys.executable if env == "existing" else _environment(history, worktree, log)
        out = (history.work / f"{commit[:12]}.csv").resolve()
        resume = ["--resume"] if out.is_file() and out.stat().st_size else []
        cmd = [python, "-m", "jaxgrads", "run", *sweep, "-o", str(out), *resume]
        path = [str(worktree.resolve()), *filter(None, [os.environ.get("PYTHONPATH")])]
        child_env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
        proc = subprocess.Popen(
            cmd, cwd=worktree, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            _, err = proc.communicate()
        except BaseException:  # interrupted: the run stops as after a Ctrl-C, its lock released
            stop_child(proc)
            raise
        if proc.returncode != 0:
            raise RuntimeError((err.strip().splitlines() or [f"exit status {proc.returncode}"])[-1])
        return out
    finally:
        _git(repo, "worktree", "remove", "--force", str(worktree))


def measure_range(
    repo: str | Path,
    spec: str,
    history: History,
    *,
    env: str = "new",
    sweep: Sequence[str] = DEFAULT_SWEEP,
    log: Callable[[str], None] = print,
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Measures every commit of ``spec`` not yet measured here; returns (measured, skipped, failed)."""
    if env not in ENVS:
        raise JaxgradsError(f"--env {env!r} is not one of {', '.join(ENVS)}")
    repo = Path(repo).resolve()
    commits = commit_range(repo, spec)
    history.work.mkdir(parents=True, exist_ok=True)
    host, options = socket.gethostname(), options_id(env, sweep)
    done, skipped, failed = [], [], []
    with history.lock():
        measured = _measured(history)
        for i, commit in enumerate(commits, 1):
            if (commit, host, options) in measured:
                skipped.append(commit)
                log(f"[{i}/{len(commits)}] {commit[:12]}: already measured here, skipped")
                continue
            log(f"[{i}/{len(commits)}] {commit[:12]}: measuring ({options})")
            try:
                out = _measure_one(repo, history, commit, env, sweep, log)
            except RuntimeError as exc:
                failed.append((commit, str(exc)))
                log(f"[{i}/{len(commits)}] {commit[:12]}: failed: {exc}; left for the next call")
                continue
            stored, _ = history.add(out, locked=True)
            _mark(history, commit, host, options, stored.name)
            for p in (out, out.with_name(out.stem + ".samples.csv")):
                p.unlink(missing_ok=True)
            done.append(commit)
            log(f"[{i}/{len(commits)}] {commit[:12]}: done -> {stored}")
    return done, skipped, failed
