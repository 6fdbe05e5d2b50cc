"""A sweep's cases: the cross product of problems, derivatives, methods, sizes, dtypes and chunk
sizes, checked by name before anything runs, each decided once (:func:`jaxgrads.measure.case.decide`:
shapes, layout, basis, steps, nonzeros, traffic, memory)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import jax

from jaxgrads.errors import JaxgradsError, PluginError
from jaxgrads.measure.caches import defended_caches
from jaxgrads.measure.case import Case, decide
from jaxgrads.measure.floor import compulsory
from jaxgrads.measure.shapes import shapes_of
from jaxgrads.methods import METHODS, applicable_methods, default_methods, expand_methods, role_method
from jaxgrads.peers.asdex import require_asdex
from jaxgrads.peers.torch import require_torch
from jaxgrads.problems.registry import Derivative, Problem, Size, get_problem, problem_names
from jaxgrads.sweep.config import Sweep
from jaxgrads.validation import choose, positive_int, require_x64, resolve_device, resolve_dtype

__all__ = ["REGIMES", "Case", "plan", "planning_caches", "regime_bytes", "regime_size", "shapes_of"]

# the compulsory traffic (bytes) a regime's size reaches: between the second-level and last cache
# (geometric mean), and twice the last cache (past the first-touch threshold too); without cache
# sizes (a GPU), a fixed share of device memory
REGIMES = ("cache", "memory")
GPU_REGIME_BYTES = {"cache": 16 * 2**20, "memory": 2**30}
# the square sizes searched: multiples of 16 growing by about sqrt(2)
SIZE_GRID = tuple(sorted({16 * round(2 ** (k / 2)) for k in range(0, 41)}))


def plan(sweep: Sweep) -> list[Case]:
    """Expands a sweep into its cases; names are checked here, before anything runs.

    Sizes a problem does not use collapse (``inner`` at 64 and at 256x64 is the same case), and so
    do chunk sizes clamped to the same basis. Without ``methods`` the sweep runs every JAX method but
    the colored ones (the structure preset's) and the sharded ones (unless the run has more than one
    device); the peers run when named (``--methods torch`` or ``asdex`` names all of a peer's
    methods). With ``shard`` (K, N), the K-th of every N cases. A case's closed form comes before its
    other methods, in the order they were given.
    """
    problems = [get_problem(p) for p in (sweep.problems or problem_names())]
    wrts = sweep.wrt
    if wrts:
        known = {d.name for p in problems for d in p.derivatives}
        for w in wrts:
            choose("wrt (for the chosen problems)", w, sorted(known))
    platform = resolve_device(sweep.device).platform
    mesh = sweep.devices or len(jax.devices(platform))  # the chosen platform's, not the default backend's
    methods = expand_methods(sweep.methods) if sweep.methods else default_methods(mesh)
    if any(METHODS[m].backend == "torch" for m in methods):
        require_torch()
    if any(METHODS[m].backend == "asdex" for m in methods):
        require_asdex()
    chunks = tuple(positive_int("chunk size", c) for c in sweep.chunk_sizes)
    for dtype in sweep.dtypes:
        require_x64(resolve_dtype(dtype))
    caches = planning_caches() if sweep.regimes else {}
    cases, seen = [], set()
    closed_form = role_method("closed_form")

    def later(method: str) -> bool:
        return method != closed_form

    for problem in problems:
        for d in problem.derivatives:
            if wrts and d.name not in wrts:
                continue
            # the closed form first: its result is then the case's same-dtype reference (sweep.context)
            usable = sorted((m for m in methods if m in applicable_methods(problem, d.name)), key=later)
            sizes = [
                (problem.canonical(Size(m, n, b)), usable) for m, n in sweep.sizes for b in sweep.batches
            ]
            vectorized = [m for m in usable if m in _regime_methods()]
            for regime in sweep.regimes:
                for batch in sweep.batches:
                    try:
                        size = regime_size(problem, d, regime, batch, sweep.dtypes[0], caches)
                    except PluginError:  # a user's function raising: its rows at the given sizes say so
                        size = None
                    sizes += [(size, vectorized)] if size is not None else []
            for size, names in sizes:
                shapes = _shapes_or_none(problem, d, size)
                for dtype in sweep.dtypes:
                    for name in names:
                        for chunk in chunks if METHODS[name].chunked else (None,):
                            case = decide(problem, d, METHODS[name], size, dtype, chunk_size=chunk,
                                          devices=mesh, platform=platform, shapes=shapes)  # fmt: skip
                            if case.key not in seen:
                                seen.add(case.key)
                                cases.append(case)
    if not cases:
        raise JaxgradsError("the sweep is empty: no chosen method applies to the chosen problems and wrt")
    if sweep.shard is not None:
        k, n = sweep.shard
        total, cases = len(cases), cases[k - 1 :: n]
        if not cases:
            raise JaxgradsError(f"--shard {k}/{n}: the sweep has {total} cases, none in this shard")
    return cases


def _regime_methods() -> set[str]:
    """The methods a regime's size runs: the closed form and jacfwd and jacrev (the floor table's)."""
    return {role_method("closed_form"), role_method("forward"), role_method("reverse")}


def _shapes_or_none(problem: Problem, derivative: Derivative, size: Size):
    """The target's shapes, traced once for all its methods and dtypes; None where tracing fails
    (each case then says why in its own row)."""
    try:
        return shapes_of(problem, derivative, size)
    except Exception:  # a user's function raising at trace time: decide records it per case
        return None


def planning_caches() -> dict[str, int]:
    """The caches regimes are planned with: this machine's, checked by bandwidth
    (:func:`jaxgrads.measure.caches.defended_caches`); none on a GPU."""
    return dict(defended_caches().sizes) if jax.devices()[0].platform == "cpu" else {}


def regime_bytes(regime: str, caches: Mapping[str, int] | None = None) -> int:
    """The compulsory traffic that puts a kernel in ``regime`` (see REGIMES), for ``caches`` (bytes
    by level; default: this machine's, :func:`planning_caches`)."""
    choose("regime", regime, REGIMES)
    caches = planning_caches() if caches is None else caches
    if not caches:
        return GPU_REGIME_BYTES[regime]
    last = max(caches.values())
    if regime == "memory":
        return 2 * last
    inner = sorted(caches.values())[-2] if len(caches) > 1 else last // 8
    return int(math.sqrt(inner * last))


def regime_size(
    problem: Problem, derivative: Derivative, regime: str, batch: int, dtype: str,
    caches: Mapping[str, int] | None = None,
) -> Size | None:  # fmt: skip
    """The smallest square size of :data:`SIZE_GRID` whose compulsory traffic (inputs read, Jacobian
    written: :func:`jaxgrads.measure.floor.compulsory`) reaches ``regime``'s bytes for ``caches``;
    None where the inputs would outgrow twice that traffic first (``dL/db`` of the linear layer
    reads nothing and writes m numbers, while W grows as m²) or the grid ends first."""
    target = regime_bytes(regime, caches)
    itemsize = resolve_dtype(dtype).itemsize
    for k in SIZE_GRID:
        size = problem.canonical(Size(k, k, batch))
        shapes = shapes_of(problem, derivative, size)
        if sum(math.prod(s) for s in shapes[2].values()) * itemsize > 2 * target:
            return None
        if compulsory(problem, derivative, size, shapes, dtype).bytes >= target:
            return size
    return None
