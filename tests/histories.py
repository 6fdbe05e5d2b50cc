"""Synthetic histories: a git repository of empty commits and one results CSV per commit and machine,
with known steps, for the history and site tests."""

import subprocess
from pathlib import Path

import pandas as pd

from jaxgrads.results.schema import SAMPLE_FIELDS, blank_row, samples_path

MACHINES = {"a": "CPU A", "b": "CPU B"}
KERNELS = (("matvec", "x", "jacrev", 64), ("matvec", "x", "analytic", 64), ("quadratic", "x", "jacfwd", 32))


def git_repo(folder: Path, commits: int) -> list[str]:
    """A repository of ``commits`` empty commits in ``folder``; their hashes, oldest first."""
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "PATH": "/usr/bin:/bin",
    }
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(folder)], check=True, env=env)
    for i in range(commits):
        subprocess.run(
            ["git", "-C", str(folder), "commit", "-q", "--allow-empty", "-m", f"c{i}"], check=True, env=env
        )
    out = subprocess.run(
        ["git", "-C", str(folder), "rev-list", "--reverse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def run_rows(commit: str, index: int, machine: str, time_of) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One run's rows and samples: ``time_of(kernel, index, machine)`` gives each kernel's median."""
    rows, samples = [], []
    run_id = f"{machine}{index:011d}"
    for problem, wrt, method, n in KERNELS:
        t = time_of((problem, wrt, method, n), index, machine)
        rows.append(
            blank_row()
            | {
                "run_id": run_id,
                "started_at": f"2026-11-{index + 1:02d}T10:00:00+00:00",
                "git_commit": commit[:12],
                "host": f"host-{machine}",
                "cpu_model": MACHINES[machine],
                "backend": "cpu",
                "device_kind": "cpu",
                "jax_version": "0.10.2",
                "jaxlib_version": "0.10.2",
                "x64": True,
                "problem": problem,
                "wrt": wrt,
                "method": method,
                "m": n,
                "n": n,
                "batch": 0,
                "dtype": "float32",
                "jac_shape": f"{n}x{n}",
                "jac_bytes": 4 * n * n,
                "status": "ok",
                "message": "",
                "time_median_s": t,
                "time_iqr_s": t / 50,
                "time_min_s": t * 0.98,
                "samples": 3,
                "inner_loops": 1,
                "flops": 2.0 * n * n,
                "bytes_accessed": 8.0 * n * n,
                "peak_bytes": 8 * n * n,
                "ok": True,
                "cpu_count": 2,
                "cpus_used": 2,
                "dispatch_floor_s": 1e-6,
                "chunk_size": 0,
                "ceiling_bytes_per_s": 1e10,
                "ceiling_flops_per_s": 1e11,
                "devices": 1,
                "processes": 1,
            }
        )
        for k, f in enumerate((0.99, 1.0, 1.01)):
            samples.append({k: rows[-1][k] for k in SAMPLE_FIELDS[:-2]} | {"sample": k, "time_s": t * f})
    return pd.DataFrame(rows), pd.DataFrame(samples, columns=list(SAMPLE_FIELDS))


def read_as_text(path: Path) -> pd.DataFrame:
    """A CSV's cells as written (a commit hash such as ``4288524e07`` would otherwise read as a float)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_run(path: Path, commit: str, index: int, machine: str, time_of) -> Path:
    rows, samples = run_rows(commit, index, machine, time_of)
    rows.to_csv(path, index=False)
    samples.to_csv(samples_path(path), index=False)
    return path


def stepped(step_at: int, ratio: float = 2.0, kernel=KERNELS[0], machine: str = "a"):
    """Times with 2% alternating noise and one step up by ``ratio`` at commit ``step_at`` for one kernel
    on one machine; every other series is flat."""

    def time_of(k, index, m):
        base = 1e-3 * (1 + 0.02 * (-1) ** index) * (1 + 0.1 * KERNELS.index(k))
        return base * (ratio if (k == kernel and m == machine and index >= step_at) else 1.0)

    return time_of
