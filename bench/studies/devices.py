"""Sharded Jacobians against the number of devices on this machine, into docs/devices.md's ``devices`` block.

For each device count D (default 1 2 4 8; on a CPU, D host devices made before JAX starts) one
``jaxgrads run --devices D`` per target, into results/devices/:

* strong scaling: matvec/x at 1024 (a 4 MiB Jacobian; jacrev_sharded and jacfwd_sharded) and
  matvec/A at 128 (8 MiB; jacrev_sharded) on every D;
* weak scaling: the size grows with D so each device's share stays 1 MiB: matvec/x at (512·D)x512,
  matvec/A at 64x(64·D) (m outputs split over D, each row m·n wide).

Both runs of one count share a process (``--child D``: the CLI called twice in it), so each count
pays JAX's start once, and the second run starts from the probes the first ended with
(:func:`jaxgrads.sweep.context.reuse_probes`). Then the report's devices section of them all
(tables as ``jaxgrads report`` prints them).

    .venv/bin/python bench/studies/devices.py [--counts 1 2 4 8] [--no-readme] [--reuse] [--measured D ...]

``--reuse`` reports the CSVs already in results/devices/ without measuring again; ``--measured 1``
those of one device only (``make bench`` measures them in ``bench/sweeps.py``'s process, which has
one device: one JAX start and one probe fewer).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys

from figures import ROOT, publish

from jaxgrads.cli.report import read_all
from jaxgrads.report.devices import devices_section

OUT = ROOT / "results" / "devices"
REUSE_S = 120.0  # how old the first run's end probes may be to start the second


def runs(d: int) -> dict[str, list[str]]:
    """The ``jaxgrads run`` arguments for D devices, by output name."""
    common = ["--devices", str(d), "--problems", "matvec", "--regimes", "none", "--samples", "5"]
    return {
        f"d{d}-x": [*common, "--wrt", "x", "--methods", "jacrev_sharded", "jacfwd_sharded",
                    "--sizes", "1024", f"{512 * d}x512"],
        f"d{d}-A": [*common, "--wrt", "A", "--methods", "jacrev_sharded", "--sizes", "128", f"64x{64 * d}"],
    }  # fmt: skip


def child(d: int) -> None:
    """Runs the count's ``jaxgrads run`` commands one after the other in this process."""
    from jaxgrads.cli.main import main as jaxgrads
    from jaxgrads.sweep.context import reuse_probes

    OUT.mkdir(parents=True, exist_ok=True)
    with reuse_probes(REUSE_S):  # the second run starts from the probes the first ended with
        for name, run_args in runs(d).items():
            print(f"devices.py: jaxgrads run {' '.join(run_args)}", file=sys.stderr, flush=True)
            with contextlib.redirect_stdout(io.StringIO()):
                code = jaxgrads(["run", *run_args, "-o", str(OUT / f"{name}.csv"), "--overwrite"])
            if code:
                raise SystemExit(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="report the CSVs already measured")
    parser.add_argument("--measured", nargs="+", type=int, default=[], metavar="D",
                        help="counts already measured by this make bench (bench/sweeps.py: one device, "
                             "in its process): reported, not measured again")  # fmt: skip
    parser.add_argument("--child", type=int, metavar="D", help=argparse.SUPPRESS)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.child is not None:
        return child(args.child)
    paths = []
    for d in args.counts:
        if not args.reuse and d not in args.measured:
            subprocess.run([sys.executable, __file__, "--child", str(d)], check=True)
        paths += [str(OUT / f"{name}.csv") for name in runs(d)]
    df = read_all(paths)
    first = df.iloc[0]
    section = devices_section(df)
    if not section:
        raise SystemExit("devices.py: no sharded method ran on two device counts")
    text = "\n".join([
        f"Measured by `bench/studies/devices.py --counts {' '.join(map(str, args.counts))}` on "
        f"{first['cpu_model']} ({first['backend']}, {first['cpu_count']} CPUs), jax {first['jax_version']}, "
        f"{str(first['started_at'])[:10]}; CSVs in results/devices/:",
        "",
        section,
    ])  # fmt: skip
    publish("devices", text, readme=not args.no_readme)


if __name__ == "__main__":
    main()
