"""docs/compare.md: ``jaxgrads.compare`` on the layers of ``bench/examples/layers.py``, as a user calls it.

    .venv/bin/python bench/studies/compare_example.py

Every number in the page is the call's own output on this machine.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "examples"))

import layers  # noqa: E402

import jaxgrads as jg  # noqa: E402
from jaxgrads.results.labels import table  # noqa: E402

COLUMNS = ["method", "wrt", "status", "ok", "time_median_s", "compile_s", "peak_bytes", "err_f64"]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def main() -> None:
    parts = []
    for title, f, args, argnums in (
        ("An MLP block, d = 64: the Jacobian in x", layers.mlp_block, layers.mlp_args(), 0),
        ("An attention head, 16 tokens, d = 32, k = 8: the Jacobian in Wq", layers.attention_head,
         layers.attention_args(), 1),
    ):  # fmt: skip
        result = jg.compare(f, *args, argnums=argnums)
        first = result.table.iloc[0]
        rows = [[_cell(r[c]) for c in COLUMNS] for r in result.table.to_dict("records")]
        maker = f"layers.{f.__name__.split('_')[0]}_args()"
        call = f"jg.compare(layers.{f.__name__}, *{maker}, argnums={argnums})"
        parts.append(f"## {title}\n\n```python\n{call}\n```\n\n{table(COLUMNS, rows)}\n\n"
                     f"Recommendation:\n\n```\n{result.recommendation}\n```\n")  # fmt: skip
    text = f"""# Your own function: `jaxgrads.compare`

`jg.compare(f, *args, argnums=0)` measures the Jacobian of any JAX function at your arguments with
every method that applies (and the Hessian for a scalar output), each checked against float64
autodiff, and returns the table (the results CSV's columns) and a recommendation. From the shell:
`jaxgrads run --function FILE.py:FN --args-from FILE.py:MAKE_ARGS [--argnums I]` writes the same CSV.

Measured by `.venv/bin/python bench/studies/compare_example.py` on {first["cpu_model"]}
({first["backend"]}), jax {first["jax_version"]}, {dt.date.today().isoformat()}; the functions are in
`bench/examples/layers.py`.

""" + "\n".join(parts)
    out = ROOT / "docs" / "compare.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
