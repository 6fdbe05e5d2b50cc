r"""Which method to use, from a :func:`jaxgrads.compare` table, in lines a person can act on.

Per derivative, over the rows that ran accurately:

- **The fastest, and its ties.** A method ties with the fastest when its best sample is no slower
  than the fastest's median (``time_min_s <= time_median_s`` of the fastest): the two sets of
  samples overlap where it matters, so the order between the medians is not a fact the
  measurement settles. (An interquartile range from 3-5 samples is not a spread to lean on: one
  slow sample of a slower method widened it to a 2x "tie"; a minimum and a median hold with one
  outlier.) Among the tied, the advice names the
  *simplest* (:func:`simplicity`: ``grad``, plain ``jacfwd``/``jacrev`` and the per-example
  ``vmap`` forms first, then linearize and transposition, walks, chunked, colored, sharded, peers),
  and says it chose it for that reason.
- **The least peak memory** (XLA's, per row), and with a budget the fastest that fits it.
- **The result's form.** A BCOO method returns a ``jax.experimental.sparse.BCOO``, not an array:
  the advice says so, with its nonzeros and what ``.todense()`` costs at its shape
  (:mod:`jaxgrads.measure.densify`), where it was measured (``todense``).
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["FAMILY_ORDER", "fmt_bytes", "picks", "recommend", "simplicity", "ties"]

# simplest first: one transform call, then the hand-built vectorized forms, then what takes a
# chunk, a pattern or a mesh to set up
FAMILY_ORDER = (
    "vectorized", "hessian", "per_example", "walk", "chunked", "colored", "sharded", "closed_form",
)  # fmt: skip


def simplicity(method: str) -> tuple[int, int, int, int]:
    """A sort key: JAX before a peer, then :data:`FAMILY_ORDER`, then a scalar output's one VJP
    (``grad``) first, then registry order (``jacfwd``, ``jacrev`` before ``linearize``); an unknown
    name last."""
    from jaxgrads.methods import METHODS

    names = list(METHODS)
    m = METHODS.get(method)
    if m is None:
        return (2, len(FAMILY_ORDER), 1, len(names))
    family = FAMILY_ORDER.index(m.family) if m.family in FAMILY_ORDER else len(FAMILY_ORDER)
    return (int(m.backend != "jax"), family, int(not m.scalar_only), names.index(method))


def ties(ok: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``ok`` (accurate rows of one derivative) that tie with the fastest, the fastest
    included: ``time_min_s <= the fastest's time_median_s`` (module docstring)."""
    t = pd.to_numeric(ok["time_median_s"], errors="coerce")
    best = t.idxmin()
    low = pd.to_numeric(ok["time_min_s"], errors="coerce").fillna(t)
    return ok[low <= t[best]]


def _accurate(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["status"] == "ok") & df["ok"].astype(str).eq("True")]


def picks(df: pd.DataFrame) -> dict[str, str]:
    """The recommended method per derivative: the simplest of those tied with the fastest."""
    good = _accurate(df)
    return {wrt: min(ties(ok)["method"], key=simplicity) for wrt, ok in good.groupby("wrt", sort=False)}


def fmt_bytes(n: float) -> str:
    return f"{n / 2**20:.3g} MiB" if n >= 2**20 else f"{n / 2**10:.3g} KiB"


def recommend(df: pd.DataFrame, memory_budget: int | None = None, todense: dict | None = None) -> str:
    """Which method to use, per derivative (module docstring): one line each, and one more where a
    method returns a sparse matrix (``todense``: ``{(wrt, method): seconds}`` of turning it dense)."""
    from jaxgrads.results.labels import format_seconds

    def took(row) -> str:
        return format_seconds(float(row["time_median_s"]))

    def named(row) -> str:  # a method measured at several chunks: which one
        chunk = row.get("chunk_size", 0)
        several = "chunk_size" in df and (df["method"] == row["method"]).sum() > df["wrt"].nunique()
        labelled = several and chunk == chunk and chunk
        return f"{row['method']} (chunk {int(chunk)})" if labelled else row["method"]

    lines = []
    good = _accurate(df)
    for wrt, g in df.groupby("wrt", sort=False):
        ok = good[good["wrt"] == wrt]
        if ok.empty:
            lines.append(f"{wrt}: no method ran accurately ({', '.join(sorted(set(g['status'])))})")
            continue
        fast = ok.loc[pd.to_numeric(ok["time_median_s"]).idxmin()]
        text = f"{wrt}: fastest {named(fast)} ({took(fast)})"
        tied = ties(ok)
        if len(tied) > 1:
            simplest = named(min((r for _, r in tied.iterrows()), key=lambda r: simplicity(r["method"])))
            others = ", ".join(f"{named(r)} ({took(r)})" for _, r in tied.iterrows()
                               if r.name != fast.name)  # fmt: skip
            text += (f", tied within the measured spread with {others}: use {simplest}, the simplest of them"
                     if simplest != named(fast) else
                     f", tied within the measured spread with {others}; {simplest} is also the "
                     "simplest")  # fmt: skip
        peak = pd.to_numeric(ok["peak_bytes"], errors="coerce")
        if peak.notna().any():
            small = ok.loc[peak.idxmin()]
            text += f"; least memory {named(small)} ({fmt_bytes(float(peak[small.name]))} peak)"
        if memory_budget is not None:
            fits = ok[peak <= memory_budget]
            best = fits.loc[pd.to_numeric(fits["time_median_s"]).idxmin()] if len(fits) else None
            text += (f"; within {fmt_bytes(memory_budget)}: {named(best)}" if best is not None
                     else f"; none within {fmt_bytes(memory_budget)}")  # fmt: skip
        bad = g[(g["status"] == "ok") & ~g["ok"].astype(str).eq("True")]
        if len(bad):
            text += f" ({len(bad)} inaccurate: {', '.join(bad['method'])})"
        lines.append(text)
        lines += _forms(ok, wrt, todense or {})
    return "\n".join(lines)


def _forms(ok: pd.DataFrame, wrt: str, todense: dict) -> list[str]:
    """A line for the sparse results among the accurate ones: what they are and what dense costs."""
    from jaxgrads.results.labels import format_seconds

    sparse = ok[ok["output_format"].astype(str) == "bcoo"] if "output_format" in ok else ok.iloc[:0]
    if sparse.empty:
        return []
    parts = []
    for _, r in sparse.iterrows():
        dense = float(todense.get((wrt, r["method"]), math.nan))
        cost = f", .todense() {format_seconds(float(dense))} more" if math.isfinite(dense) else ""
        parts.append(f"{r['method']} ({r['nnz']} nonzeros{cost})")
    return [f"{wrt}: {', '.join(parts)} return a BCOO sparse matrix (jax.experimental.sparse), not an "
            f"array; every other method returns a dense array"]  # fmt: skip
