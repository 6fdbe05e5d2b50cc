"""A sweep's cases: the cross product of problems, derivatives, methods, sizes, dtypes and chunk
sizes, checked by name before anything runs, with each case's shapes and memory estimate."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import jax
import jax.numpy as jnp
import numpy as np

from jaxgrads.errors import JaxgradsError
from jaxgrads.measure.caches import defended_caches
from jaxgrads.measure.floor import compulsory
from jaxgrads.measure.kernels import basis_size, resolve_chunk_size
from jaxgrads.methods import METHODS, Method, applicable_methods, expand_methods
from jaxgrads.methods.colored import nonzeros
from jaxgrads.peers.asdex import require_asdex
from jaxgrads.peers.torch import require_torch
from jaxgrads.problems.registry import Derivative, Problem, Size, get_problem, problem_names
from jaxgrads.results.labels import row_kernel_id
from jaxgrads.results.schema import row_key
from jaxgrads.sweep.config import Sweep
from jaxgrads.validation import choose, positive_int, require_x64, resolve_dtype

__all__ = ["REGIMES", "Case", "estimate_bytes", "plan", "planning_caches", "regime_bytes", "regime_size"]

# the compulsory traffic (bytes) a regime's size reaches: between the second-level and last cache
# (geometric mean), and twice the last cache (past the first-touch threshold too); without cache
# sizes (a GPU), a fixed share of device memory
REGIMES = ("cache", "memory")
GPU_REGIME_BYTES = {"cache": 16 * 2**20, "memory": 2**30}
# the square sizes searched: multiples of 16 growing by about sqrt(2)
SIZE_GRID = tuple(sorted({16 * round(2 ** (k / 2)) for k in range(0, 41)}))


@dataclass(frozen=True)
class Case:
    """One row of the sweep."""

    problem: Problem
    derivative: Derivative
    method: Method
    size: Size
    dtype: str
    chunk_size: int = 0
    devices: int = 1  # a sharded method's mesh size (not part of the key: one run has one mesh)

    @property
    def key(self) -> tuple[str, ...]:
        return row_key(self.columns())

    @property
    def id(self) -> str:
        return row_kernel_id(self.columns())

    @cached_property
    def shapes(self) -> tuple[tuple[int, ...], tuple[int, ...], dict[str, tuple[int, ...]]]:
        """(output shape, wrt shape, input shapes), evaluated once, without building any array."""
        return shapes_of(self.problem, self.derivative, self.size)

    def columns(self) -> dict[str, object]:
        s = self.size
        return {
            "problem": self.problem.name,
            "wrt": self.derivative.name,
            "method": self.method.name,
            "m": s.m,
            "n": s.n,
            "batch": s.batch,
            "dtype": self.dtype,
            "chunk_size": self.chunk_size,
        }


def shapes_of(problem: Problem, derivative: Derivative, size: Size):
    """(output shape, wrt shape, input shapes) at ``size``, without building any array."""
    specs = {
        k: jax.ShapeDtypeStruct(v.shape, v.dtype)
        for k, v in problem.make_inputs(size, np.dtype(np.float32), _ShapeOnlyRng()).items()
    }
    out = jax.eval_shape(lambda kw: problem.fn(jnp, **kw), specs)
    return tuple(out.shape), tuple(specs[derivative.wrt].shape), {k: v.shape for k, v in specs.items()}


def plan(sweep: Sweep) -> list[Case]:
    """Expands a sweep into its cases; names are checked here, before anything runs.

    Sizes a problem does not use collapse (``inner`` at 64 and at 256x64 is the same case), and so
    do chunk sizes clamped to the same basis. Without ``methods`` the sweep runs every JAX method but
    the colored ones (the structure preset's) and the sharded ones (unless the run has more than one
    device); the peers run when named (``--methods torch`` or ``asdex`` names all of a peer's
    methods). With ``shard`` (K, N), the K-th of every N cases.
    """
    problems = [get_problem(p) for p in (sweep.problems or problem_names())]
    wrts = sweep.wrt
    if wrts:
        known = {d.name for p in problems for d in p.derivatives}
        for w in wrts:
            choose("wrt (for the chosen problems)", w, sorted(known))
    if sweep.methods:
        methods = expand_methods(sweep.methods)
    else:
        opt_in = {"colored"} | (set() if (sweep.devices or len(jax.devices())) > 1 else {"sharded"})
        methods = [n for n, m in METHODS.items() if m.backend == "jax" and m.family not in opt_in]
    if any(METHODS[m].backend == "torch" for m in methods):
        require_torch()
    if any(METHODS[m].backend == "asdex" for m in methods):
        require_asdex()
    chunks = tuple(positive_int("chunk size", c) for c in sweep.chunk_sizes)
    for dtype in sweep.dtypes:
        require_x64(resolve_dtype(dtype))
    mesh = sweep.devices or len(jax.devices())
    caches = planning_caches() if sweep.regimes else {}
    cases, seen = [], set()
    for problem in problems:
        for d in problem.derivatives:
            if wrts and d.name not in wrts:
                continue
            usable = [m for m in methods if m in applicable_methods(problem, d.name)]
            sizes = [
                (problem.canonical(Size(m, n, b)), usable) for m, n in sweep.sizes for b in sweep.batches
            ]
            vectorized = [m for m in usable if m in _regime_methods()]
            for regime in sweep.regimes:
                for batch in sweep.batches:
                    size = regime_size(problem, d, regime, batch, sweep.dtypes[0], caches)
                    sizes += [(size, vectorized)] if size is not None else []
            for size, names in sizes:
                for dtype in sweep.dtypes:
                    for name in names:
                        for chunk in _chunks(problem, d, METHODS[name], size, chunks):
                            devices = mesh if METHODS[name].family == "sharded" else 1
                            case = Case(problem, d, METHODS[name], size, dtype, chunk, devices)
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
    from jaxgrads.methods import representative

    return {representative("closed_form"), representative("vectorized", "forward"),
            representative("vectorized", "reverse")}  # fmt: skip


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


def _chunks(problem: Problem, derivative: Derivative, method: Method, size: Size, chunks) -> list[int]:
    """The chunk sizes a method runs at here: clamped to its basis, 0 for unchunked methods."""
    if not method.chunked:
        return [0]
    shapes = {k: v.shape for k, v in problem.make_inputs(size, np.dtype(np.float32), _ShapeOnlyRng()).items()}
    basis = basis_size(problem, derivative, method, shapes)
    return list(dict.fromkeys(resolve_chunk_size(method, c, basis) for c in chunks))


class _ShapeOnlyRng:
    """Stands in for a Generator so input makers report shapes without drawing large arrays.

    Any sampling method works (``standard_normal(shape)``, ``uniform(low, high, size)``, ...): it
    returns a zero-stride array of the requested shape.
    """

    def __getattr__(self, name):
        def draw(*args, size=None, **kwargs):
            shape = size if size is not None else next((a for a in args if isinstance(a, tuple)), ())
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            return np.lib.stride_tricks.as_strided(np.zeros(1), shape=shape, strides=(0,) * len(shape))

        return draw


def estimate_bytes(case: Case) -> tuple[int, tuple[int, ...], int]:
    """Bytes a case needs at its peak, the Jacobian's shape, and the method's sequential steps.

    The device holds the inputs, the Jacobian twice (forward methods transpose their columns;
    jacrev's vmap output and the result), and the identity basis the method materializes
    (``Method.basis``); a sharded method's device holds its share of the last two, a BCOO output its
    nonzeros and their indices instead of the Jacobian. On a CPU (whose
    host devices share one memory) the host also holds the float64 reference, its error scale, and
    the float64 autodiff Jacobian that checks the closed form.
    """
    out, wrt, inputs = case.shapes
    out_size, in_size = math.prod(out), math.prod(wrt)
    itemsize = resolve_dtype(case.dtype).itemsize
    jac_shape = (*wrt, *wrt) if case.derivative.order == 2 else (*out, *wrt)
    jac = math.prod(jac_shape)
    width = {"in": in_size, "out": out_size, None: 0}[case.method.basis]
    basis = width * (case.chunk_size or width)  # a chunked method holds chunk_size basis vectors
    cpu = jax.devices()[0].platform == "cpu"
    share = 1 if cpu else case.devices
    held = 2 * jac
    if case.method.output == "bcoo":  # the nonzeros and one int32 index per dimension, never dense
        nnz = nonzeros(case.derivative, inputs, out)
        held = nnz + nnz * len(jac_shape) * 4 // itemsize
    total = itemsize * (sum(math.prod(s) for s in inputs.values()) + (held + basis) // share)
    if cpu:
        # float64 reference, scale, the kernel's result upcast, and float64 jacrev checking the closed form
        total += 8 * 4 * jac
    steps = {"in": in_size, "out": out_size, None: 1}[case.method.steps]
    if case.chunk_size:
        steps = -(-steps // case.chunk_size)
    return total, jac_shape, steps
