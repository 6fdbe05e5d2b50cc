"""Running many cases: what to run (``config``), the cases and their memory (``plan``), measuring and
writing them (``run``), continuing an interrupted run (``resume``), and sweeps in child processes:
A/B rounds, baseline rounds, confirmation runs (``processes``)."""

from jaxgrads.sweep.config import (
    CROSSOVER_SWEEP,
    DEFAULT_SWEEP,
    GATE_SWEEP,
    PRESETS,
    QUICK_SWEEP,
    SCALING_SWEEP,
    Sweep,
    sizes_from,
)
from jaxgrads.sweep.plan import Case, estimate_bytes, plan
from jaxgrads.sweep.resume import prepare_resume
from jaxgrads.sweep.run import References, RunContext, machine_probes, run_case, run_sweep, save_arrays

__all__ = [
    "CROSSOVER_SWEEP",
    "DEFAULT_SWEEP",
    "GATE_SWEEP",
    "PRESETS",
    "QUICK_SWEEP",
    "SCALING_SWEEP",
    "Case",
    "References",
    "RunContext",
    "Sweep",
    "estimate_bytes",
    "machine_probes",
    "plan",
    "prepare_resume",
    "run_case",
    "run_sweep",
    "save_arrays",
    "sizes_from",
]
