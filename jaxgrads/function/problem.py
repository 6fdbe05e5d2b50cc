"""A user's function at its own arguments as a registered problem of its own: the arguments checked
(each bad one a one-line error before anything compiles), the pytrees flattened
(:mod:`jaxgrads.problems.trees`), the function traced once to learn its output."""

from __future__ import annotations

import inspect
import math
import os
import traceback
from collections.abc import Callable, Sequence

import numpy as np

from jaxgrads.errors import JaxgradsError, one_line
from jaxgrads.problems.trees import Flat, is_array, leaves_of, path_name, ravel, unravel

__all__ = ["function_problem", "parse_argnums"]


def _names(f: Callable, count: int) -> list[str]:
    """The function's own parameter names where it has them (``x``, ``W``), else ``arg0``, ..."""
    try:
        params = [p.name for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]  # fmt: skip
    except (TypeError, ValueError):
        params = []
    names = params[:count] if len(params) >= count else [f"arg{i}" for i in range(count)]
    return names if len(set(names)) == count and "xp" not in names else [f"arg{i}" for i in range(count)]


def parse_argnums(argnums, count: int) -> tuple[int, ...]:
    """``argnums`` (an int or a tuple of ints, as ``jax.jacrev`` takes it) as a tuple, checked."""
    many = isinstance(argnums, (tuple, list))
    values = tuple(argnums) if many else (argnums,)
    if not values or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in values):
        raise JaxgradsError(f"compare: argnums {argnums!r}; valid: an int or a tuple of ints")
    bad = [int(i) for i in values if not -count <= i < count]
    if bad:
        raise JaxgradsError(f"compare: argnums {bad[0]}; valid: 0-{count - 1}")
    values = tuple(int(i) % count for i in values)
    if len(set(values)) < len(values):
        raise JaxgradsError(f"compare: argnums {argnums!r} repeats an argument")
    return values


def _library_dirs() -> tuple[str, ...]:
    """The folders of the libraries a traceback passes through on its way to the user's line."""
    import sys

    dirs = [os.path.dirname(os.__file__)]  # the standard library
    for name in ("jax", "jaxlib", "numpy", "jaxgrads", "equinox", "flax", "ml_dtypes"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            dirs.append(os.path.dirname(module.__file__))
    return tuple(d + os.sep for d in dirs)


def _user_line(exc: BaseException) -> str:
    """Where in the user's code tracing failed: the last frame outside JAX, NumPy and jaxgrads."""
    skip = _library_dirs()
    frames = [fr for fr in traceback.extract_tb(exc.__traceback__) if not fr.filename.startswith(skip)]
    if not frames:
        return ""
    fr = frames[-1]
    code = f": {fr.line.strip()}" if fr.line else ""
    return f" (at {os.path.basename(fr.filename)}:{fr.lineno}{code})"


def _traced(f, args, name):
    """``jax.eval_shape(f, *args)``: its output's shapes, or one line naming the user's failing line."""
    import jax

    try:
        return jax.eval_shape(f, *args)
    except Exception as exc:  # noqa: BLE001 - any error in the user's code becomes one line
        where = _user_line(exc)
        raise JaxgradsError(f"compare: JAX cannot trace {name}{where}: {one_line(exc, 200)}") from None


def _leaves(root: str, tree):
    import jax

    return jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: x is None)


def function_problem(
    f: Callable, args: Sequence, argnums=0, *, batch_axis: int | None = None, has_aux: bool = False
):
    """``f`` at ``args`` as a registered problem of its own (named after ``f``), its size and its
    :class:`~jaxgrads.problems.trees.Flat`: what :func:`jaxgrads.compare` and ``jaxgrads run
    --function`` measure. The caller unregisters it.

    Raises:
      JaxgradsError: one line for each bad input: ``f`` not callable or not traceable, ``argnums``
        of the wrong type or out of range, a differentiated leaf that is not floating point (named by
        its path), an empty array, a complex or integer output, a batch axis the leaves lack.
    """
    import jax

    from jaxgrads.problems.registry import register

    if not callable(f):
        raise JaxgradsError(f"compare: f must be a function, got {type(f).__name__}")
    if not args:
        raise JaxgradsError("compare: give f's arguments after it: compare(f, x, ...)")
    argnums = parse_argnums(argnums, len(args))
    whole = batch_axis is None
    if not whole and (isinstance(batch_axis, bool) or not isinstance(batch_axis, (int, np.integer))):
        raise JaxgradsError(f"compare: batch_axis {batch_axis!r}; valid: an int (the examples' axis) or None")
    name = getattr(f, "__name__", "f")
    name = name if name.isidentifier() and name != "<lambda>" else "f"
    names = _names(f, len(args))
    wrt_name = "+".join(names[i] for i in argnums)

    diff, inputs = [], {}  # (path name, host array) of each differentiated leaf; other array leaves by name
    structure = []  # per argument: (treedef, [("diff", i) | ("input", name) | ("static", value)])
    for i, (argname, arg) in enumerate(zip(names, args, strict=True)):
        flat, treedef = _leaves(argname, arg)
        slots = []
        for path, leaf in flat:
            where = path_name(argname, path)
            if not is_array(leaf) or (i not in argnums and not hasattr(leaf, "dtype")):
                slots.append(("static", leaf))  # a Python float the user passed undifferentiated too
                continue
            host = np.asarray(leaf)
            if i in argnums:
                _check_wrt_leaf(where, host)
                slots.append(("diff", len(diff)))
                diff.append((where, host))
            else:
                key = where if where not in inputs and where != wrt_name else f"{where}#{i}"
                slots.append(("input", key))
                inputs[key] = host
        structure.append((treedef, slots))
    for i in argnums:
        if not any(kind == "diff" for kind, _ in structure[i][1]):
            raise JaxgradsError(f"compare: argument {names[i]} has no floating-point array to differentiate")

    def rebuild(wrt_values, kw):
        out = []
        for treedef, slots in structure:
            leaves = [wrt_values[v] if kind == "diff" else kw[v] if kind == "input" else v
                      for kind, v in slots]  # fmt: skip
            out.append(jax.tree_util.tree_unflatten(treedef, leaves))
        return out

    # traced with the static leaves closed over (an eval_shape of an equinox Module's function fields fails)
    out_spec = _traced(lambda wv, kw: f(*rebuild(wv, kw)), ([h for _, h in diff], inputs), name)
    if has_aux:
        if not (isinstance(out_spec, tuple) and len(out_spec) == 2):
            raise JaxgradsError(f"compare: has_aux=True but {name} does not return a pair (output, aux)")
        out_spec = out_spec[0]
    out_flat, out_def = jax.tree_util.tree_flatten_with_path(out_spec)
    _check_outputs(name, out_flat)
    batch = _batch_size(diff, out_flat, batch_axis, name) if batch_axis is not None else None
    moved = [(w, np.moveaxis(h, batch_axis, 0) if batch is not None else h) for w, h in diff]
    wrt_leaves = leaves_of([(w, h.shape) for w, h in moved], batch is not None)
    out_shapes = [_moved_shape(s.shape, batch_axis) if batch is not None else s.shape for _, s in out_flat]
    out_leaves = leaves_of([(path_name("", p), s) for (p, _), s in zip(out_flat, out_shapes, strict=True)],
                           batch is not None)  # fmt: skip
    wrt_arg_trees = [structure[i] for i in argnums]

    def wrt_tree(blocks):
        trees, used = [], 0
        for treedef, slots in wrt_arg_trees:
            leaves = []
            for kind, _ in slots:
                leaves.append(blocks[used] if kind == "diff" else None)
                used += kind == "diff"
            trees.append(jax.tree_util.tree_unflatten(treedef, leaves))
        return trees[0] if len(trees) == 1 else tuple(trees)

    def out_tree(values):
        return jax.tree_util.tree_unflatten(out_def, values)

    flat = Flat(wrt_leaves, out_leaves, wrt_tree, out_tree, batch)
    problem, size = _problem(f, name, wrt_name, moved, inputs, rebuild, flat, batch_axis, has_aux)
    register(problem, replace=True)
    return problem, size, flat


def _check_wrt_leaf(where: str, host: np.ndarray) -> None:
    if np.issubdtype(host.dtype, np.complexfloating):
        raise JaxgradsError(f"compare: {where} is {host.dtype}; complex arguments are not supported "
                            "(valid: real floating point; split z into z.real and z.imag)")  # fmt: skip
    if not np.issubdtype(host.dtype, np.floating):
        raise JaxgradsError(f"compare: {where} is {host.dtype}; valid: a floating-point array "
                            "(leave integer leaves out of the differentiated arguments)")  # fmt: skip
    if host.size == 0:
        raise JaxgradsError(f"compare: {where} is empty (shape {host.shape}); "
                            "valid: an array of 1 element or more")  # fmt: skip


def _check_outputs(name: str, out_flat) -> None:
    if not out_flat:
        raise JaxgradsError(f"compare: {name} returns no array; valid: an array or a pytree of arrays")
    for path, spec in out_flat:
        where = f"the output{path_name('', path)}"
        if np.issubdtype(spec.dtype, np.complexfloating):
            raise JaxgradsError(f"compare: {where} is {spec.dtype}; complex outputs are not supported "
                                "(valid: real floating point; return z.real and z.imag as two "
                                "outputs)")  # fmt: skip
        if not np.issubdtype(spec.dtype, np.floating):
            raise JaxgradsError(f"compare: {where} is {spec.dtype}; valid: a floating-point array")
        if math.prod(spec.shape) == 0:
            raise JaxgradsError(f"compare: {where} is empty (shape {spec.shape}); valid: 1 element or more")


def _moved_shape(shape, axis: int) -> tuple[int, ...]:
    shape = list(shape)
    return (shape.pop(axis), *shape)


def _batch_size(diff, out_flat, axis: int, name: str) -> int:
    """B: every differentiated leaf's and output leaf's length on ``axis``, which must agree."""
    sizes = {}
    for where, shape in [*((w, h.shape) for w, h in diff),
                         *((f"the output{path_name('', p)}", s.shape) for p, s in out_flat)]:  # fmt: skip
        if not -len(shape) <= axis < len(shape):
            raise JaxgradsError(f"compare: batch_axis {axis}, but {where} has shape {tuple(shape)}; "
                                "valid: an axis every differentiated leaf and output has")  # fmt: skip
        sizes[where] = shape[axis]
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{w} {b}" for w, b in sizes.items())
        raise JaxgradsError(f"compare: batch_axis {axis}: the batch sizes differ ({listed}); "
                            "valid: one batch size")  # fmt: skip
    return next(iter(sizes.values()))


def _problem(f, name, wrt_name, diff, inputs, rebuild, flat: Flat, batch_axis, has_aux):
    import jax
    import jax.numpy as jnp

    from jaxgrads.problems.registry import Derivative, Problem, Size

    batch = flat.batch
    wrt_host = [h for _, h in diff]
    argnames = (wrt_name, *inputs)

    def fn(xp, **kw):
        values = unravel(kw[wrt_name], flat.wrt, batch is not None)
        if batch is not None:
            values = [jnp.moveaxis(v, 0, batch_axis) for v in values]
        out = f(*rebuild(values, kw))
        out = out[0] if has_aux else out
        leaves = jax.tree_util.tree_leaves(out)
        if batch is not None:
            leaves = [jnp.moveaxis(v, batch_axis, 0) for v in leaves]
        return ravel(leaves, batch is not None)

    def make_inputs(size, dtype, rng):
        vector = ravel([h.astype(dtype) for h in wrt_host], batch is not None)
        made = {k: v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else v for k, v in inputs.items()}
        return {wrt_name: np.asarray(vector), **made}

    scalar = len(flat.out) == 1 and flat.out[0].shape == () and batch is None
    kind = "per-example Jacobians" if batch is not None else "Jacobian"
    derivatives = (Derivative(wrt_name, None, doc=f"d{name}/d{wrt_name}: {kind}",
                              per_example=batch is not None),)  # fmt: skip
    if scalar:
        derivatives += (Derivative(wrt_name, None, order=2, doc=f"d2{name}/d{wrt_name}2"),)
    extra = {"flat": flat, "wrt_leaves": len(flat.wrt), "out_leaves": len(flat.out)}
    problem = Problem(name=name, fn=fn, args=argnames, make_inputs=make_inputs, derivatives=derivatives,
                      dims=("m", "n", "batch") if batch is not None else ("m", "n"), scalar_output=scalar,
                      doc=f"{name} at the given arguments", extra=extra)  # fmt: skip
    rows = flat.m * (batch or 1)
    size = Size(max(1, rows), max(1, flat.n * (batch or 1)), batch or 0)
    return problem, size
