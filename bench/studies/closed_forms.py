"""The closed forms' distance to their floor at 512 and 1024: docs/methodology.md's ``closed-forms`` block.

Every built-in closed form (``analytic``), its textbook form where it differs (``analytic_textbook``:
what ``analytic`` was before a faster formulation replaced it) and the same formula in NumPy
(``numpy_analytic``), timed side by side in one ``jaxgrads run`` on every CPU, then again in a run
pinned to one CPU (``--cpus 1``). The report's floor section gives whose limit each closed form meets
(NumPy as far: the formula's access pattern; NumPy nearer: XLA's code); the pinned run adds what XLA
costs by splitting one call over its threads, each call waited for: where ``analytic`` is nearer its
floor on one CPU than on all, the wake-up of XLA's thread pool, not the formula, holds it back.

    .venv/bin/python bench/studies/closed_forms.py [--sizes 512 1024] [--no-readme]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from figures import publish

from jaxgrads.cli.report import read_all
from jaxgrads.report.floor import closed_form_distances, floor_rows
from jaxgrads.report.roles import CLOSED_FORM, HOST_CLOSED_FORM, TEXTBOOK
from jaxgrads.results.labels import size_label, table

METHODS = (CLOSED_FORM, TEXTBOOK, HOST_CLOSED_FORM)


def _run(out: Path, sizes: list[str], cpus: int | None) -> None:
    pin = ["--cpus", str(cpus)] if cpus else []
    command = [sys.executable, "-m", "jaxgrads", "run", "--methods", *METHODS, "--sizes", *sizes,
               "--dtypes", "float32", *pin, "--overwrite", "-o", str(out)]  # fmt: skip
    subprocess.run(command, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["512", "1024"])
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        every, one = Path(tmp) / "every.csv", Path(tmp) / "one.csv"
        _run(every, args.sizes, None)
        _run(one, args.sizes, 1)
        df, pinned = read_all([str(every)]), read_all([str(one)])
    t, p = floor_rows(df), floor_rows(pinned)
    line, rows = closed_form_distances(t)
    if not rows:
        raise SystemExit("closed_forms.py: no closed form of size >= 512 was timed")
    # the pinned run's distance of the same closed form, keyed by the table's own labels
    on_one = {(f"{r['problem']} / {r['wrt']}", size_label(r)): float(r["over"])
              for r in p[p["method"] == CLOSED_FORM].to_dict("records")}  # fmt: skip
    header = ["target", "size", "bound", CLOSED_FORM, f"{CLOSED_FORM} on 1 CPU", TEXTBOOK, HOST_CLOSED_FORM,
              "whose limit"]  # fmt: skip
    every_cpu = {(f"{r['problem']} / {r['wrt']}", size_label(r)): float(r["over"])
                 for r in t[t["method"] == CLOSED_FORM].to_dict("records")}  # fmt: skip
    body, pinned_better = [], 0
    for row in rows:
        pinned_over = on_one.get((row[0], row[1]))
        pinned_better += pinned_over is not None and pinned_over < every_cpu[row[0], row[1]] / 2
        body.append([*row[:4], f"{pinned_over:.3g}×" if pinned_over is not None else "–", *row[4:]])
    first = df.iloc[0]
    text = "\n".join([
        f"Measured by `bench/studies/closed_forms.py` on {first['cpu_model']} ({first['backend']}, "
        f"{first['cpus_used']} CPUs), jax {first['jax_version']}, {str(first['started_at'])[:10]}: each "
        "closed form's time over its floor; the 1-CPU column from a second run pinned with `--cpus 1`.",
        "",
        line[0],
        f"On one CPU, {pinned_better} of {len(rows)} closed forms came within half their distance on "
        "every CPU: XLA splits their call over its threads, and waiting for each call pays the threads' "
        "wake-up.",
        "",
        table(header, body),
    ])  # fmt: skip
    publish("closed-forms", text, readme=not args.no_readme)


if __name__ == "__main__":
    main()
