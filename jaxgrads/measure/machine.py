"""The run's metadata: which machine, device, software and settings produced a CSV."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import socket
import uuid
from pathlib import Path

import jax
import jaxlib

from jaxgrads.errors import JaxgradsError
from jaxgrads.git import git

__all__ = [
    "CACHES_ENV",
    "CPU_MODEL_ENV",
    "cache_sizes",
    "cache_source",
    "cpu_model",
    "cpus_used",
    "default_memory_budget",
    "git_commit",
    "host_available_bytes",
    "pin_cpus",
    "read_caches",
    "run_metadata",
]


# What this module reads from the machine can be overridden, for a test that needs another machine
# (a fingerprint that cannot be this one, a cache layout it does not have) and for a VM whose figures
# are wrong: ``JAXGRADS_CPU_MODEL="Some CPU"``, ``JAXGRADS_CACHES="L1=48K,L2=2M,L3=105M"`` (sysfs'
# size syntax; ``none`` for a machine that reports no caches). Runs record the figure they used.
CPU_MODEL_ENV = "JAXGRADS_CPU_MODEL"
CACHES_ENV = "JAXGRADS_CACHES"


def cpu_model() -> str:
    """The CPU's model name: ``$JAXGRADS_CPU_MODEL`` when set, else ``model name`` of /proc/cpuinfo
    on Linux, else py-cpuinfo's brand string.

    /proc/cpuinfo first: on Linux it is the same string py-cpuinfo returns, read in microseconds,
    where ``cpuinfo.get_cpu_info()`` starts a child interpreter (0.15 s here), which every run and
    every gate child would pay. py-cpuinfo (a dependency of pytest-benchmark) covers other systems.
    """
    if os.environ.get(CPU_MODEL_ENV, "").strip():
        return os.environ[CPU_MODEL_ENV].strip()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        import cpuinfo

        brand = cpuinfo.get_cpu_info().get("brand_raw")
    except Exception:  # py-cpuinfo missing or failing: the platform's best guess
        brand = None
    return brand or platform.processor() or platform.machine()


def _size_bytes(text: str) -> int:
    """sysfs cache sizes: ``32K``, ``1024K``, ``32M``."""
    text = text.strip().upper()
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


def _overridden_caches(text: str) -> dict[str, int]:
    """``$JAXGRADS_CACHES``: ``L1=32K,L2=1M,L3=32M`` or ``none``; anything else is one line."""
    if text.strip().lower() == "none":
        return {}
    sizes = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        level, _, size = part.partition("=")
        level = level.strip().upper()
        try:
            if not re.fullmatch(r"L[1-9]", level):
                raise ValueError(level)
            sizes[level] = _size_bytes(size)
            if sizes[level] <= 0:
                raise ValueError(size)
        except ValueError:
            raise JaxgradsError(
                f"{CACHES_ENV}={text!r}: expected LEVEL=SIZE pairs such as 'L1=32K,L2=1M,L3=32M' "
                "(sizes in bytes or with K, M, G), or 'none'"
            ) from None
    return dict(sorted(sizes.items()))


def cache_source() -> str:
    """Where :func:`cache_sizes` reads: ``JAXGRADS_CACHES``, ``sysfs``, ``py-cpuinfo`` or ``none``."""
    return read_caches()[1]


def cache_sizes() -> dict[str, int]:
    """The data caches of CPU 0 in bytes, by level: ``{"L1": 32768, "L2": 1048576, "L3": 33554432}``.

    ``$JAXGRADS_CACHES`` when set; else read from Linux's sysfs
    (``/sys/devices/system/cpu/cpu0/cache/index*``: level, type, size; the instruction cache left
    out), else from py-cpuinfo's ``l1_data_cache_size``, ``l2_cache_size`` and ``l3_cache_size``. A
    level none reports is absent: the roofline then has one level fewer. These are what the machine
    *says*; a hypervisor can say 480 MiB for a last level that a 2-CPU guest never sees, so the
    run's ceilings check the last level against its bandwidth
    (:func:`jaxgrads.measure.caches.defended_caches`).
    """
    return read_caches()[0]


def read_caches() -> tuple[dict[str, int], str]:
    """:func:`cache_sizes` and :func:`cache_source` in one read."""
    if os.environ.get(CACHES_ENV, "").strip():
        return _overridden_caches(os.environ[CACHES_ENV]), CACHES_ENV
    sizes: dict[str, int] = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if (index / "type").read_text().strip() == "Instruction":
                continue
            level = f"L{int((index / 'level').read_text())}"
            sizes[level] = max(sizes.get(level, 0), _size_bytes((index / "size").read_text()))
        except (OSError, ValueError):
            continue
    if sizes:
        return dict(sorted(sizes.items())), "sysfs"
    try:
        import cpuinfo

        info = cpuinfo.get_cpu_info()
    except Exception:  # py-cpuinfo missing or failing
        return {}, "none"
    keys = {"L1": "l1_data_cache_size", "L2": "l2_cache_size", "L3": "l3_cache_size"}
    sizes = {
        level: int(info[key])
        for level, key in keys.items()
        if isinstance(info.get(key), int) and info[key] > 0
    }
    return sizes, ("py-cpuinfo" if sizes else "none")


def git_commit() -> str:
    """The commit of the jaxgrads checkout (with ``+dirty`` when modified), or "" outside one."""
    root = Path(__file__).resolve().parent.parent
    out = git(root, "describe", "--always", "--dirty=+dirty", "--abbrev=12", timeout=10)
    return "" if out is None else out.strip()


def cpus_used() -> int:
    """How many CPUs this process may run on (its affinity), which a pinned run narrows."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity API (macOS)
        return os.cpu_count() or 1


def pin_cpus(count: int) -> int:
    """Restricts this process, and every thread it starts later, to ``count`` of its CPUs.

    Call it before JAX creates its CPU client: XLA's thread pool inherits the affinity of the thread
    that starts it, and threads already running keep theirs. The last CPUs are taken (CPU 0 tends to
    serve the host's interrupts). Returns the CPUs now used; a no-op where affinity is unsupported.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
    if count < len(allowed):
        os.sched_setaffinity(0, set(allowed[-count:]))
    return cpus_used()


def host_available_bytes() -> int:
    """The host memory available to a new allocation: ``MemAvailable`` of /proc/meminfo."""
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
        free = host_available_bytes()
    return int(free // 2)


def run_metadata(device: jax.Device) -> dict[str, object]:
    """The run columns of :data:`jaxgrads.results.schema.FIELDS` shared by every row of a run."""
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
        "cpus_used": cpus_used(),
        "matmul_precision": str(jax.config.jax_default_matmul_precision or "default"),
        "compile_cache": cache_dir if cache_dir else "off",
    }
