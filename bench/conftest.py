"""Options and session fixtures of the pytest-benchmark suite (bench/test_benchmarks.py).

    pytest bench/test_benchmarks.py --benchmark-json results/pytest-benchmark.json --benchmark-save-data
    pytest bench/test_benchmarks.py --jaxgrads-problems quadratic --jaxgrads-sizes 1024 -k jacrev

The sweep options mirror ``jaxgrads run``'s and build the same :class:`jaxgrads.sweep.Sweep`, so the
cases, their ids and their guards are the runner's.
"""

from __future__ import annotations

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_default_matmul_precision", "highest")  # as `jaxgrads run` does by default

from jaxgrads import sweep as runner  # noqa: E402

# the suite's default: the fast vectorized methods, and the closed forms, at three sizes
SUITE = runner.Sweep(
    methods=("jacfwd", "jacrev", "grad", "hessian_fwd_rev", "analytic", "analytic_textbook"),
    sizes=((64, 64), (256, 256), (1024, 1024)),
    max_call_s=1.0,
)


def pytest_addoption(parser):
    group = parser.getgroup("jaxgrads", "the jaxgrads benchmark sweep")
    group.addoption("--jaxgrads-problems", nargs="+", metavar="NAME", help="default: all")
    group.addoption("--jaxgrads-wrt", nargs="+", metavar="ARG")
    group.addoption(
        "--jaxgrads-methods", nargs="+", metavar="NAME", help=f"default: {' '.join(SUITE.methods)}"
    )
    group.addoption("--jaxgrads-sizes", nargs="+", metavar="N|MxN", help="default: 64 256 1024")
    group.addoption("--jaxgrads-dtypes", nargs="+", metavar="DTYPE", help="default: float32")
    group.addoption("--jaxgrads-samples", type=int, default=SUITE.samples, help="rounds per benchmark")


def suite(config) -> runner.Sweep:
    changes = {}
    for name in ("problems", "wrt", "methods", "dtypes"):
        value = config.getoption(f"jaxgrads_{name}")
        if value:
            changes[name] = tuple(value)
    if config.getoption("jaxgrads_sizes"):
        changes["sizes"] = runner.sizes_from(config.getoption("jaxgrads_sizes"))
    changes["samples"] = config.getoption("jaxgrads_samples")
    return runner.Sweep(**{**SUITE.__dict__, **changes})


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        cases = runner.plan(suite(metafunc.config))
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])


@pytest.fixture(scope="session")
def session(request):
    return runner.RunContext.start(suite(request.config))
