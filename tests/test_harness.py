"""The harness's own costs: kernels compiled ahead in a pool (``--jobs``), the accuracy check where
the Jacobian is (measure.agreement), and the split of a run's wall time (sweep.phases)."""

import math
import threading
import time

import jax
import numpy as np
import pytest
from clitools import FAST, assert_one_line_error, jaxgrads

import jaxgrads as jg
from jaxgrads import sweep as runner
from jaxgrads.measure import accuracy as accuracy_module
from jaxgrads.measure import agreement as agreement_module
from jaxgrads.measure.accuracy import Reference, accuracy, reference
from jaxgrads.measure.agreement import agreement, device_statistics, host_statistics, reference_sums
from jaxgrads.results.schema import KEY, read_results
from jaxgrads.sweep import compiling
from jaxgrads.sweep import phases as phases_module
from jaxgrads.sweep import run as sweep_run
from jaxgrads.sweep.phases import PHASES, Phases

SWEEP = dict(problems=("quadratic", "matvec"), sizes=((8, 8),), samples=2, min_sample_s=0.001, device="cpu",
             methods=("jacrev", "jacfwd", "map_vjp", "loop_vjp", "analytic"))  # fmt: skip


def test_a_pool_of_two_gives_the_rows_of_one_and_compiles_nothing_while_a_kernel_is_timed(
    tmp_path, monkeypatch
):
    events, lock = [], threading.Lock()
    real_compile, real_time = sweep_run._compile, sweep_run.time_callable

    def logged(kind, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with lock:
                    events.append((kind, start, time.perf_counter(), threading.current_thread().name))

        return wrapper

    monkeypatch.setattr(sweep_run, "_compile", logged("compile", real_compile))
    monkeypatch.setattr(sweep_run, "time_callable", logged("timing", real_time))
    one = runner.run_sweep(runner.Sweep(**SWEEP, jobs=1), tmp_path / "one.csv")
    events.clear()
    two = runner.run_sweep(runner.Sweep(**SWEEP, jobs=2), tmp_path / "two.csv")
    a, b = (read_results(p).set_index(list(KEY)).sort_index() for p in (one, two))
    assert list(a.index) == list(b.index)
    assert (a["status"] == "ok").all()
    assert (b["status"] == "ok").all()
    assert b["ok"].all()
    assert (a["compile_jobs"] == 1).all()
    assert (b["compile_jobs"] == 2).all()
    assert b["compile_s"].gt(0).all()
    compiles = [e for e in events if e[0] == "compile"]
    timings = [e for e in events if e[0] == "timing"]
    assert len(compiles) == len(b)
    assert all(name.startswith("jaxgrads-compile") for *_, name in compiles)
    for _, start, end, _ in timings:  # a quiet machine: no compile overlaps a timed kernel
        assert not any(c_start < end and start < c_end for _, c_start, c_end, _ in compiles)


def test_a_plugin_raising_while_compiling_in_the_pool_is_its_own_error_row(tmp_path):
    def explode(xp, x):
        raise FloatingPointError("boom while tracing")

    jg.register(jg.Problem(name="pool_explodes", fn=explode, args=("x",),
                           make_inputs=jg.gaussian_inputs(lambda s: {"x": (s.n,)}),
                           derivatives=(jg.Derivative("x", lambda xp, x: x),), dims=("n",),
                           scalar_output=False))  # fmt: skip
    try:
        sweep = runner.Sweep(**(SWEEP | {"problems": ("pool_explodes", "inner")}), jobs=2)
        df = read_results(runner.run_sweep(sweep, tmp_path / "r.csv")).set_index(["problem", "method"])
    finally:
        jg.unregister("pool_explodes")
    bad = df.loc["pool_explodes"]
    assert (bad["status"] == "error").all()
    assert bad["message"].str.contains("pool_explodes: its function raised FloatingPointError").all()
    assert (df.loc["inner", "status"] == "ok").all()


def test_jobs_is_one_line_when_not_a_positive_integer(tmp_path):
    out = tmp_path / "r.csv"
    assert_one_line_error(jaxgrads("run", "--jobs", "0", "-o", str(out)), "--jobs must be a positive integer")
    assert not out.exists()


def test_the_pool_size_follows_the_cpus_and_a_run_of_several_processes_compiles_in_step(monkeypatch):
    from jaxgrads.measure import machine

    monkeypatch.setattr(machine, "cpus_used", lambda: 5)
    assert compiling.resolve_jobs(None) == 5
    assert compiling.resolve_jobs(3) == 3
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    assert compiling.resolve_jobs(None) == 1


# ------------------------------------------------------------------ the check where the Jacobian is


def _reference(f64, scale=None, same=None, error=math.nan) -> Reference:
    return Reference(np.asarray(f64, np.float64), scale, same, "", "float64 closed form", error)


@pytest.mark.parametrize("where", ["host", "host with the reference's sums", "device"])
@pytest.mark.parametrize("componentwise", [True, False])
def test_the_statistics_are_numpys_on_the_host_blockwise_and_on_a_device(componentwise, where, monkeypatch):
    monkeypatch.setattr(agreement_module, "BLOCK", 1000)  # blocks of 1000, the last one short
    rng = np.random.default_rng(0)
    f64 = rng.standard_normal((64, 48))
    scale = np.abs(f64) + 0.5 if componentwise else None
    if componentwise:
        scale[5, 7] = 0.0  # an entry that must be exact: its |error| itself is its ratio
    J = jax.numpy.asarray(f64 + 1e-7 * rng.standard_normal(f64.shape), jax.numpy.float32)
    same = jax.numpy.asarray(f64, jax.numpy.float32)
    ref = _reference(f64, scale, same)
    if where == "host":
        stats = host_statistics(J, f64, scale, same, workers=2)
    elif where.startswith("host with"):  # the sums of the reference alone computed once, apart
        sums = reference_sums(f64, scale, same, workers=2)
        stats = host_statistics(J, f64, scale, same, workers=2, reference=sums)
    else:  # the GPU's path, here on the CPU device
        stats = device_statistics(J, ref, jax.devices("cpu")[0])
    host = np.asarray(J, np.float64)
    assert stats["finite"]
    assert stats["reference_finite"]
    assert stats["err_norm"] == pytest.approx(np.linalg.norm(host - f64), rel=1e-12)
    assert stats["reference_norm"] == pytest.approx(np.linalg.norm(f64), rel=1e-12)
    assert stats["max_abs"] == np.max(np.abs(host - f64))
    same64 = np.asarray(same, np.float64)
    assert stats["same_err_norm"] == pytest.approx(np.linalg.norm(host - same64), rel=1e-12)
    assert stats["same_norm"] == pytest.approx(np.linalg.norm(same64), rel=1e-12)
    if componentwise:
        ratio = np.abs(host - f64) / np.where(scale > 0, scale, 1.0)
        assert stats["worst_ratio"] == pytest.approx(np.max(ratio), rel=1e-12)
    else:
        assert "worst_ratio" not in stats


@pytest.mark.parametrize("where", ["host", "host with the reference's sums", "device"])
def test_norms_of_huge_entries_do_not_overflow_and_a_nan_is_seen(where):
    f64 = np.full((300, 300), 1e200)
    J = jax.numpy.asarray(f64 * (1 + 1e-10))
    cpu = jax.devices("cpu")[0]

    def stats(J):
        if where == "host":
            return host_statistics(J, f64)
        if where.startswith("host with"):
            return host_statistics(J, f64, reference=reference_sums(f64))
        return device_statistics(J, _reference(f64), cpu)

    assert stats(J)["reference_norm"] == pytest.approx(300 * 1e200, rel=1e-12)
    assert stats(J)["err_norm"] / stats(J)["reference_norm"] == pytest.approx(1e-10, rel=1e-3)
    assert not stats(J.at[3, 4].set(np.nan))["finite"]


def test_a_cases_methods_share_the_references_sums(monkeypatch):
    """The reference's own sums are computed once per reference, not once per method checked."""
    ref, cpu = _reference(np.ones((40, 40)), np.ones((40, 40))), jax.devices("cpu")[0]
    real, calls = agreement_module.reference_sums, []

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(agreement_module, "reference_sums", counting)
    for _ in range(3):
        stats = agreement(jax.numpy.ones((40, 40), jax.numpy.float32), ref, cpu)
        assert stats["err_norm"] == 0.0
        assert stats["reference_norm"] == pytest.approx(40.0)
    assert len(calls) == 1


def test_a_mesh_or_peer_result_is_left_to_the_caller():
    ref, cpu = _reference(np.ones((4, 4))), jax.devices("cpu")[0]
    assert agreement(np.ones((4, 4)), ref, cpu) is None  # not a JAX array (a peer's)
    assert agreement(jax.numpy.ones((4, 5)), ref, cpu) is None  # not the reference's shape


@pytest.mark.parametrize("wrong", [False, True])
def test_a_row_checked_blockwise_gets_the_whole_array_verdict_and_message(monkeypatch, wrong):
    kernel = jg.build_kernel("matvec", "A", "jacrev", 96, "float32")
    J = kernel()
    if wrong:
        J = J.at[5, 7, 3].add(1.0)
    ref = reference(kernel)
    blockwise = accuracy(kernel, J, ref)
    monkeypatch.setattr(accuracy_module, "agreement", lambda *args: None)  # the whole-array NumPy check
    whole = accuracy(kernel, J, ref)
    assert blockwise.keys() == whole.keys()
    assert blockwise["ok"] is whole["ok"] is (not wrong)
    for column in ("err_f64", "err_closed_form", "max_abs_err"):
        assert blockwise[column] == pytest.approx(whole[column], rel=1e-9, abs=1e-300)
    if wrong:
        assert blockwise["message"] == whole["message"]
        assert "entry (5, 7, 3)" in blockwise["message"]


# ------------------------------------------------------------------ where the wall time goes


def test_the_phases_add_up_to_the_wall_time():
    phases = Phases()
    with phases("compile"):
        time.sleep(0.02)
    with phases("timing"):
        time.sleep(0.01)
    split = phases.split()
    assert split["compile"] >= 0.02
    assert split["timing"] >= 0.01
    in_sweep = sum(split[p] for p in (*PHASES, "other"))
    assert split["wall"] == pytest.approx(split["before"] + in_sweep, rel=1e-3)
    with pytest.raises(ValueError, match="unknown phase 'linking'; phases: probes, inputs"):
        with phases("linking"):
            pass


def test_a_later_run_in_the_same_process_counts_its_own_start_only(monkeypatch):
    """The process's age is the first run's ``before``; a second one counts from its own command."""
    monkeypatch.setattr(phases_module, "_STARTED", [])
    monkeypatch.setattr(phases_module, "process_age", lambda: 1000.0)
    assert Phases().before == 1000.0
    began = time.perf_counter()
    time.sleep(0.01)
    later = Phases(since=began)
    assert 0.01 <= later.before < 1000.0
    assert Phases().before == 0.0  # no start given: nothing before is claimed


def test_a_run_says_where_its_time_went(tmp_path):
    result = jaxgrads("run", "--problems", "inner", "--wrt", "x", "--sizes", "4", "--methods", "jacrev",
                      *FAST, "-o", str(tmp_path / "r.csv"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("wall ")
    for phase in (*PHASES, "other", "before"):
        assert f" {phase} " in line
