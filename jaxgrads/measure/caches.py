r"""The data caches a run plans and floors with: what the machine says, checked by its own bandwidth.

The sizes come from :func:`jaxgrads.measure.machine.cache_sizes` (sysfs, py-cpuinfo, or the user's
``$JAXGRADS_CACHES``). What a guest is told is not always what it gets: one 2-vCPU VM's sysfs reports
a 480 MiB L3 (a hypervisor's figure), and planning a "memory regime" at twice that turned a default
sweep into 1 GiB Jacobians. So the last level the machine reports is *checked* before it is used,
the way a cache-aware roofline defines a level (Ilic, Pratas and Sousa, 2014): a working set that
fits a level runs at that level's bandwidth, one that does not falls to the next. The check sweeps
in-place bandwidth (:func:`in_place_rate`, an update loop over a donated buffer) over working sets
$S_k = 2^k$ bytes, from twice the level below to four times the claimed size (capped by free
memory), and takes the largest set as main memory's rate $r_\text{mem}$. A set is *in cache* when

$$r(S) \ge \text{MARGIN} \cdot r_\text{mem},$$

and the level is **shown** when a set of at least ``1/SHOWN_SHARE`` of its claimed size is in cache.
The share is generous on purpose: a guest shares its last level with its neighbours, a loaded
moment shrinks what it gets (seen here: a 32 MiB L3 whose 16 MiB set ran at only 1.11x memory
while the other CPU was busy), and the check exists for claims that are off by an order of
magnitude (480 MiB), not to second-guess a real cache. Where the claim is not shown, the run uses
the largest set in cache instead and says so; where no set is in cache, the level is dropped. Each
rate is the fastest of its samples over two passes through the sets, as every ceiling is the
fastest of its samples, so a busy moment can only make a level look slower, never larger; a machine
that stays loaded does get less of a shared cache, and the verdict says so with its rates. Delete
the state file to check again.

The check runs once per machine: its verdict is kept in ``$JAXGRADS_STATE_DIR`` (default
``~/.cache/jaxgrads``), keyed by the CPU model, the CPUs used and the claimed sizes, so every run and
every process of a distributed run plans the same sizes. An override (``$JAXGRADS_CACHES``) is used
as given, unchecked.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
from jax import lax

from jaxgrads.measure import machine
from jaxgrads.measure.timing import time_callable

__all__ = ["MARGIN", "Caches", "defended_caches", "effective_last_cache", "in_place_rate", "scan_sets"]

# a working set is in a cache when it runs at least this much faster than main memory (L3 against
# memory is 2-4x on the machines seen here; a loaded moment slows both alike)
MARGIN = 1.25
# the last level is shown when a working set of this fraction of its claim runs from cache
SHOWN_SHARE = 4
# the largest working set the scan allocates: a quarter of the available memory at most
SCAN_MEMORY_SHARE = 4
STATE_ENV = "JAXGRADS_STATE_DIR"
_STATE_FILE = "caches.json"
_VERSION = 2


@dataclass(frozen=True)
class Caches:
    """The data caches a run uses, by level in bytes, and where each figure comes from.

    Attributes:
      sizes: ``{"L1": 32768, "L2": 1048576, "L3": 33554432}``; a level the machine does not report,
        or whose claim no probe backs, is absent.
      source: one line naming the source, e.g. ``sysfs``, ``JAXGRADS_CACHES`` or ``sysfs; L3 480 MiB
        not shown by the bandwidth probe (...): 64 MiB measured``.
    """

    sizes: Mapping[str, int]
    source: str


def _mib(n: float) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 2**10:g} KiB"


def scan_sets(claimed: Mapping[str, int], limit_bytes: int) -> list[int]:
    """The working sets (bytes, powers of two) that check the last claimed level: from twice the
    level below (an eighth of the last where there is none) to four times the last level, at most
    ``limit_bytes``."""
    if not claimed:
        return []
    sizes = sorted(claimed.values())
    low = 2 * sizes[-2] if len(sizes) > 1 else max(4096, sizes[-1] // 8)
    high = min(4 * sizes[-1], limit_bytes)
    sets, s = [], 1 << max(0, math.ceil(math.log2(low)))
    while s <= high:
        sets.append(s)
        s *= 2
    return sets


def effective_last_cache(claimed: Mapping[str, int], rates: Mapping[int, float]) -> Caches:
    """The decision of the module docstring, on rates the caller measured (or a test supplies).

    Args:
      claimed: the machine's caches by level.
      rates: in-place bytes per second by working-set bytes; the largest set is main memory.

    Returns:
      :class:`Caches` with the last level as claimed (shown), resized to the largest set in cache
      (not shown), or dropped (no set in cache); ``source`` says which and with which rates.
    """
    sizes = dict(sorted(claimed.items(), key=lambda kv: kv[1]))
    if not sizes or len(rates) < 2:
        return Caches(sizes, "")
    level, size = next(reversed(sizes.items()))
    memory_set = max(rates)
    r_mem = rates[memory_set]
    fast = [s for s, r in rates.items() if s < memory_set and r >= MARGIN * r_mem]
    largest = max(fast, default=0)
    if largest * SHOWN_SHARE >= size:
        return Caches(sizes, f"{level} shown by the bandwidth probe")
    share = max((s for s in rates if s * SHOWN_SHARE <= size), default=min(rates))
    tried = f"{_mib(share)} at {rates[share] / r_mem:.2f}x the memory rate"
    if not fast:
        del sizes[level]
        return Caches(sizes, f"{level} {_mib(size)} not shown by the bandwidth probe ({tried}): left out")
    sizes[level] = largest
    return Caches(sizes, f"{level} {_mib(size)} not shown by the bandwidth probe ({tried}): "
                         f"{_mib(largest)} measured")  # fmt: skip


def in_place_rate(device, dtype, size_bytes: int, probe_bytes: int, samples: int, min_sample_s: float,
                  *, fill: bool = True) -> float:  # fmt: skip
    """Bytes per second of the update (and, with ``fill``, the fill) loop over a donated buffer of
    ``size_bytes``, swept often enough to move ``probe_bytes`` per call: the faster of the two."""
    dtype = jnp.dtype(dtype)
    count = max(1, size_bytes // dtype.itemsize)
    reps = max(1, math.ceil(probe_bytes / (count * dtype.itemsize)))
    half, one = jnp.asarray(0.5, dtype), jnp.asarray(1, dtype)
    probes = {2: lambda b: lax.fori_loop(0, reps, lambda i, c: c * half + one, b)}
    if fill:
        probes[1] = lambda b: lax.fori_loop(0, reps, lambda i, c: jnp.full_like(c, i.astype(c.dtype)), b)
    best = 0.0
    for passes, body in probes.items():
        step = jax.jit(body, donate_argnums=0)
        buf = [jax.device_put(jnp.ones((count,), dtype), device)]

        def call(step=step, buf=buf):
            buf[0] = step(buf[0])  # the donated buffer comes back as the output: no fresh pages
            return buf[0]

        t = time_callable(call, samples=samples, min_sample_s=min_sample_s).min
        best = max(best, passes * reps * count * dtype.itemsize / t)
        del buf[0]
    return best


def _probe(device, sets: list[int], rounds: int = 2) -> dict[int, float]:
    """Each set's fastest rate over ``rounds`` passes through all of them: a busy moment during one
    pass does not decide a set."""
    best = dict.fromkeys(sets, 0.0)
    for _ in range(rounds):
        for s in sets:
            best[s] = max(best[s], in_place_rate(device, jnp.float32, s, 32 * 2**20, 3, 0.01, fill=False))
    return best


def _state_path() -> Path:
    return Path(os.environ.get(STATE_ENV) or Path.home() / ".cache" / "jaxgrads") / _STATE_FILE


def _remembered(key: str) -> dict | None:
    try:
        entry = json.loads(_state_path().read_text()).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    return entry if isinstance(entry, dict) and entry.get("version") == _VERSION else None


def _remember(key: str, entry: dict) -> None:
    """Adds ``entry`` to the state file, replaced atomically; a state folder that cannot be written
    only means the next run probes again."""
    path = _state_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            state = json.loads(path.read_text())
            state = state if isinstance(state, dict) else {}
        except (OSError, ValueError):
            state = {}
        state[key] = entry
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".caches-")
        with os.fdopen(fd, "w") as f:
            json.dump(state, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def defended_caches(probe: Callable[[list[int]], dict[int, float]] | None = None) -> Caches:
    """This machine's caches as runs use them (module docstring): the override, or the reported
    sizes with the last level checked once per machine by the bandwidth probe.

    Args:
      probe: measures the in-place rate of each working set (default: on JAX's first CPU device);
        a test passes its own.
    """
    claimed, source = machine.read_caches()
    if source in (machine.CACHES_ENV, "none") or not claimed:
        return Caches(claimed, source)
    key = json.dumps([machine.cpu_model(), machine.cpus_used(), sorted(claimed.items())])
    entry = _remembered(key)
    if entry is None:
        limit = machine.host_available_bytes() // SCAN_MEMORY_SHARE
        sets = scan_sets(claimed, limit)
        if probe is None:
            device = jax.devices("cpu")[0]
            probe = lambda s: _probe(device, s)  # noqa: E731
        rates = probe(sets) if len(sets) >= 2 else {}
        checked = effective_last_cache(claimed, rates)
        entry = {"version": _VERSION, "sizes": dict(checked.sizes), "check": checked.source,
                 "rates": {str(s): r for s, r in rates.items()}}  # fmt: skip
        _remember(key, entry)
    sizes = {k: int(v) for k, v in entry["sizes"].items()}
    check = entry.get("check") or "not checked: too few working sets fit in memory"
    return Caches(dict(sorted(sizes.items())), f"{source}; {check}")
