"""Options and session fixtures of the pytest-benchmark suite (bench/suite/test_benchmarks.py).

    pytest bench/suite/test_benchmarks.py --benchmark-json results/pytest-benchmark.json --benchmark-save-data
    pytest bench/suite/test_benchmarks.py --jaxgrads-problems quadratic --jaxgrads-sizes 1024 -k jacrev

The sweep options mirror ``jaxgrads run``'s and build the same :class:`jaxgrads.sweep.Sweep`, so the
cases, their ids and their guards are the runner's.
"""

from __future__ import annotations

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_default_matmul_precision", "highest")  # as `jaxgrads run` does by default

from jaxgrads import sweep as runner  # noqa: E402
from jaxgrads.sweep.options import SWEEP_OPTIONS, add_sweep_options, sweep_from  # noqa: E402

# the suite's default: the fast vectorized methods, and the closed forms, at three sizes
SUITE = runner.Sweep(
    methods=("jacfwd", "jacrev", "grad", "hessian_fwd_rev", "analytic", "analytic_textbook"),
    sizes=((64, 64), (256, 256), (1024, 1024)),
    max_call_s=1.0,
)


def pytest_addoption(parser):
    """The sweep options of ``jaxgrads run`` (those that set a Sweep field), as ``--jaxgrads-<name>``;
    the suite's own defaults are in SUITE."""
    add_sweep_options(parser.getgroup("jaxgrads", "the jaxgrads benchmark sweep").addoption,
                      "--jaxgrads-", fields_only=True)  # fmt: skip


def suite(config) -> runner.Sweep:
    """SUITE with the given options: the same conversion ``jaxgrads run`` applies."""
    values = {o.name: config.getoption(f"jaxgrads_{o.name}") for o in SWEEP_OPTIONS if o.sweep_field}
    return sweep_from(values, SUITE)


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        cases = runner.plan(suite(metafunc.config))
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])


@pytest.fixture(scope="session")
def session(request):
    return runner.RunContext.start(suite(request.config))
