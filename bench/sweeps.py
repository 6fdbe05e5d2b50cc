"""``make bench``'s sweeps, one after another in one process.

Each is ``jaxgrads run --preset P --overwrite -o OUT`` (the CLI called in this process, as the
devices study calls it), so JAX starts once, and each run starts from the probes the run before it
ended with (:func:`jaxgrads.sweep.context.reuse_probes`): the machine is probed once between two
runs instead of twice. The order puts the runs that need the first-touch rate first (default,
scaling, structure), so every later run finds it measured; crossover needs none.

    .venv/bin/python bench/sweeps.py [--devices-1] [PRESET=OUT ...]

Without PRESET=OUT: default=results/latest.csv scaling=results/scaling.csv
structure=results/structure.csv crossover=results/crossover.csv. ``--devices-1``: then the devices
study's runs on one device, in this process (``make bench`` reports them with the other counts'). The
first run that fails stops the rest, with its exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jaxgrads.cli.main import main as jaxgrads
from jaxgrads.sweep.context import reuse_probes

RUNS = {"default": "results/latest.csv", "scaling": "results/scaling.csv",
        "structure": "results/structure.csv", "crossover": "results/crossover.csv"}  # fmt: skip
# the previous run's end probes start the next run if at most this old (a run's summary and report
# take seconds)
REUSE_S = 120.0


def runs(argv: list[str]) -> dict[str, str]:
    if not argv:
        return RUNS
    pairs = [a.split("=", 1) for a in argv]
    if any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
        raise SystemExit("usage: bench/sweeps.py [PRESET=OUT ...]")
    return dict(pairs)


def one_device_runs() -> None:
    """The devices study's runs on one device (``bench/studies/devices.py``), here: this process has
    one device, and its last probes start them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "studies"))
    import devices

    devices.child(1)


def main(argv: list[str]) -> int:
    study = "--devices-1" in argv
    argv = [a for a in argv if a != "--devices-1"]
    with reuse_probes(REUSE_S):
        for preset, out in runs(argv).items():
            command = ["run", "--preset", preset, "--overwrite", "-o", out]
            print(f"sweeps.py: jaxgrads {' '.join(command)}", file=sys.stderr, flush=True)
            code = jaxgrads(command)
            if code:
                return code
        if study:
            one_device_runs()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
