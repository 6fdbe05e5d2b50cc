"""What a sweep runs: the :class:`Sweep` record and the built-in presets (default, quick, gate,
scaling, crossover, structure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jaxgrads.measure.timing import DEFAULT_MIN_SAMPLE_S, DEFAULT_SAMPLES
from jaxgrads.methods import METHODS
from jaxgrads.validation import parse_size

__all__ = [
    "CROSSOVER_SWEEP",
    "DEFAULT_SWEEP",
    "GATE_SWEEP",
    "PRESETS",
    "QUICK_SWEEP",
    "SCALING_SWEEP",
    "STRUCTURE_SWEEP",
    "Sweep",
    "sizes_from",
]


@dataclass(frozen=True)
class Sweep:
    """What to run. ``None`` for problems, wrt or methods means all that apply."""

    problems: tuple[str, ...] | None = None
    wrt: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None
    # square, tall and wide: fwd/rev trade places between the last two
    sizes: tuple[tuple[int, int], ...] = ((64, 64), (512, 16), (16, 512))
    batches: tuple[int, ...] = (4,)
    dtypes: tuple[str, ...] = ("float32",)
    device: str = "auto"
    samples: int = DEFAULT_SAMPLES
    min_sample_s: float = DEFAULT_MIN_SAMPLE_S
    # a kernel's samples together last about this long: a slow one keeps fewer, at least 3
    # (measure.timing.sample_count; pytest-benchmark's max_time is 1 s too)
    max_time_s: float = 1.0
    memory_budget: int | None = None  # bytes; None: half the device's free memory
    max_steps: int = 2**14  # sequential steps (lax.map iterations, loop calls) allowed per Jacobian
    max_call_s: float = 10.0  # a case whose first call takes longer is skipped after that call
    save_arrays: Path | None = None
    chunk_sizes: tuple[int, ...] = (64,)  # for jacrev_chunked / jacfwd_chunked
    cpus: int | None = None  # pin the process to this many CPUs (the CLI does it before JAX starts)
    instructions: bool = False  # also count instructions per call under callgrind (sweep.instructions)
    # per target, a square size whose compulsory traffic reaches each of these regimes ("cache",
    # "memory"), for the closed form, jacfwd and jacrev (sweep.plan.regime_size)
    regimes: tuple[str, ...] = ()
    # the sharded methods' mesh: this many devices (on a CPU, host devices made before JAX starts:
    # the CLI's --devices); None: every device JAX sees
    devices: int | None = None
    # (K, N): only every N-th case, from the K-th (1-based), to split a sweep across machines
    shard: tuple[int, int] | None = None
    # kernels compiled at once, ahead of their timing (sweep.compiling); None: the CPUs the process
    # may use; 1: each compiled just before it is timed
    jobs: int | None = None


DEFAULT_SWEEP = Sweep(regimes=("cache", "memory"))
# the quick sweep: every problem and every JAX method family at one size, under 45 s on 2 CPUs
# (make budgets); the chunked variants left out (at this size they equal map_vjp / map_jvp)
QUICK_SWEEP = Sweep(
    methods=tuple(n for n, m in METHODS.items() if m.backend == "jax" and not m.chunked),
    sizes=((64, 64),),
    samples=5,
    min_sample_s=0.003,
)


# the regression gate's sweep: the vectorized methods and the closed form at 128, where most kernels
# clear 10x the dispatch floor; more samples for the rank test (9 against 9 can reach p = 2e-5); a
# kernel slower than 0.1 s a call is skipped, which keeps one gate run near half a minute
GATE_SWEEP = Sweep(
    # the notes' problems: the baselines hold them (a new problem joins the gate with a new baseline)
    problems=("inner", "matvec", "bilinear", "quadratic", "quadratic_sym", "linear", "linear_loss"),
    methods=("jacfwd", "jacrev", "grad", "linearize", "linear_transpose", "map_vjp", "analytic"),
    sizes=((128, 128),),
    samples=9,
    min_sample_s=0.005,
    max_call_s=0.1,
    max_time_s=math.inf,  # all 9, whatever the kernel's speed
    # one CPU: XLA's threads on a shared VM land differently in every process; pinned, a kernel's
    # time moves less from one process to the next (bench/studies/normalization.py)
    cpus=1,
)
# one sweep under several jax releases (jaxgrads releases): three of the notes' problems (a vector's,
# a matrix's and a layer's derivatives: 22 kernels), forward, reverse and closed form, at 32, where
# every kernel is cheap enough to count under callgrind (~10 s each, mostly XLA compiling under it)
# and both a release's dispatch (most of a count at this size) and its kernels (matvec/A, linear/W) show
RELEASES_SWEEP = Sweep(
    problems=("matvec", "quadratic", "linear"),
    methods=("jacfwd", "jacrev", "analytic"),
    sizes=((32, 32),),
    samples=9,
    min_sample_s=0.005,
    max_call_s=0.1,
    max_time_s=math.inf,
    cpus=1,
)
# forward against reverse: matvec w.r.t. x at m·n = 65536, aspect m/n from 1/64 to 64
CROSSOVER_SWEEP = Sweep(
    problems=("matvec",),
    wrt=("x",),
    methods=("jacfwd", "jacrev"),
    sizes=tuple((2**k, 2 ** (16 - k)) for k in range(5, 12)),
)
# time against size: squares from 32 to 512 for every vectorized method (the one-element walks are
# the default sweep's business); what `make bench` plots, so the quick sweep's 5 samples of 5 ms
SCALING_SWEEP = Sweep(
    methods=tuple(n for n, m in METHODS.items() if m.backend == "jax" and m.steps is None),
    sizes=((32, 32), (128, 128), (512, 512)),
    samples=5,
    min_sample_s=0.005,
    max_call_s=1.0,
)
# dense, colored and closed form on every target at 32 and 128, batch 8: where structure pays
# (the asdex peer joins with --methods ... asdex, or make sparse)
STRUCTURE_SWEEP = Sweep(
    methods=("jacfwd", "jacrev", "analytic", *(n for n, m in METHODS.items() if m.kind == "pattern"
                                               and m.backend == "jax")),
    sizes=((32, 32), (128, 128)),
    batches=(8,),
    samples=5,
    min_sample_s=0.005,
    max_call_s=2.0,
)
PRESETS = {
    "default": DEFAULT_SWEEP,
    "quick": QUICK_SWEEP,
    "gate": GATE_SWEEP,
    "releases": RELEASES_SWEEP,
    "scaling": SCALING_SWEEP,
    "crossover": CROSSOVER_SWEEP,
    "structure": STRUCTURE_SWEEP,
}


def sizes_from(texts: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """Parses ``["1024", "4096x64"]``; raises on the first malformed size."""
    return tuple(parse_size(t) for t in texts)
