"""Jacobians across devices and processes: the sharded methods against the closed forms on several
host devices, each device's share a share, --devices, --processes and --shard end to end, and what
each bad input gets."""

import json
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from clitools import ENV, FAST, assert_one_line_error, jaxgrads

import jaxgrads as jg
from jaxgrads.cli.report import read_all
from jaxgrads.errors import JaxgradsError
from jaxgrads.measure.timing import time_callable
from jaxgrads.methods.sharded import assemble, basis_mesh, padded
from jaxgrads.sweep import plan
from jaxgrads.sweep.config import Sweep
from jaxgrads.sweep.distributed import free_port
from jaxgrads.sweep.options import shard_of

SHARDED = ("jacrev_sharded", "jacfwd_sharded")

# every built-in Jacobian target, on 3 host devices (no basis here divides by 3 for every size),
# checked against the float64 closed form; each device's part of the result must be a distinct
# share of the padded basis, not a replica
CHECK_ON_DEVICES = textwrap.dedent(
    """
    import json, sys
    import jax
    jax.config.update("jax_num_cpu_devices", 3)
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import jaxgrads as jg
    from jaxgrads.measure.tolerance import abs_scale, check_close, rtol
    out = []
    for p in jg.list_problems():
        for d in p.derivatives:
            for m in ("jacrev_sharded", "jacfwd_sharded"):
                if m not in jg.applicable_methods(p, d.name):
                    continue
                k = jg.build_kernel(p.name, d.name, m, (7, 5), "float64", batch=2)
                J = k()
                inputs64 = {a: v.astype(np.float64) for a, v in k.inputs.items()}
                closed = d.closed_form(np, **inputs64)
                ok, worst = check_close(k.host_jacobian(J), closed, abs_scale(d.closed_form, inputs64),
                                        rtol(k.dtype, 7))
                out.append({
                    "id": k.id, "ok": bool(ok), "devices": k.devices, "block": list(J.shape),
                    "shards": [list(s.data.shape) for s in J.addressable_shards],
                    "starts": sorted(s.index[0].start or 0 for s in J.addressable_shards),
                    "replicated": J.sharding.is_fully_replicated,
                    "output_bytes": k.executables[0][0].memory_analysis().output_size_in_bytes,
                    "itemsize": k.dtype.itemsize,
                })
    print(json.dumps(out))
    """
)


def test_padded_and_assemble():
    assert [padded(n, 3) for n in (1, 3, 4, 7)] == [3, 3, 6, 9]
    J = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)  # out (2, 3), wrt (4,)
    rows = np.concatenate([J.reshape(6, 4), np.zeros((3, 4))])  # 6 rows padded to 9
    np.testing.assert_array_equal(assemble(rows, "reverse", (2, 3), (4,)), J)
    cols = np.concatenate([J.reshape(6, 4).T, np.zeros((2, 6))])  # 4 columns padded to 6
    np.testing.assert_array_equal(assemble(cols, "forward", (2, 3), (4,)), J)


def test_sharded_methods_on_one_device_are_the_closed_form():
    # the test process has one CPU device: a mesh of one, nothing padded (also in test_methods)
    for method in SHARDED:
        kernel = jg.build_kernel("matvec", "A", method, (7, 5), "float64")
        assert kernel.devices == 1
        closed = kernel.derivative.closed_form(np, **kernel.inputs)
        np.testing.assert_allclose(kernel.host_jacobian(kernel()), closed, rtol=1e-12, atol=1e-12)


def test_every_target_on_three_devices_is_correct_and_split_in_shares():
    proc = subprocess.run(
        [sys.executable, "-c", CHECK_ON_DEVICES], capture_output=True, text=True, env=ENV, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)
    assert len(rows) == 2 * len([d for p in jg.list_problems() for d in p.derivatives if d.order == 1])
    for r in rows:
        assert r["ok"], r["id"]
        assert r["devices"] == 3, r
        assert len(r["shards"]) == 3, r
        assert r["block"][0] % 3 == 0, r  # the basis padded to a multiple of the mesh
        share = r["block"][0] // 3
        assert all(s == [share, *r["block"][1:]] for s in r["shards"]), r  # a third each, not the whole
        assert r["starts"] == [0, share, 2 * share], r  # distinct parts
        assert not r["replicated"], r
        # memory_analysis reports one device's output: its share, not the Jacobian
        assert r["output_bytes"] == share * int(np.prod(r["block"][1:])) * r["itemsize"], r


def test_basis_mesh_refuses_more_devices_than_the_platform_has():
    with pytest.raises(JaxgradsError, match=r"--devices 5: JAX sees 1 cpu device\(s\); valid: 1-1"):
        basis_mesh("cpu", 5)
    assert basis_mesh("cpu", 1).size == 1


def test_run_on_devices_records_the_mesh(tmp_path):
    out = tmp_path / "r.csv"
    args = ("--devices", "3", "--problems", "matvec", "--sizes", "7x5", *FAST)
    result = jaxgrads("run", *args, "-o", str(out))
    assert result.returncode == 0, result.stderr
    df = pd.read_csv(out, keep_default_na=False)
    assert (df["status"] == "ok").all()
    assert df["ok"].astype(str).eq("True").all()
    sharded = df["method"].isin(SHARDED)
    assert set(df.loc[sharded, "method"]) == set(SHARDED)  # in the default methods on > 1 device
    assert (df.loc[sharded, "devices"] == 3).all()
    assert (df.loc[~sharded, "devices"] == 1).all()
    assert (df.loc[sharded, "mesh_shape"] == "basis=3").all()
    assert (df.loc[~sharded, "mesh_shape"] == "").all()
    assert (df["processes"] == 1).all()


def test_sharded_methods_run_when_named_and_not_by_default_on_one_device():
    one = plan(Sweep(problems=("matvec",), sizes=((4, 4),)))
    assert not {c.method.name for c in one} & set(SHARDED)
    named = plan(Sweep(problems=("matvec",), methods=SHARDED, sizes=((4, 4),)))
    assert {c.method.name for c in named} == set(SHARDED)


@pytest.mark.slow
def test_two_processes_write_one_result_file(tmp_path):
    out = tmp_path / "r.csv"
    args = ("--processes", "2", "--problems", "matvec", "--wrt", "A", "--sizes", "7x5", *FAST)
    result = jaxgrads("run", *args, "-o", str(out))
    assert result.returncode == 0, result.stderr
    df = pd.read_csv(out, keep_default_na=False)
    assert (df["status"] == "ok").all()
    assert df["ok"].astype(str).eq("True").all()
    assert (df["processes"] == 2).all()
    sharded = df[df["method"].isin(SHARDED)]
    assert set(sharded["method"]) == set(SHARDED)
    assert (sharded["devices"] == 2).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.samples.csv"]  # nothing else


@pytest.mark.slow
def test_shards_partition_the_sweep_and_merge_back(tmp_path):
    base = Sweep(problems=("matvec", "inner"), methods=("jacrev", "analytic"), sizes=((8, 8), (4, 4)))
    whole = [c.key for c in plan(base)]
    parts = [[c.key for c in plan(Sweep(**{**base.__dict__, "shard": (k, 3)}))] for k in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(whole)
    assert sum(map(len, parts)) == len(whole)
    # two machines' parts, reported together, are the whole sweep
    paths = []
    for k in (1, 2):
        out = tmp_path / f"part{k}.csv"
        args = ("--problems", "matvec", "--methods", "jacrev", "analytic", "--sizes", "8", "4", *FAST)
        result = jaxgrads("run", *args, "--shard", f"{k}/2", "-o", str(out))
        assert result.returncode == 0, result.stderr
        paths.append(str(out))
    merged = read_all(paths)
    assert len(merged) == 2 * 2 * 2  # matvec x, A at 8 and 4, two methods
    assert len(merged.drop_duplicates(["wrt", "method", "m", "n"])) == len(merged)


@pytest.mark.slow
def test_a_case_on_other_device_counts_is_another_measurement_and_the_devices_section(tmp_path):
    from jaxgrads.report.figures import plot_all
    from jaxgrads.report.markdown import markdown_report

    paths = []
    for devices in (1, 2):
        out = tmp_path / f"d{devices}.csv"
        # strong: 8x8 on both counts; weak: (4·D)x4, a 16-element share per device
        args = ("--devices", str(devices), "--problems", "matvec", "--wrt", "x",
                "--methods", "jacrev_sharded", "--sizes", "8", f"{4 * devices}x4")  # fmt: skip
        assert jaxgrads("run", *args, *FAST, "-o", str(out)).returncode == 0
        paths.append(str(out))
    df = read_all(paths)
    assert sorted(df["devices"]) == [1, 1, 2, 2]
    text = markdown_report(df)
    section = text.split("## Devices", 1)[1]
    assert "host devices of one CPU" in section  # the caveat: they share its cores
    strong = section.split("Strong scaling", 1)[1].split("Weak scaling", 1)[0]
    assert "| matvec / x | 8 float32 | jacrev_sharded |" in strong  # one row: 8x8 on 1 and 2 devices
    assert strong.count("| matvec / x |") == 1
    weak = section.split("Weak scaling", 1)[1].split("Largest Jacobian", 1)[0]
    assert "| 4 float32: " in weak
    assert "| 8x4 float32: " in weak
    # the other tables show each case once: the one on the fewest devices
    summary = text.split("## Summary", 1)[1].split("## Findings", 1)[0]
    assert summary.count("| matvec | x | 8 float32 |") == 1
    made = plot_all(df, tmp_path / "figures")
    assert "devices" in made


def test_shard_of():
    assert shard_of("2/4") == (2, 4)
    for bad in ("3/2", "0/2", "x", "1/0", "2"):
        with pytest.raises(JaxgradsError, match="expected K/N with 1 <= K <= N"):
            shard_of(bad)


def test_agreed_timing_calls_as_often_as_the_slowest_process():
    calls = []

    def fn():
        calls.append(1)

    # another process still calibrating for 2 rounds, and 3x slower in every sample
    rounds = iter([(1.0, 8), (1.0, 16)])

    def agree(values):
        if len(values) == 2:
            short, grown = next(rounds, (0.0, 0))
            return (max(values[0], short), max(values[1], grown))
        if len(values) == 1:  # the sample count: both keep all 3
            return values
        return tuple(3 * v for v in values)

    timing = time_callable(fn, samples=3, min_sample_s=1e-9, warmup=False, agree=agree)
    assert timing.inner_loops == 16  # grown as the other process asked
    assert len(calls) == 1 + 8 + 16 + 2 * 16
    assert len(timing.samples) == 3


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--devices", "0"], ["--devices must be a positive integer, got 0"]),
        (["--shard", "3/2"], ["--shard 3/2: expected K/N with 1 <= K <= N"]),
        (["--processes", "0"], ["--processes must be a positive integer, got 0"]),
        (["--coordinator", "127.0.0.1:1"], ["--coordinator, --num-processes and --process-id go together"]),
        (["--processes", "2", "--coordinator", "nohost"], ["--coordinator nohost: expected HOST:PORT"]),
        (["--processes", "2", "--instructions"], ["leave out --processes"]),
        (["--distributed", "--process-id", "0"], ["--distributed finds the run's processes itself"]),
        (["--processes", "2", "--resume"], ["--resume: a run of several processes starts afresh"]),
    ],
)
def test_bad_input_gets_one_line_and_no_file(tmp_path, args, needles):
    out = tmp_path / "r.csv"
    assert_one_line_error(jaxgrads("run", "--problems", "inner", *args, "-o", str(out)), *needles)
    assert list(tmp_path.iterdir()) == []


def test_processes_with_the_port_taken(tmp_path):
    out = tmp_path / "r.csv"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(JaxgradsError, match=f"127.0.0.1:{port}: the port is taken"):
            free_port("127.0.0.1", port)
        args = ("--processes", "2", "--coordinator", f"127.0.0.1:{port}", "--problems", "inner")
        result = jaxgrads("run", *args, "-o", str(out))
    assert_one_line_error(result, f"--coordinator 127.0.0.1:{port}: the port is taken")
    assert list(tmp_path.iterdir()) == []
