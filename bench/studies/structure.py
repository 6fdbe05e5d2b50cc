"""Dense against colored against asdex against the closed form, into docs/structure.md's ``structure`` block.

One ``jaxgrads run --preset structure`` (every target at 32 and 128, batch 8: jacfwd, jacrev, the
closed form, jaxgrads' four colored methods) with the asdex peer's methods added when asdex is
installed (``make sparse`` installs the ``[sparse]`` extra first), into results/structure.csv; then the
report's structure section of it: per target the density, the colors, each kind's best time with
its preparation, where coloring wins and loses, and the targets' verdicts (∂(Ax)/∂A and linear/x at
batch 8, n = 128: the best colored method against the closed form and against asdex's evaluation in
the same output format, measured side by side in the one run).

    .venv/bin/python bench/studies/structure.py [--no-readme] [--reuse]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys

from figures import ROOT, publish

from jaxgrads.report.structure import structure_section
from jaxgrads.results.schema import read_results
from jaxgrads.sweep.config import STRUCTURE_SWEEP

OUT = ROOT / "results" / "structure.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="report results/structure.csv as it is")
    args = parser.parse_args()
    methods = [*STRUCTURE_SWEEP.methods]
    if importlib.util.find_spec("asdex") is not None:
        methods.append("asdex")
    run_args = ["--preset", "structure", "--methods", *methods]
    if not args.reuse:
        print(f"structure.py: jaxgrads run {' '.join(run_args)}", file=sys.stderr, flush=True)
        cmd = [sys.executable, "-m", "jaxgrads", "run", *run_args, "-o", str(OUT), "--overwrite"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    df = read_results(OUT)
    first = df.iloc[0]
    text = "\n".join([
        f"Measured by `bench/studies/structure.py` (`jaxgrads run {' '.join(run_args)}`) on "
        f"{first['cpu_model']} ({first['backend']}, {first['cpus_used']} CPUs), jax {first['jax_version']}, "
        f"{str(first['started_at'])[:10]}; median of {int(df['samples'].max())} samples per kernel, "
        "prep (pattern + coloring) paid once per case:",
        "",
        structure_section(df),
    ])  # fmt: skip
    publish("structure", text, readme=not args.no_readme)


if __name__ == "__main__":
    main()
