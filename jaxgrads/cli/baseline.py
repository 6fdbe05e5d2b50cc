"""``jaxgrads baseline``: the gate's sweep in fresh processes, pooled into this machine's baseline."""

from __future__ import annotations

from pathlib import Path

from jaxgrads.cli.common_args import add_baselines_dir, add_overwrite, add_rounds
from jaxgrads.cli.parsing import with_examples

__all__ = ["add", "run"]

EPILOG = """examples:
  jaxgrads baseline                    the gate's sweep -> results/baselines/<fingerprint>.csv
  jaxgrads baseline --overwrite        re-record this machine's baseline (commit both CSVs)
"""


def add(sub) -> None:
    p = with_examples(
        sub, "baseline", "record the gate's baseline: results/baselines/<fingerprint>.csv", EPILOG
    )
    add_baselines_dir(p, "--dir", "where baselines live (%(default)s)")
    add_overwrite(p, "this machine's baseline")
    add_rounds(p, "fresh processes pooled into the baseline")


def _machine_slug(device_spec: str) -> str:
    from jaxgrads.gate import FINGERPRINT, fingerprint_slug
    from jaxgrads.measure.machine import run_metadata
    from jaxgrads.validation import resolve_device

    meta = run_metadata(resolve_device(device_spec))
    return fingerprint_slug({k: str(meta[k]) for k in FINGERPRINT})


def run(args, run_args: list[str]) -> int:
    from jaxgrads.cli.run import forwarded_sweep, summarize
    from jaxgrads.results.files import check_output
    from jaxgrads.sweep.processes import baseline_rounds
    from jaxgrads.validation import positive_int

    rounds = positive_int("--rounds", args.rounds)
    run_args = ["--preset", "gate", *run_args]  # a --preset among them comes later and wins
    sweep_args = forwarded_sweep("baseline", run_args, plugins=True)
    folder = Path(args.dir)
    if not folder.is_dir():
        folder.mkdir(parents=True)
    out = folder / f"{_machine_slug(sweep_args.device)}.csv"
    check_output(out, resume=False, overwrite=args.overwrite)
    baseline_rounds(run_args, rounds, out)
    summarize(out)
    print(f"baseline for this machine: {out} (commit it with {out.stem}.samples.csv)")
    return 0
