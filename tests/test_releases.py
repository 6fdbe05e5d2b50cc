"""jaxgrads releases: configurations, cached environments (faked: CI installs no release), alternating
rounds, steps between adjacent configurations; the callgrind child's and the planner's device counts;
your own function under the gate's counts."""

import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import jax
import pandas as pd
import pytest
from clitools import FAST, assert_one_line_error, jaxgrads

from jaxgrads import gate
from jaxgrads.errors import JaxgradsError
from jaxgrads.history import environments, releases
from jaxgrads.history.releases import Config, measure_releases, order, parse_config
from jaxgrads.measure import callgrind
from jaxgrads.results.schema import samples_path
from jaxgrads.sweep import instructions, plan, processes
from jaxgrads.sweep.config import Sweep

ROOT = Path(__file__).resolve().parents[1]
needs_valgrind = pytest.mark.skipif(
    callgrind.unavailable() is not None, reason=f"{callgrind.unavailable()}: the tier is skipped there"
)

# ---------------------------------------------------------------- configurations


def test_configurations_parse():
    assert parse_config("0.5.0") == Config("0.5.0", "0.5.0")
    assert parse_config("mine=current:--xla_cpu_enable_fast_math=true").release == "current"
    legacy = parse_config("legacy=0.4.38:--xla_cpu_use_thunk_runtime=false --xla_cpu_enable_fast_math=false")
    assert legacy.release == "0.4.38"
    assert legacy.xla_flags == "--xla_cpu_use_thunk_runtime=false --xla_cpu_enable_fast_math=false"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latest", "configuration latest: jax release 'latest'; expected e.g. 0.4.30"),
        ("a b=0.5.0", "configuration name 'a b': use letters, digits and . _ + -"),
        ("=0.5.0", "--config '=0.5.0': expected RELEASE or NAME=RELEASE[:XLA_FLAGS]"),
        ("x=", "--config 'x=': expected RELEASE or NAME=RELEASE[:XLA_FLAGS]"),
    ],
)
def test_a_bad_configuration_is_one_line(text, message):
    with pytest.raises(JaxgradsError) as err:
        parse_config(text)
    assert str(err.value) == message


def test_configurations_run_oldest_first_and_a_releases_own_in_the_order_given():
    got = order([Config("0.10.2", "0.10.2"), Config("b", "0.4.38"), Config("0.9.2", "0.9.2"),
                 Config("a", "0.4.38"), Config("0.4.30", "0.4.30")])  # fmt: skip
    assert [c.name for c in got] == ["0.4.30", "b", "a", "0.9.2", "0.10.2"]  # 0.10 after 0.9
    mine = order([Config("new", "99.0.0"), Config("here", "current"), Config("old", "0.0.1")])
    assert [c.name for c in mine] == ["old", "here", "new"]  # "current": the installed jax's place
    with pytest.raises(JaxgradsError, match="configuration '0.5.0' given twice"):
        order([Config("0.5.0", "0.5.0"), Config("0.5.0", "0.5.0")])


# ---------------------------------------------------------------- environments (faked installs)


def test_a_releases_dependencies_pin_jax_and_keep_the_rest():
    given = ["jax>=0.10,<0.11", "jaxlib[cuda]>=0.10", "numpy>=1.26", "jaxtyping"]
    deps = environments.release_dependencies("0.4.30", given)
    assert deps == ["jax==0.4.30", "jaxlib==0.4.30", "numpy>=1.26", "jaxtyping"]
    mine = environments.release_dependencies("0.10.2")  # this checkout's pyproject
    assert mine[:2] == ["jax==0.10.2", "jaxlib==0.10.2"]
    assert any(d.startswith("pandas") for d in mine)
    with pytest.raises(JaxgradsError, match="jax release 'newest': expected a version such as 0.4.30"):
        environments.release_dependencies("newest")


@pytest.fixture
def fake_installs(monkeypatch, tmp_path):
    """venv and pip replaced: venv writes bin/python, pip fails for a release named in ``fail``."""
    calls, fail = [], set()

    def run(cmd, **kwargs):
        calls.append(cmd)
        if cmd[1:3] == ["-m", "venv"]:
            python = Path(cmd[-1]) / "bin" / "python"
            python.parent.mkdir(parents=True, exist_ok=True)
            python.write_text("")
        elif any(f"jax=={v}" in cmd for v in fail):
            missing = "ERROR: No matching distribution found for jax==0.0.1\n"
            return SimpleNamespace(returncode=1, stderr=missing)
        return SimpleNamespace(returncode=0, stderr="")

    monkeypatch.setattr(environments.subprocess, "run", run)
    monkeypatch.setenv("JAXGRADS_CACHE", str(tmp_path / "cache"))
    return calls, fail


def test_a_releases_environment_is_made_once_in_the_cache_outside_the_checkout(fake_installs, tmp_path):
    calls, _ = fake_installs
    python = environments.release_environment("0.4.31", log=lambda m: None)
    assert python == str(tmp_path / "cache" / "releases" / "jax-0.4.31" / "bin" / "python")
    assert not Path(python).is_relative_to(ROOT)
    assert len(calls) == 2  # venv, pip
    ready = Path(python).parents[1] / ".ready"
    assert ready.read_text().splitlines()[:2] == ["jax==0.4.31", "jaxlib==0.4.31"]
    assert environments.release_environment("0.4.31", log=lambda m: None) == python
    assert len(calls) == 2  # ready: not made again
    ready.unlink()  # an install killed before it finished: made again
    environments.release_environment("0.4.31", log=lambda m: None)
    assert len(calls) == 4


def test_a_release_the_index_lacks_is_one_line_and_leaves_no_ready_environment(fake_installs, tmp_path):
    _, fail = fake_installs
    fail.add("0.0.1")
    with pytest.raises(JaxgradsError) as err:
        environments.release_environment("0.0.1", log=lambda m: None)
    assert str(err.value) == ("jax 0.0.1: cannot make its environment (environment jax-0.0.1: ERROR: No "
                              "matching distribution found for jax==0.0.1)")  # fmt: skip
    assert not (tmp_path / "cache" / "releases" / "jax-0.0.1" / ".ready").exists()


# ---------------------------------------------------------------- rounds and steps (this jax as each release)

TINY = ["--problems", "inner", "--wrt", "x", "--methods", "jacrev", "analytic", "--sizes", "8", *FAST]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """``jaxgrads releases`` on this interpreter's jax (``current``) and the same again, one round:
    two ``jaxgrads run`` children, the folder every test below reads."""
    tmp = tmp_path_factory.mktemp("releases")
    out = tmp / "rel"
    result = jaxgrads("releases", "--releases", "current", "--config", "again=current", "--rounds", "1",
                      "--no-confirm", "-o", str(out), "--markdown", str(tmp / "r.md"), *TINY,
                      env={"JAXGRADS_CACHE": str(tmp / "cache")})  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out, result, tmp


def test_the_command_on_this_interpreters_jax_twice_shows_no_step(measured):
    """``current``: the installed jax as a release, no environment made. The same release twice is
    an A/A: no step, exit 0; the folder holds each configuration's round and pooled run, the steps
    and the table."""
    out, result, tmp = measured
    assert not (tmp / "cache").exists()
    assert [line for line in result.stderr.splitlines() if line.startswith("round")] == [
        "round 1/1: current", "round 1/1: again"]  # fmt: skip
    for name in ("current", "again"):
        assert (out / name / "round1.csv").is_file()
        assert (out / name / "pooled.csv").is_file()
        assert not list((out / name).glob(".*"))  # renamed when whole, no lock left
    found = pd.read_csv(out / "steps.csv", keep_default_na=False)
    assert len(found) == 2  # inner/x: jacrev and the closed form
    assert set(found["before"]) == {"current"}
    assert not (found["step"] == "regression").any()
    table = pd.read_csv(out / "table.csv")
    assert len(table) == 4
    assert table["time_median_s"].gt(0).all()
    assert "| current | again | 2 | 0 |" in (tmp / "r.md").read_text()
    assert "0 regression step(s) over 2 configurations" in result.stderr
    manifest = json.loads((out / "releases.json").read_text())
    assert manifest["sweep"] == TINY


def _fake_rounds(monkeypatch, template: Path):
    """Rounds that copy a whole run instead of measuring one; returns the configurations in the
    order they ran."""
    ran = []

    def fake(side, args, path):
        ran.append(side.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(template, path)
        shutil.copy(samples_path(template), samples_path(path))
        return path

    monkeypatch.setattr(releases, "_round", fake)
    monkeypatch.setattr(processes, "check_side", lambda side: None)
    return ran


def test_rounds_alternate_resume_and_other_options_are_refused(measured, monkeypatch, tmp_path):
    out, _, _ = measured
    ran = _fake_rounds(monkeypatch, out / "current" / "round1.csv")
    configs = [Config("a", "current"), Config("b", "current"), Config("c", "current")]
    m = measure_releases(configs, TINY, tmp_path, rounds=3, log=lambda line: None)
    assert ran == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]  # drift hits every configuration alike
    assert set(pd.read_csv(tmp_path / "b" / "pooled.csv")["samples"]) == {6}  # 3 rounds of 2
    assert dict(m.sides["a"].env)["PYTHONPATH"].split(":")[0] == str(ROOT)  # this tree, any release
    ran.clear()
    log = []
    measure_releases(configs, TINY, tmp_path, rounds=3, log=log.append)
    assert ran == []
    assert sum("kept from an earlier call" in line for line in log) == 9
    with pytest.raises(JaxgradsError, match="holds a releases run with other options or configurations; "
                                            "pass --overwrite"):  # fmt: skip
        measure_releases(configs, [*TINY, "--samples", "3"], tmp_path, rounds=3)
    measure_releases(configs[:2], TINY, tmp_path, rounds=1, overwrite=True, log=log.append)
    assert ran == ["a", "b"]


def test_a_configuration_whose_flags_jax_refuses_is_refused_before_any_round(tmp_path):
    bad = Config("bad", "current", "--xla_no_such_flag_anywhere=true")
    with pytest.raises(JaxgradsError, match="^side bad: .* cannot start jaxgrads and jax"):
        measure_releases([Config("ok", "current"), bad], TINY, tmp_path, rounds=1, log=lambda m: None)
    assert not list(tmp_path.glob("*/round1.csv"))


def _run_with_counts(src: Path, dst: Path, jax_version: str, scale: float) -> gate.Run:
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    df = df.assign(jax_version=jax_version, jaxlib_version=jax_version, instructions=repr(1e6 * scale),
                   noop_instructions="50000.0", instr_calls="5", valgrind_version="3.19.0",
                   isa_class="x86-64-v3 i7")  # fmt: skip
    df.to_csv(dst, index=False)
    Path(str(dst).replace(".csv", ".samples.csv")).write_text(Path(str(src).replace(".csv", ".samples.csv"))
                                                              .read_text())  # fmt: skip
    return gate.load_run(dst, role=dst.stem)


def test_counts_are_compared_across_releases_only_when_asked(measured, tmp_path):
    out, _, _ = measured
    src = out / "current" / "pooled.csv"
    old = _run_with_counts(src, tmp_path / "old.csv", "0.4.30", 1.0)
    new = _run_with_counts(src, tmp_path / "new.csv", "0.4.31", 1.03)
    same = _run_with_counts(src, tmp_path / "same.csv", "0.4.31", 1.0)
    across = gate.compare(old, new, gate.AB_RULE, same_machine=True, across_releases=True)
    assert set(across.table["instructions"]) == {"regression"}
    assert across.exit_code == 1
    assert set(gate.compare(old, same, gate.AB_RULE, same_machine=True, across_releases=True)
               .table["instructions"]) == {"pass"}  # fmt: skip
    within = gate.compare(old, new, gate.AB_RULE, same_machine=True)  # the gate's own: another jax
    assert set(within.table["instructions"]) == {"not comparable"}


# ---------------------------------------------------------------- the CLI's bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--releases", "0.10.2"], "releases compares configurations: give two at least"),
        (["--config", "=1"], "--config '=1': expected RELEASE or NAME=RELEASE[:XLA_FLAGS]"),
        (["--releases", "0.10.2", "0.10.2"],
         "configuration '0.10.2' given twice; name each configuration once"),
        (["--rounds", "0"], "--rounds must be a positive integer, got 0"),
        (["--releases", "0.4.30", "0.5.0", "--report", "x.md"],
         "releases forwards sweep options only; --report is not one"),
    ],
)
def test_bad_input_is_one_line_and_measures_nothing(args, message, tmp_path):
    result = jaxgrads("releases", *args, "-o", str(tmp_path / "out"), *TINY, cwd=tmp_path,
                      env={"JAXGRADS_CACHE": str(tmp_path / "cache")})  # fmt: skip
    assert_one_line_error(result, message)
    assert not (tmp_path / "cache").exists()


def test_an_output_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "f").write_text("")
    result = jaxgrads("releases", "-o", str(tmp_path / "f"), *TINY)
    assert_one_line_error(result, f"--output {tmp_path / 'f'} is a file; give a folder")


# ---------------------------------------------------------------- device counts


def _case(devices: int, platform: str = "cpu"):
    return SimpleNamespace(devices=devices, platform=platform)


def test_a_callgrind_child_starts_with_its_cases_host_devices():
    env = instructions.child_env(_case(2), {"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"})
    assert env["JAX_NUM_CPU_DEVICES"] == "2"
    flags = env["XLA_FLAGS"].split()
    assert flags[0] == "--xla_force_host_platform_device_count=2"
    assert "--xla_cpu_multi_thread_eigen=false" in flags
    assert "JAX_NUM_CPU_DEVICES" not in instructions.child_env(_case(1), {})
    assert "JAX_NUM_CPU_DEVICES" not in instructions.child_env(_case(4, "gpu"), {})


def test_cases_are_dealt_to_children_of_one_device_count_each():
    cases = [_case(1), _case(2), _case(1), _case(2), _case(1)]
    shards = instructions._deal(cases, 2)
    assert sorted(len(s) for s in shards) == [2, 3]
    assert all(len({c.devices for c in s}) == 1 for s in shards)
    assert sum(len(s) for s in instructions._deal(cases, 4)) == 5
    assert len(instructions._deal([_case(1)] * 5, 2)) == 2


class _Device(SimpleNamespace):
    pass


def test_the_planner_counts_the_chosen_platforms_devices(monkeypatch):
    """Four devices on the default backend (say, a GPU's), one CPU device: ``--device cpu`` plans no
    sharded method; two CPU devices and one on the default backend: it does."""
    def devices(backend=None, counts=None):
        return [_Device(platform=backend or "gpu")] * counts[backend or "default"]

    sweep = Sweep(problems=("matvec",), sizes=((4, 4),), device="cpu")
    monkeypatch.setattr(jax, "devices", lambda b=None: devices(b, {"default": 4, "cpu": 1}))
    assert not any(c.method.needs_mesh for c in plan(sweep))
    monkeypatch.setattr(jax, "devices", lambda b=None: devices(b, {"default": 1, "cpu": 2}))
    meshed = [c for c in plan(sweep) if c.method.needs_mesh]
    assert meshed
    assert {c.devices for c in meshed} == {2}


# ---------------------------------------------------------------- your own function under the gate

MODEL = ["--function", "bench/examples/models.py:loss", "--args-from", "bench/examples/models.py:loss_args"]


def _counts(path: Path, scale: float) -> Path:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    counted = pd.to_numeric(df["instructions"], errors="coerce")
    if counted.isna().all():  # no valgrind here: the counts a run would have had
        counted = pd.Series(1e6, index=df.index)
        df = df.assign(noop_instructions="50000.0", instr_calls="5", valgrind_version="3.19.0",
                       isa_class="x86-64-v3 i7")  # fmt: skip
    df["instructions"] = (counted * scale).map(repr)
    df.to_csv(path, index=False)
    return path


def test_your_own_functions_counts_gate_a_change_of_yours(tmp_path):
    base = tmp_path / "baseline.csv"
    result = jaxgrads("run", *MODEL, "--methods", "jacrev", "grad", *FAST, "-o", str(base), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    _counts(base, 1.0)
    cur = tmp_path / "current.csv"
    cur.write_text(base.read_text())
    Path(str(cur).replace(".csv", ".samples.csv")).write_text(Path(str(base).replace(".csv", ".samples.csv"))
                                                              .read_text())  # fmt: skip
    same = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm")
    assert same.returncode == 0, same.stdout
    _counts(cur, 1.03)
    worse = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm", "--markdown",
                     str(tmp_path / "summary.md"))  # fmt: skip
    assert worse.returncode == 1, worse.stdout
    assert "loss-params-jacrev" in worse.stdout
    assert "regression (1.0300)" in worse.stdout
    assert "regression" in (tmp_path / "summary.md").read_text()


@pytest.mark.slow
@needs_valgrind
def test_your_own_function_on_two_host_devices_is_counted_by_the_callgrind_children(tmp_path):
    """The callgrind children register the user's function again, and a sharded row's child starts
    with its case's two host devices: both rows counted (before, the sharded one was left empty)."""
    from jaxgrads.sweep.instructions import MAX_NATIVE_S

    out = tmp_path / "own.csv"
    sweep = (*MODEL, "--methods", "jacrev", "jacrev_sharded", "--devices", "2", *FAST)
    for _ in range(3):  # kernels of ~0.1 ms: a loaded machine can time one over the tier's 1 ms once
        timed = jaxgrads("run", *sweep, "--overwrite", "-o", str(out), cwd=ROOT)
        assert timed.returncode == 0, timed.stderr
        if pd.read_csv(out)["time_median_s"].le(MAX_NATIVE_S).all():
            break
    else:
        pytest.skip(f"the machine is too busy to time these kernels under {MAX_NATIVE_S} s")
    result = jaxgrads("run", *sweep, "--instructions", "--resume", "-o", str(out), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    df = pd.read_csv(out).set_index("method")
    assert df.loc["jacrev_sharded", "devices"] == 2
    assert df["instructions"].notna().all(), result.stderr
    assert (df["instructions"] > df["noop_instructions"]).all()
    assert math.isfinite(df.loc["jacrev_sharded", "instructions"])


# ---------------------------------------------------------------- the site's page


def test_the_site_gets_a_releases_page(measured, tmp_path):
    out, _, _ = measured
    src = out / "current" / "round1.csv"
    result = jaxgrads("site", str(src), "--releases", str(out), "-o", str(tmp_path / "site"))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "site" / "releases.html").read_text()
    assert "2 kernels under 2 configurations" in page
    assert "<svg" in page
    assert 'href="releases.html"' in (tmp_path / "site" / "index.html").read_text()
    empty = jaxgrads("site", str(src), "--releases", str(tmp_path), "-o", str(tmp_path / "site2"))
    assert_one_line_error(empty, f"--releases {tmp_path}: no table.csv and steps.csv")
