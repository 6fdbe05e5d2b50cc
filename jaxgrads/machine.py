"""The run's metadata: which machine, device, software and settings produced a CSV."""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
import subprocess
import uuid
from pathlib import Path

import jax
import jaxlib

__all__ = ["cpu_model", "default_memory_budget", "git_commit", "run_metadata"]


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else platform's best guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str:
    """The commit of the jaxgrads checkout (with ``+dirty`` when modified), or "" outside one."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty=+dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _host_available_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def default_memory_budget(device: jax.Device) -> int:
    """Half the device's free memory: room for the kernel while the host reference is built."""
    stats = None
    try:
        stats = device.memory_stats()
    except Exception:  # backends without memory stats
        stats = None
    if stats and "bytes_limit" in stats:
        free = stats["bytes_limit"] - stats.get("bytes_in_use", 0)
    else:
        free = _host_available_bytes()
    return int(free // 2)


def run_metadata(device: jax.Device) -> dict[str, object]:
    """The run columns of :data:`jaxgrads.schema.FIELDS` shared by every row of a run."""
    cache_dir = jax.config.jax_compilation_cache_dir
    return {
        "run_id": uuid.uuid4().hex[:12],
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "host": socket.gethostname(),
        "cpu_model": cpu_model(),
        "backend": device.platform,
        "device_kind": device.device_kind,
        "jax_version": jax.__version__,
        "jaxlib_version": jaxlib.__version__,
        "x64": bool(jax.config.jax_enable_x64),
        "cpu_count": os.cpu_count(),
        "matmul_precision": str(jax.config.jax_default_matmul_precision or "default"),
        "compile_cache": cache_dir if cache_dir else "off",
    }
