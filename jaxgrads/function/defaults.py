"""What a call on your function starts from: float64 on for its references, the methods that
apply by default, and the dtype its differentiated leaves have."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np

__all__ = ["default_methods", "own_dtype", "x64"]


@contextlib.contextmanager
def x64():
    """float64 on for the references (and restored after)."""
    import jax

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


def default_methods(problem) -> list[str]:
    """The JAX methods a sweep runs by default that apply to ``problem``, and asdex's where installed."""
    import importlib.util

    import jax

    import jaxgrads.measure  # noqa: F401  (the peers' methods registered)
    from jaxgrads.methods import METHODS, applicable_methods
    from jaxgrads.methods import default_methods as registry_defaults

    wanted = registry_defaults(len(jax.devices()))
    if importlib.util.find_spec("asdex") is not None:
        wanted += [n for n, m in METHODS.items() if m.backend == "asdex"]
    return [m for m in wanted if any(m in applicable_methods(problem, d.name) for d in problem.derivatives)]


def own_dtype(args: Sequence, argnums) -> str:
    """The differentiated leaves' dtype (their common one where they differ; a Python float counts as
    float32, as JAX's weak type does), as the sweep names it."""
    import jax

    from jaxgrads.function.problem import parse_argnums

    chosen = [args[i] for i in parse_argnums(argnums, len(args))]
    dtypes = [np.asarray(leaf).dtype for leaf in jax.tree_util.tree_leaves(chosen) if hasattr(leaf, "dtype")]
    floating = [d for d in dtypes if np.issubdtype(d, np.floating)]
    return np.result_type(*floating).name if floating else "float32"
