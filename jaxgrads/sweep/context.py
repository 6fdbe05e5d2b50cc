"""What every case of one run shares: the machine's probes and ceilings, the metadata, and the
references and inputs kept while the cases that share them run."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import jax
import numpy as np

from jaxgrads.measure.accuracy import Reference, reference
from jaxgrads.measure.case import Case
from jaxgrads.measure.kernels import Kernel
from jaxgrads.measure.machine import default_memory_budget, run_metadata
from jaxgrads.measure.roofline import FIRST_TOUCH_MIN_BYTES, Ceilings, measure_ceilings
from jaxgrads.measure.timing import dispatch_floor
from jaxgrads.methods import role_method
from jaxgrads.sweep.compiling import resolve_jobs
from jaxgrads.sweep.config import Sweep
from jaxgrads.sweep.phases import Phases
from jaxgrads.validation import resolve_device, resolve_dtype

__all__ = ["PROBES_KEPT_S", "References", "RunContext", "ended_with", "machine_probes", "reuse_probes"]


class References:
    """Each case's references, computed once for all the methods of a (target, size, dtype).

    The plan puts the closed form first among a case's methods (:func:`jaxgrads.sweep.plan.plan`), so
    its kernel's result, ``J``, is the same-dtype reference, not a second compile of the same program.
    """

    def __init__(self):
        self._key, self._ref = None, None

    def get(self, kernel: Kernel, J=None) -> Reference:
        """The references of ``kernel``'s case; ``J``, its result (used where ``kernel`` is the closed
        form's, on one device)."""
        key = (kernel.problem.name, kernel.derivative.name, kernel.size, kernel.dtype.name)
        if key != self._key:
            self._key, self._ref = None, None  # free the last one before building the next
            own = kernel.method.name == role_method("closed_form") and kernel.mesh is None
            self._key, self._ref = key, reference(kernel, closed_form_result=J if own else None)
        return self._ref


def machine_probes(
    sweep: Sweep, device, *, largest_output_bytes: float = math.inf, warm: bool = False
) -> tuple[dict[str, float], dict[str, Ceilings]]:
    """What every row of one run shares besides its metadata: the dispatch floor and the memory
    budget (as row columns), and the device's ceilings in each of the sweep's dtypes; the
    first-touch rate only where an output of ``largest_output_bytes`` can pay it.

    The dispatch floor is the faster of two measurements, before and after the ceilings: in a process
    that has just started, the first one can come out 10-40% slow (seen in the test suite: 9.1 µs,
    with kernels of the same run at 8.0 µs), and a floor must not be raised by a cold start. ``warm``
    (a run's end, :mod:`jaxgrads.sweep.refloor`): the process is not cold, one measurement after the
    ceilings.
    """
    first = math.inf if warm else dispatch_floor(device)
    ceilings = {
        dtype: measure_ceilings(
            device, dtype, samples=sweep.samples, min_sample_s=sweep.min_sample_s,
            first_touch=largest_output_bytes >= FIRST_TOUCH_MIN_BYTES.get(device.platform, math.inf),
        )  # fmt: skip
        for dtype in sweep.dtypes
    }
    probes = {
        "dispatch_floor_s": min(first, dispatch_floor(device)),
        "memory_budget_bytes": sweep.memory_budget or default_memory_budget(device),
    }
    return probes, ceilings


@dataclass(frozen=True)
class _Ended:
    """The probes a run ended with (:mod:`jaxgrads.sweep.refloor`), and when."""

    device: jax.Device
    dispatch_floor_s: float
    ceilings: Mapping[str, Ceilings]
    at: float  # time.monotonic()


_ENDED: list[_Ended] = []  # this process's latest, at most one
_REUSE_S: list[float] = [0.0]  # how old an ended run's probes may be to start the next run; 0: never
PROBES_KEPT_S = 24 * 3600.0  # how long jaxgrads.compare and advise keep a process's probes
_AGAIN: list[bool] = [True]  # whether a run that started from reused probes probes again at its end


@contextmanager
def reuse_probes(max_age_s: float, *, again: bool = True) -> Iterator[None]:
    """Within the block, a run of this process starts from the probes the run before it ended with,
    if they are at most ``max_age_s`` old, measured on the same device in every dtype it needs (and
    the first-touch rate where it needs one): the runs of ``make bench`` and of the devices study,
    one after another in one process, probe the machine once between two runs instead of twice.

    Each run still probes at its end and takes the better of its start and end
    (:mod:`jaxgrads.sweep.refloor`): two measurements per run, as when it probes its own start.
    ``again=False`` (:func:`jaxgrads.compare`, called again and again in one process): a run that
    started from reused probes keeps them to its end, so the process probes the machine once, at its
    first run's start and end (the better of the two kept). Off by default: a lone run, or a test's,
    measures its own start.
    """
    before = _REUSE_S[0], _AGAIN[0]
    _REUSE_S[0], _AGAIN[0] = max_age_s, again
    try:
        yield
    finally:
        _REUSE_S[0], _AGAIN[0] = before


def ended_with(device: jax.Device, dispatch_floor_s: float, ceilings: Mapping[str, Ceilings | None]) -> None:
    """Records the probes a run ended with, for :func:`reuse_probes`."""
    measured = {dtype: c for dtype, c in ceilings.items() if c is not None}
    _ENDED[:] = [_Ended(device, dispatch_floor_s, measured, time.monotonic())]


def _reusable(sweep: Sweep, device, first_touch: bool) -> tuple[float, dict[str, Ceilings]] | None:
    """The dispatch floor and ceilings the last run ended with, where :func:`reuse_probes` allows."""
    if not _ENDED or _REUSE_S[0] <= 0:
        return None
    last = _ENDED[0]
    if last.device != device or time.monotonic() - last.at > _REUSE_S[0]:
        return None
    if not all(d in last.ceilings for d in sweep.dtypes):
        return None
    ceilings = {}
    for dtype in sweep.dtypes:
        c = last.ceilings[dtype]
        if first_touch and not math.isfinite(c.first_touch_min_bytes):
            return None  # the last run had no output to pay it: this one measures its own
        if not first_touch:  # as this run would have measured: no first-touch level
            c = dataclasses.replace(c, first_touch_bytes_per_s=math.nan, first_touch_min_bytes=math.inf)
        ceilings[dtype] = c
    return last.dispatch_floor_s, ceilings


@dataclass
class RunContext:
    """What every case of one run shares: the sweep, the device, the run's columns (metadata and
    machine probes), the ceilings per dtype, and the caches of references and inputs.

    The runner and the pytest-benchmark suite both start one with :meth:`start`.
    """

    sweep: Sweep
    device: jax.Device
    meta: dict
    ceilings: Mapping[str, Ceilings | None]
    references: References = field(default_factory=References)
    phases: Phases = field(default_factory=Phases)
    jobs: int = 1  # kernels compiled at once, ahead of timing (sweep.compiling)
    probe_again: bool = True  # probe at the end (sweep.refloor); False: started from probes kept to reuse
    _inputs: dict = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        sweep: Sweep,
        meta: Mapping | None = None,
        cases: Sequence[Case] | None = None,
        phases: Phases | None = None,
    ) -> RunContext:
        """Resolves the device, reads the machine's metadata and measures its probes (for ``cases``,
        when given: the first-touch rate only if one of their Jacobians is large enough to pay it;
        a case that could not be decided counts as large: its error is its own row's), or, inside
        :func:`reuse_probes`, takes those the run before it ended with.

        ``phases``: where the run's time is accounted (:mod:`jaxgrads.sweep.phases`; default: a new one).
        """
        phases = Phases() if phases is None else phases
        with phases("probes"):
            device = resolve_device(sweep.device)
            largest = math.inf if cases is None else max(
                (math.inf if c.error else c.jac_bytes for c in cases), default=0
            )  # fmt: skip
            first_touch = largest >= FIRST_TOUCH_MIN_BYTES.get(device.platform, math.inf)
            reused = _reusable(sweep, device, first_touch)
            if reused is None:
                probes, ceilings = machine_probes(sweep, device, largest_output_bytes=largest)
            else:
                ceilings = reused[1]
                probes = {"dispatch_floor_s": reused[0],
                          "memory_budget_bytes": sweep.memory_budget or default_memory_budget(device)}
            meta = run_metadata(device) | dict(meta or {}) | probes
        again = reused is None or _AGAIN[0]
        return cls(sweep, device, meta, ceilings, phases=phases, jobs=resolve_jobs(sweep.jobs),
                   probe_again=again)

    def inputs(self, case: Case) -> dict[str, np.ndarray]:
        """The host inputs of ``case``, kept while the cases that share them run."""
        key = (case.problem.name, case.size, case.dtype)
        if key not in self._inputs:
            self._inputs.clear()
            self._inputs[key] = case.problem.inputs(case.size, resolve_dtype(case.dtype))
        return self._inputs[key]
