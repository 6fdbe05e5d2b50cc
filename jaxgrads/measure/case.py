r"""One case, decided once: everything about a (problem, derivative, method, size, dtype, chunk,
devices) that the planner, the runner, the instruction-count child, the references, the floor, the
memory estimate and the reports need, computed by :func:`decide` and never again.

For $f: \mathbb R^n \to \mathbb R^m$ (n = ``wrt`` elements, m = output elements) the case fixes:

- the layout: the Jacobian is ``out_shape + wrt_shape`` (order 1) or ``wrt_shape + wrt_shape`` (a
  Hessian), the closed form's;
- the basis a method walks: m output cotangents (``steps``/``basis`` ``out``) or n input tangents
  (``in``); a chunked method's chunk is clamped to it, and its sequential steps are
  $\lceil \text{basis} / \text{chunk} \rceil$;
- the nonzeros (the declared pattern's size, or every entry), the output format, the compulsory
  traffic (:func:`jaxgrads.measure.floor.compulsory`; a BCOO output writes its nonzeros and one
  int32 index per dimension) and the memory estimate (:func:`memory_bytes`).

A case whose shapes cannot be evaluated (a plug-in raising at trace time) is still a case: its
``error`` says why, and the runner writes it as an ``error`` row. :meth:`Case.to_dict` and
:meth:`Case.from_dict` carry a case to a child process and back unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from jaxgrads.errors import JaxgradsError, PluginError, one_line
from jaxgrads.measure.floor import Traffic, compulsory
from jaxgrads.measure.shapes import shapes_of
from jaxgrads.methods import Method, get_method
from jaxgrads.problems.registry import Derivative, Problem, Size, get_problem, nonzeros
from jaxgrads.results.labels import row_kernel_id
from jaxgrads.results.schema import row_key
from jaxgrads.validation import positive_int, resolve_dtype

__all__ = ["DEFAULT_CHUNK_SIZE", "Case", "colors_at_least", "decide", "device_bytes", "memory_bytes"]

DEFAULT_CHUNK_SIZE = 64
INDEX_BYTES = 4  # a BCOO index and a coloring's row or column: int32


@dataclass(frozen=True)
class Case:
    """Everything decided about one row of a sweep (module docstring).

    Attributes:
      problem, derivative, method, size, dtype: the case's key (with ``chunk_size``).
      chunk_size: basis vectors per step of a chunked method, clamped to its basis; else 0.
      devices: the mesh's size for a method that runs on one (``Method.needs_mesh``), else 1.
      platform: the device platform it was decided for (``cpu``, ``gpu``): the memory model's.
      args: each argument's shape, in the problem's argument order.
      out_shape, wrt_shape, jac_shape: f's output, the differentiated argument, the Jacobian.
      basis: the basis vectors the method walks or holds (output or input elements; 1 at least).
      steps: its sequential steps (1 for a vectorized method).
      nnz: the Jacobian's structural nonzeros.
      output: ``dense`` or ``bcoo``.
      memory: the bytes the case needs at its peak (:func:`memory_bytes`).
      traffic: its compulsory traffic and flops.
      error: why the case could not be decided ("" when it was).
    """

    problem: Problem
    derivative: Derivative
    method: Method
    size: Size
    dtype: str
    chunk_size: int = 0
    devices: int = 1
    platform: str = "cpu"
    args: tuple[tuple[str, tuple[int, ...]], ...] = ()
    out_shape: tuple[int, ...] = ()
    wrt_shape: tuple[int, ...] = ()
    jac_shape: tuple[int, ...] = ()
    basis: int = 1
    steps: int = 1
    nnz: int = 0
    output: str = "dense"
    memory: int = 0
    traffic: Traffic = field(default_factory=lambda: Traffic(0, 0, 0.0))
    error: str = ""

    def __repr__(self) -> str:
        return f"Case({self.id}{', error: ' + self.error if self.error else ''})"

    @property
    def key(self) -> tuple[str, ...]:
        return row_key(self.columns())

    @property
    def id(self) -> str:
        return row_kernel_id(self.columns())

    @property
    def arg_shapes(self) -> dict[str, tuple[int, ...]]:
        return dict(self.args)

    @property
    def shapes(self) -> tuple[tuple[int, ...], tuple[int, ...], dict[str, tuple[int, ...]]]:
        """(output shape, wrt shape, input shapes), as :func:`shapes_of` gives them."""
        return self.out_shape, self.wrt_shape, self.arg_shapes

    @property
    def itemsize(self) -> int:
        return resolve_dtype(self.dtype).itemsize

    @property
    def jac_bytes(self) -> int:
        """The Jacobian's bytes held dense."""
        return math.prod(self.jac_shape) * self.itemsize

    def columns(self) -> dict[str, object]:
        """The row's key columns."""
        s = self.size
        return {"problem": self.problem.name, "wrt": self.derivative.name, "method": self.method.name,
                "m": s.m, "n": s.n, "batch": s.batch, "dtype": self.dtype,
                "chunk_size": self.chunk_size}  # fmt: skip

    def to_dict(self) -> dict:
        """The case as JSON-able data: names for the registered parts, numbers for the rest."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out |= {
            "problem": self.problem.name,
            "derivative": self.derivative.name,
            "method": self.method.name,
            "size": [self.size.m, self.size.n, self.size.batch],
            "args": [[a, list(s)] for a, s in self.args],
            "traffic": [self.traffic.read_bytes, self.traffic.write_bytes, self.traffic.flops],
        }
        for name in ("out_shape", "wrt_shape", "jac_shape"):
            out[name] = list(out[name])
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Case:
        """The case :meth:`to_dict` gave, its problem and method looked up by name (a plug-in's
        problem must be registered in this process too)."""
        problem = get_problem(data["problem"])
        values = dict(data) | {
            "problem": problem,
            "derivative": problem.derivative(data["derivative"]),
            "method": get_method(data["method"]),
            "size": Size(*data["size"]),
            "args": tuple((a, tuple(s)) for a, s in data["args"]),
            "traffic": Traffic(*data["traffic"]),
        }
        for name in ("out_shape", "wrt_shape", "jac_shape"):
            values[name] = tuple(values[name])
        return cls(**values)


def decide(
    problem: Problem,
    derivative: Derivative,
    method: Method,
    size: Size,
    dtype: str,
    *,
    chunk_size: int | None = None,
    devices: int = 1,
    platform: str = "cpu",
    shapes=None,
) -> Case:
    """The case of these choices, every derived field computed here (module docstring).

    ``chunk_size`` None is the default chunk (a chunked method's); ``devices`` counts only for a
    mesh method; ``shapes`` (:func:`shapes_of`'s, when the caller has them) saves tracing again.
    """
    key = {"problem": problem, "derivative": derivative, "method": method, "size": size, "dtype": dtype,
           "devices": devices if method.needs_mesh else 1, "platform": platform}  # fmt: skip
    try:
        shapes = shapes if shapes is not None else shapes_of(problem, derivative, size)
        return _decided(key, shapes, chunk_size)
    except JaxgradsError as exc:
        if not isinstance(exc, PluginError):
            raise  # bad input (a chunk size of 0): one line for the user, not a row
        return Case(**key, chunk_size=_asked_chunk(method, chunk_size), error=str(exc))
    except Exception as exc:  # a user's sparsity pattern or closed form raising: its row says why
        why = f"{problem.name}: {one_line(exc)}"
        return Case(**key, chunk_size=_asked_chunk(method, chunk_size), error=why)


def _asked_chunk(method: Method, chunk_size: int | None) -> int:
    return 0 if not method.chunked else DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size


def _decided(key: dict, shapes, chunk_size: int | None) -> Case:
    problem, derivative, method = key["problem"], key["derivative"], key["method"]
    size, dtype = key["size"], key["dtype"]
    out, wrt, inputs = shapes
    jac_shape = derivative.layout(tuple(out), tuple(wrt))
    n_in, n_out = math.prod(wrt), math.prod(out)  # f's own output (a Hessian's f is a scalar)
    basis = max(1, n_out if (method.steps or method.basis) == "out" else n_in)
    chunk = 0
    if method.chunked:
        asked = DEFAULT_CHUNK_SIZE if chunk_size is None else positive_int("chunk size", chunk_size)
        chunk = min(asked, basis)
    steps = {"in": n_in, "out": n_out, None: 1}[method.steps]
    if chunk:
        steps = -(-steps // chunk)
    nnz = _nonzeros(derivative, inputs, out)
    itemsize = resolve_dtype(dtype).itemsize
    traffic = compulsory(problem, derivative, size, (out, wrt, inputs), dtype)
    if method.output == "bcoo":  # it writes the nonzeros and one int32 index per dimension
        traffic = Traffic(traffic.read_bytes, nnz * (itemsize + INDEX_BYTES * len(jac_shape)), traffic.flops)
    case = Case(**key, chunk_size=chunk, args=tuple(inputs.items()), out_shape=out, wrt_shape=wrt,
                jac_shape=jac_shape, basis=basis, steps=steps, nnz=nnz, output=method.output,
                traffic=traffic)  # fmt: skip
    return Case(**{**{f.name: getattr(case, f.name) for f in fields(case)}, "memory": memory_bytes(case)})


_NNZ: dict = {}


def _nonzeros(derivative: Derivative, inputs: dict, out: tuple) -> int:
    """:func:`jaxgrads.problems.registry.nonzeros`, once per target and shapes (a declared pattern
    is built to be counted, and every method and dtype of a target shares the count)."""
    key = (derivative, tuple(inputs.items()), out)
    try:
        if key not in _NNZ:
            if len(_NNZ) > 256:
                _NNZ.clear()
            _NNZ[key] = nonzeros(derivative, inputs, out)
        return _NNZ[key]
    except TypeError:  # an unhashable plug-in field: count it again
        return nonzeros(derivative, inputs, out)


def colors_at_least(case: Case) -> int:
    """The fewest colors any coloring of the case's pattern can have: a row's nonzeros all differ
    in color (a column's, for a row coloring), so at least the average row (column) count; a
    method of no declared mode may take either."""
    n_in = math.prod(case.wrt_shape)
    n_out = math.prod(case.jac_shape) // max(1, n_in)  # the Jacobian's rows
    forward, reverse = -(-case.nnz // max(1, n_out)), -(-case.nnz // max(1, n_in))
    return {"forward": forward, "reverse": reverse}.get(case.method.mode, min(forward, reverse))


def device_bytes(case: Case) -> int:
    """Bytes the kernel needs on its device at its peak (what XLA's ``peak_bytes`` measures).

    The device holds the inputs, the Jacobian twice (forward methods transpose their columns;
    jacrev's vmap output and the result), and the basis the method materializes: its identity basis
    (``Method.basis``; a chunked method ``chunk_size`` vectors of it), or for a prepared pattern one
    seed and one compressed row per color (at least :func:`colors_at_least`) and the pattern's
    indices. A mesh method's device holds its share of the Jacobian and basis, a BCOO output its
    nonzeros and their indices instead of the Jacobian.
    """
    n_in, n_out = math.prod(case.wrt_shape), math.prod(case.out_shape)
    itemsize, jac = case.itemsize, math.prod(case.jac_shape)
    width = {"in": n_in, "out": n_out, None: 0}[case.method.basis]
    basis = width * (case.chunk_size or width)
    if case.method.kind == "pattern":  # seeds (colors x wrt) and compressed rows (colors x Jacobian rows)
        rows = jac // max(1, n_in)
        basis += colors_at_least(case) * (n_in + rows) + 2 * case.nnz * INDEX_BYTES // itemsize
    share = 1 if case.platform == "cpu" else case.devices
    held = 2 * jac
    if case.output == "bcoo":  # the nonzeros and one int32 index per dimension, never dense
        held = case.nnz + case.nnz * len(case.jac_shape) * INDEX_BYTES // itemsize
    return itemsize * (sum(math.prod(s) for _, s in case.args) + (held + basis) // share)


def memory_bytes(case: Case) -> int:
    """Bytes a case needs at its peak: :func:`device_bytes`, and on a CPU (whose host devices share
    one memory) the float64 reference, its error scale, the kernel's result upcast, and the float64
    autodiff Jacobian that checks the closed form, ``8 * 4 * jac``."""
    host = 8 * 4 * math.prod(case.jac_shape) if case.platform == "cpu" else 0
    return device_bytes(case) + host
