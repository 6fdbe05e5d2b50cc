"""``jaxgrads import-pytest-benchmark``: pytest-benchmark JSON as a results CSV and its samples."""

from __future__ import annotations

from pathlib import Path

from jaxgrads.cli.common_args import add_output, add_overwrite

__all__ = ["add", "run"]


def add(sub) -> None:
    p = sub.add_parser(
        "import-pytest-benchmark", help="convert pytest-benchmark JSON (make bench-pytest) to a results CSV"
    )
    p.add_argument("json", help="a --benchmark-json file of bench/suite/test_benchmarks.py")
    add_output(p, "CSV", "the results CSV to write", required=True)
    add_overwrite(p)


def run(args) -> int:
    from jaxgrads.results.files import check_output
    from jaxgrads.results.pytest_import import import_pytest_benchmark

    out = Path(args.output)
    check_output(out, resume=False, overwrite=args.overwrite)
    rows = import_pytest_benchmark(args.json, out)
    print(f"{rows} rows -> {out} (samples beside it)")
    return 0
