"""The methods a report singles out, by their role in the registry (``Method.roles``), not by name."""

from __future__ import annotations

import jaxgrads.peers  # noqa: F401  (their methods registered before roles are read)
from jaxgrads.methods import METHODS, role_method

__all__ = ["CLOSED_FORM", "CLOSED_FORMS", "DIVISORS", "FORWARD", "HOST_CLOSED_FORM", "REVERSE", "TEXTBOOK",
           "backend_of", "fastest_closed_form", "frontier_methods"]  # fmt: skip

CLOSED_FORM = role_method("closed_form")  # the registered closed form: the same-dtype reference
TEXTBOOK = role_method("textbook")
HOST_CLOSED_FORM = role_method("closed_form", backend="numpy")  # the same formula, no XLA: whose limit
# every method that evaluates a formula instead of differentiating the function, in any backend: none
# of them is autodiff
CLOSED_FORMS = tuple(n for n, m in METHODS.items() if m.needs)
# what a speed-up "÷ closed form" divides by: the fastest of these measured in the same run at the same
# size and dtype (the registered closed form is over 2x its floor on most large targets, for XLA's
# transposes and threading or the formula's own cost: the textbook form or NumPy's may be faster)
DIVISORS = (CLOSED_FORM, TEXTBOOK, HOST_CLOSED_FORM)
FORWARD = role_method("forward")  # the cost model's forward mode
REVERSE = role_method("reverse")  # ... and reverse mode


def fastest_closed_form(rows, label: str = "method") -> tuple[str, float] | None:
    """The fastest accurate :data:`DIVISORS` row among ``rows`` (one case: a size and dtype), as
    (its method, its median time); None where none ran accurately."""
    import pandas as pd

    t = rows[rows[label].isin(DIVISORS) & (rows["status"] == "ok") & rows["ok"].astype(str).eq("True")]
    times = pd.to_numeric(t["time_median_s"], errors="coerce")
    if times.notna().sum() == 0:
        return None
    best = times.idxmin()
    return str(t.at[best, label]), float(times[best])


def backend_of(method: str) -> str:
    """``jax`` or the peer's name that ran ``method`` (``jax`` for a name this version lacks)."""
    m = METHODS.get(str(method))
    return m.backend if m is not None else "jax"


def frontier_methods() -> set[str]:
    """The chunked methods and their unchunked twins: the vectorized method and the ``lax.map``
    walk of the same mode."""
    chunked = [m for m in METHODS.values() if m.chunked and m.backend == "jax"]
    modes = {m.mode for m in chunked}
    twins = {role_method(mode) for mode in modes}
    walks = {n for n, m in METHODS.items() if m.steps and not m.chunked and m.kind == "jit"
             and m.backend == "jax" and m.mode in modes}  # fmt: skip
    return {m.name for m in chunked} | twins | walks
