"""A case's shapes without its arrays: the size a user gives (``1024``, ``"4096x64"``, ``(m, n)``),
and the output, wrt and input shapes a size gives, traced by ``jax.eval_shape`` on zero-stride
stand-ins, so planning a 16384² case allocates nothing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgrads.errors import PluginError, one_line
from jaxgrads.problems.registry import Derivative, Problem, Size
from jaxgrads.validation import parse_size, positive_int

__all__ = ["as_size", "shapes_of", "shapes_of_inputs"]


def as_size(size: Size | int | str | tuple[int, int] = 1, batch: int | str = 1) -> Size:
    """A :class:`Size` from ``1024``, ``"4096x64"``, ``(m, n)`` or a Size, with the batch."""
    if isinstance(size, Size):
        return size  # dims a problem does not use may be 0; decide checks the used ones
    if isinstance(size, str):
        m, n = parse_size(size)
    elif isinstance(size, tuple) and len(size) == 2:
        m, n = positive_int("m", size[0]), positive_int("n", size[1])
    else:
        m = n = positive_int("size", size)
    return Size(m, n, positive_int("batch", batch))


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


def shapes_of(problem: Problem, derivative: Derivative, size: Size):
    """(output shape, wrt shape, input shapes) at ``size``, without building any array.

    Raises:
      PluginError: the problem's input maker or its function raised (named, with the exception).
    """
    try:
        made = problem.make_inputs(size, np.dtype(np.float32), _ShapeOnlyRng())
    except Exception as exc:
        raise PluginError(f"{problem.name}: its input maker raised {one_line(exc)}") from exc
    return shapes_of_inputs(problem, derivative, made)


def shapes_of_inputs(problem: Problem, derivative: Derivative, inputs):
    """(output shape, wrt shape, input shapes) of the problem at these inputs (arrays or stand-ins).

    Raises:
      PluginError: the problem's function raised (named, with the exception).
    """
    specs = {k: jax.ShapeDtypeStruct(np.shape(v), np.asarray(v).dtype) for k, v in inputs.items()}
    try:
        out = jax.eval_shape(lambda kw: problem.fn(jnp, **kw), specs)
    except Exception as exc:
        raise PluginError(f"{problem.name}: its function raised {one_line(exc)}") from exc
    inputs = {k: tuple(v.shape) for k, v in specs.items()}
    return tuple(out.shape), inputs[derivative.wrt], inputs
