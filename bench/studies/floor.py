"""The floor on this machine, from make bench's results CSVs, into docs/methodology.md's ``floor`` block.

* the ceilings each run measured: bandwidth per cache level and main memory, the first-touch write
  rate, the matmul peak, the dispatch floor, and the cache sizes the machine reported;
* the invariant: how many timed kernels ran under 0.9x their floor (each one named);
* the regimes: the share of kernels whose floor is bound by dispatch, a cache, memory or compute;
* which methods come within 2x of the floor.

    make bench && .venv/bin/python bench/studies/floor.py results/latest.csv [more.csv ...] [--no-readme]

Everything quoted comes from the CSVs given; results/floor.md keeps the output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from figures import publish

from jaxgrads.cli.report import read_all
from jaxgrads.measure.floor import INVARIANT, regime
from jaxgrads.report.floor import CEILING_COLUMNS, floor_rows, floor_violations, regime_coverage
from jaxgrads.results.labels import format_seconds, method_label, size_label, table


def _bytes(n: float) -> str:
    return f"{n / 2**20:.4g} MiB" if n >= 2**20 else f"{n / 2**10:.4g} KiB"


def ceilings_table(df: pd.DataFrame) -> str:
    rows = []
    for (run, dtype), g in df.groupby(["run_id", "dtype"], sort=False):
        first = g.iloc[0]
        for level, col in CEILING_COLUMNS.items():
            value = pd.to_numeric(pd.Series([first.get(col)]), errors="coerce").iloc[0]
            if pd.isna(value):
                continue
            size = first.get(f"cache_{level.lower()}_bytes", "")
            size = _bytes(float(size)) if str(size) not in ("", "nan") else "–"
            rows.append([run, dtype, level, size, f"{value / 1e9:.3g} GB/s"])
        rows.append([run, dtype, "matmul", "–", f"{float(first['ceiling_flops_per_s']) / 1e9:.3g} GFLOP/s"])
        rows.append([run, dtype, "dispatch floor", "–", format_seconds(float(first["dispatch_floor_s"]))])
    return table(["run", "dtype", "ceiling", "cache size", "measured"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csvs", nargs="+", type=Path)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    df = read_all([str(p) for p in args.csvs])  # as `jaxgrads report` merges them
    t = floor_rows(df)
    if t.empty:
        raise SystemExit("floor.py: no timed row carries a floor (results from before the floor columns?)")
    first = t.iloc[0]
    bad = floor_violations(df)
    regimes = t["floor_level"].astype(str).map(regime).value_counts()
    near = t.assign(near=t["over"] <= 2).groupby("method")["near"].agg(["sum", "count"])
    near = near.sort_values("sum", ascending=False)
    lines = [
        f"Measured by `make bench` and `bench/studies/floor.py {' '.join(str(p) for p in args.csvs)}` on "
        f"{first['cpu_model']} ({first['backend']}, {first['cpus_used']} CPUs), jax {first['jax_version']}, "
        f"{str(first['started_at'])[:10]}:",
        "",
        ceilings_table(t),
        "",
        f"- Cache sizes: from {first.get('cache_source') or 'a source not recorded (before schema 3)'}.",
        f"- Invariant (no kernel under {INVARIANT:g}× its floor): "
        + (
            f"held for all {len(t)} timed kernels; the one closest to its floor took "
            f"{t['over'].min():.3g}× it."
            if bad.empty
            else f"**broken by {len(bad)} of {len(t)}**: "
            + "; ".join(
                f"{r['problem']}/{r['wrt']}/{method_label(r)} {size_label(r)} at {r['over']:.3g}× "
                f"({r['floor_level']})"
                for _, r in bad.iterrows()
            )
        ),
        "- Regimes (the term that bounds each floor): "
        + ", ".join(f"{k} {v} ({v / len(t):.0%})" for k, v in regimes.items())
        + f" of {len(t)} timed kernels; {regime_coverage(t)}",
        "- Within 2× of the floor: "
        + ", ".join(f"{m} {int(r['sum'])}/{int(r['count'])}" for m, r in near.iterrows() if r["sum"] > 0)
        + ".",
    ]
    publish("floor", "\n".join(lines), readme=not args.no_readme)


if __name__ == "__main__":
    main()
