"""Strict JAX for every test: no silent dtype or rank promotion; x64 on for the float64 cases."""

import atexit
import os
import shutil
import tempfile

import jax
import pytest

# the suite's runs keep what they learn of the machine (jaxgrads.measure.caches) in a folder of the
# session's own: a check made under the suite's load never becomes the user's ~/.cache/jaxgrads
if not os.environ.get("JAXGRADS_STATE_DIR"):
    os.environ["JAXGRADS_STATE_DIR"] = tempfile.mkdtemp(prefix="jaxgrads-state-")
    atexit.register(shutil.rmtree, os.environ["JAXGRADS_STATE_DIR"], True)

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_enable_x64", True)


@pytest.fixture
def no_x64():
    """x64 off for one test (float64 must then be refused), restored afterwards."""
    jax.config.update("jax_enable_x64", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", True)


@pytest.fixture(autouse=True, scope="session")
def machine_probes_once_per_session():
    """In-process sweeps share one measurement of the machine's probes per (dtypes, samples, sample
    time, budget, device): measured for real, the first time each is asked (4-7 s each here), not
    once per sweep. Tests of the probes call ``jaxgrads.sweep.machine_probes``, which stays the
    real one; a test's own stub (``monkeypatch``) still takes precedence inside it."""
    from jaxgrads.sweep import context as sweep_run

    real, cache = sweep_run.machine_probes, {}

    def once(sweep, device, **kwargs):
        key = (sweep.dtypes, sweep.samples, sweep.min_sample_s, sweep.memory_budget, str(device),
               tuple(sorted(kwargs.items())))  # fmt: skip
        if key not in cache:
            cache[key] = real(sweep, device, **kwargs)
        probes, ceilings = cache[key]
        return dict(probes), dict(ceilings)

    sweep_run.machine_probes = once
    yield
    sweep_run.machine_probes = real


# files whose tests are independent, quick units with no module fixture: spread over every xdist
# worker one test at a time; every other file stays on one worker (its module fixtures measured once)
SPREAD = {"test_methods.py", "test_problems.py", "test_pytrees.py", "test_advise.py"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the marks
def pytest_collection_modifyitems(config, items):
    """With ``--dist loadgroup`` (make test): one group per file, except the files in SPREAD."""
    for item in items:
        if item.path.name not in SPREAD:
            item.add_marker(pytest.mark.xdist_group(item.path.name))
