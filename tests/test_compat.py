"""jaxgrads.compat against faked older releases: every branch, each with the API it falls back to."""

import math
import os
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxgrads import compat
from jaxgrads.measure.xla import cost_and_memory


def test_versions_parse():
    assert compat.version("0.4.30") == (0, 4, 30)
    assert compat.version("0.9.0.1") == (0, 9, 0)
    assert compat.version("0.11.0.dev20261201+cuda") == (0, 11, 0)
    assert compat.version() == compat.version(jax.__version__)


def _compiled():
    return jax.jit(lambda x: (x * 2)[:3]).lower(jnp.ones(5)).compile()


def test_the_output_shape_from_out_info_or_from_the_executables_avals():
    assert compat.out_shape(_compiled()) == (3,)
    # before Compiled.out_info (0.4.30): the executable's output avals
    old = SimpleNamespace(_executable=SimpleNamespace(out_avals=[jax.core.ShapedArray((4, 2), np.float32)]))
    assert compat.out_shape(old) == (4, 2)
    assert compat.out_shape(SimpleNamespace()) is None  # neither: the caller runs the kernel once


def _old_map(f, xs):  # lax.map before batch_size (0.4.30)
    return lax.scan(lambda c, x: (c, f(x)), (), xs)[1]


@pytest.mark.parametrize(("n", "batch"), [(12, 4), (13, 4), (3, 5), (7, 1)])
def test_a_chunked_map_without_batch_size_equals_the_real_one(monkeypatch, n, batch):
    f = lambda i: jnp.stack([jnp.sin(i), i * 2])  # noqa: E731
    xs = jnp.arange(n, dtype=jnp.float32)
    want = lax.map(f, xs, batch_size=batch)
    monkeypatch.setattr(lax, "map", _old_map)
    got = jax.jit(lambda v: compat.lax_map(f, v, batch_size=batch))(xs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    assert compat.lax_map(f, xs).shape == (n, 2)  # no batch: the old map as it is


def test_the_chunked_walk_methods_run_on_a_release_without_batch_size(monkeypatch):
    import jaxgrads as jg

    monkeypatch.setattr(lax, "map", _old_map)
    for method in ("jacrev_chunked", "jacfwd_chunked"):
        k = jg.build_kernel("matvec", "x", method, 24, "float32", chunk_size=5)
        ref = jg.build_kernel("matvec", "x", "jacrev", 24, "float32")
        np.testing.assert_allclose(np.asarray(k()), np.asarray(ref()), rtol=1e-5, atol=1e-6)


def test_the_optimization_barrier_falls_back_to_jaxs_internal_one(monkeypatch):
    x = jnp.arange(4.0)
    np.testing.assert_array_equal(jax.jit(compat.optimization_barrier)(x), x)
    monkeypatch.delattr(lax, "optimization_barrier", raising=False)
    np.testing.assert_array_equal(jax.jit(compat.optimization_barrier)(x), x)


def test_host_devices_by_the_option_or_by_xlas_flag(monkeypatch):
    calls = []
    monkeypatch.setattr(compat, "set_config", lambda name, value: calls.append((name, value)) or True)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    compat.set_host_devices(4)
    assert calls == [("jax_num_cpu_devices", 4)]
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false"
    # a release without the option (before 0.4.38): the flag, first, replacing an earlier count
    monkeypatch.setattr(compat, "set_config", lambda name, value: False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=8 stray_word=1")
    compat.set_host_devices(2)
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2 stray_word=1"


def test_an_unknown_config_option_is_false_not_an_error():
    assert compat.set_config("jax_no_such_option_in_any_release", 1) is False
    assert compat.set_config("jax_enable_checks", jax.config.jax_enable_checks) is True


def test_a_childs_environment_names_the_host_devices_both_ways():
    env = compat.host_device_env(2, {"XLA_FLAGS": "intra_op_parallelism_threads=1", "PATH": "/bin"})
    assert env["JAX_NUM_CPU_DEVICES"] == "2"
    # first: an older XLA stops reading XLA_FLAGS at a word that is not a flag
    assert env["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2 intra_op_parallelism_threads=1"
    assert env["PATH"] == "/bin"
    assert compat.host_device_env(3, {})["XLA_FLAGS"] == "--xla_force_host_platform_device_count=3"


def test_cost_analysis_as_a_list_a_dict_or_missing():
    listed = SimpleNamespace(cost_analysis=lambda: [{"flops": 3.0}])  # before 0.4.36: one per device
    assert compat.cost_analysis(listed) == ({"flops": 3.0}, None)
    assert compat.cost_analysis(SimpleNamespace(cost_analysis=lambda: {"flops": 2.0}))[0] == {"flops": 2.0}
    cost, why = compat.cost_analysis(SimpleNamespace())
    assert cost == {}
    assert why.startswith(f"jax {jax.__version__} has no cost_analysis")

    def broken():
        raise NotImplementedError

    assert "cost_analysis failed" in compat.cost_analysis(SimpleNamespace(cost_analysis=broken))[1]
    assert "empty" in compat.cost_analysis(SimpleNamespace(cost_analysis=lambda: []))[1]
    assert compat.memory_analysis(SimpleNamespace())[1] == f"jax {jax.__version__} has no memory_analysis"
    real, why = compat.cost_analysis(_compiled())
    assert why is None
    assert "flops" in real


def test_a_release_without_the_analyses_leaves_the_columns_empty_and_says_why():
    columns = cost_and_memory([(SimpleNamespace(), 1)])
    assert math.isnan(columns["flops"])
    assert math.isnan(columns["peak_bytes"])
    assert columns["message"] == (f"jax {jax.__version__} has no cost_analysis; "
                                  f"jax {jax.__version__} has no memory_analysis")  # fmt: skip
    whole = cost_and_memory([(_compiled(), 1)])
    assert "message" not in whole
    assert whole["flops"] >= 0
    assert whole["peak_bytes"] > 0
