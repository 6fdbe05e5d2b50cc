"""The regression gate: the decision rule on synthetic samples, and `jaxgrads gate/ab/baseline` as run."""

import math
import shutil

import numpy as np
import pandas as pd
import pytest
from clitools import FAST, assert_one_line_error, jaxgrads
from machines import another_cpu_model

from jaxgrads import gate
from jaxgrads.errors import JaxgradsError
from jaxgrads.results.schema import samples_path
from jaxgrads.sweep.options import rerun_args
from jaxgrads.sweep.processes import pool_csvs

RULE = gate.Rule(threshold=0.10, alpha=0.01, max_cv=0.25)
rng = np.random.default_rng(0)


def noisy(center, n=9, spread=0.01):
    return center * (1 + spread * rng.standard_normal(n))


# ---------------------------------------------------------------- the decision rule


def test_a_clear_regression_trips():
    v = gate.judge(noisy(1e-3), noisy(1.3e-3), RULE)
    assert v.verdict == "suspect"
    assert v.ratio == pytest.approx(1.3, rel=0.05)
    assert v.p < 1e-3


def test_identical_distributions_pass():
    same = noisy(1e-3)
    v = gate.judge(same, same, RULE)
    assert v.verdict == "pass"
    assert v.ratio == 1.0
    assert v.p > 0.4


def test_a_small_shift_under_the_threshold_passes_however_significant():
    v = gate.judge(noisy(1e-3, spread=0.001), noisy(1.05e-3, spread=0.001), RULE)
    assert v.p < 1e-3
    assert v.verdict == "pass"


def test_a_large_ratio_without_significance_does_not_trip():
    # two samples a side: the rank test cannot reach p < 0.01 whatever the ratio
    v = gate.judge([1e-3, 1.1e-3], [2e-3, 2.2e-3], RULE)
    assert v.ratio > 1.5
    assert v.p > RULE.alpha
    assert v.verdict == "pass"


def test_a_noisy_baseline_is_inconclusive():
    v = gate.judge(noisy(1e-3, spread=0.5), noisy(2e-3), RULE)
    assert v.cv > RULE.max_cv
    assert v.verdict == "inconclusive"


def test_kernels_near_the_dispatch_floor_are_not_gated():
    v = gate.judge(noisy(20e-6), noisy(40e-6), RULE, floor=5e-6)
    assert v.verdict == "floor"
    assert v.ratio == pytest.approx(2, rel=0.05)


def test_a_clear_speedup_is_faster():
    assert gate.judge(noisy(1e-3), noisy(0.5e-3), RULE).verdict == "faster"


@pytest.mark.parametrize(("text", "value"), [("10%", 0.1), ("0.1", 0.1), (" 5% ", 0.05), ("1e-2", 0.01)])
def test_fractions_parse(text, value):
    assert gate.parse_fraction("--threshold", text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "-5%", "0", "%", "nan", "inf"])
def test_bad_fractions_are_one_line_errors(text):
    with pytest.raises(JaxgradsError, match=r"--threshold must be a positive fraction like 10% or 0\.1"):
        gate.parse_fraction("--threshold", text)


def test_fingerprint_slug_is_a_file_name():
    fp = dict(cpu_model="Example CPU 7B13 64-Core Processor", cpu_count="2", cpus_used="2", backend="cpu",
              device_kind="cpu", jax_version="0.10.2", jaxlib_version="0.10.2")  # fmt: skip
    assert gate.fingerprint_slug(fp) == "cpu-example-cpu-7b13-64-core-processor-2cpu-jax0.10.2-jaxlib0.10.2"
    pinned = gate.fingerprint_slug(fp | {"cpus_used": "1"})
    assert pinned == "cpu-example-cpu-7b13-64-core-processor-2cpu-pinned1-jax0.10.2-jaxlib0.10.2"
    gpu = fp | {"backend": "gpu", "device_kind": "NVIDIA H200"}
    assert gate.fingerprint_slug(gpu).startswith("gpu-nvidia-h200-example-cpu")


# ---------------------------------------------------------------- runs on disk

SWEEP = ("--problems", "quadratic", "--wrt", "x", "--methods", "jacrev", "analytic", "--sizes", "96", "160")


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """One small real run (4 kernels); tests copy and doctor it.

    Its samples are replaced by five at its median ±0.8%, so the verdicts do not hang on how noisy
    the machine was while the tests ran; the confirmation run still measures for real.
    """
    out = tmp_path_factory.mktemp("gate") / "run.csv"
    result = jaxgrads("run", *SWEEP, *FAST, "--samples", "5", "-o", str(out))
    assert result.returncode == 0, result.stderr
    raw = pd.read_csv(samples_path(out), dtype=str, keep_default_na=False)
    medians = raw.groupby(["method", "n"])["time_s"].transform(lambda t: np.median(t.astype(float)))
    raw["time_s"] = (medians * (1 + 0.004 * (raw["sample"].astype(int) - 2))).map(repr)
    raw.to_csv(samples_path(out), index=False)
    return out


def copy_run(src, dst, *, scale=1.0, rows=None, samples=None):
    """A copy of a run with every time scaled by ``scale``; ``rows``/``samples`` edit the frames."""
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    raw = pd.read_csv(samples_path(src), dtype=str, keep_default_na=False)
    raw["time_s"] = (raw["time_s"].astype(float) * scale).map(repr)
    for col in ("time_median_s", "time_min_s"):
        df[col] = (df[col].astype(float) * scale).map(repr)
    df = rows(df) if rows else df
    raw = samples(raw) if samples else raw
    df.to_csv(dst, index=False)
    raw.to_csv(samples_path(dst), index=False)
    return dst


def floorless(df):
    """Dispatch floor 0: every kernel gated, however fast (the test kernels are tens of µs)."""
    return df.assign(dispatch_floor_s="0")


def test_the_same_run_against_itself_passes(real_run, tmp_path):
    base = copy_run(real_run, tmp_path / "base.csv", rows=floorless)
    cur = copy_run(real_run, tmp_path / "cur.csv", rows=floorless)
    md = tmp_path / "gate.md"
    result = jaxgrads("gate", str(cur), "--baseline", str(base), "--markdown", str(md))
    assert result.returncode == 0, result.stderr
    assert "gate PASS: 4 kernels compared (4 pass)" in result.stdout
    assert "quadratic-x-jacrev-96-float32" in result.stdout
    assert md.read_text().startswith("## gate PASS")
    assert "| kernel | baseline | current | ratio | p | verdict |" in md.read_text()


@pytest.mark.slow
def test_a_slower_run_fails_after_its_confirmation_run(real_run, tmp_path):
    # the baseline claims every kernel ran 100x faster: the current run trips, and so does the
    # confirmation run, which really measures the kernels again in a fresh process
    base = copy_run(real_run, tmp_path / "base.csv", scale=1 / 100, rows=floorless)
    cur = copy_run(real_run, tmp_path / "cur.csv", rows=floorless)
    result = jaxgrads("gate", str(cur), "--baseline", str(base))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "confirming 4 tripped kernel(s) in a fresh process" in result.stderr
    lines = result.stdout.splitlines()
    assert all(" regression " in line and "(again " in line for line in lines[2:6]), result.stdout
    assert "gate FAIL: 4 kernels compared (4 regression)" in result.stdout


def test_without_confirmation_a_tripped_kernel_is_suspect_and_passes(real_run, tmp_path):
    base = copy_run(real_run, tmp_path / "base.csv", scale=1 / 100, rows=floorless)
    cur = copy_run(real_run, tmp_path / "cur.csv", rows=floorless)
    result = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm")
    assert result.returncode == 0
    assert "(4 suspect)" in result.stdout


def test_more_xla_flops_fail_with_no_timing_noise(real_run, tmp_path):
    more = lambda df: floorless(df).assign(flops=(df["flops"].astype(float) * 1.02).map(repr))  # noqa: E731
    base = copy_run(real_run, tmp_path / "base.csv", rows=floorless)
    cur = copy_run(real_run, tmp_path / "cur.csv", rows=more)
    result = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm")
    assert result.returncode == 1
    assert "regression (flops +2.0%)" in result.stdout
    # within the tolerance it passes
    ok = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm", "--metric-tolerance", "3%")
    assert ok.returncode == 0


def test_another_jax_version_makes_metrics_not_comparable(real_run, tmp_path):
    other = lambda df: floorless(df).assign(jax_version="9.9.9", flops="1e12")  # noqa: E731
    base = copy_run(real_run, tmp_path / "base.csv", rows=floorless)
    cur = copy_run(real_run, tmp_path / "cur.csv", rows=other)
    result = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm")
    assert result.returncode == 0
    assert "not comparable" in result.stdout
    assert "note: XLA metrics not comparable: jax" in result.stdout
    # the fingerprint differs too: timings inconclusive, which fails only with --strict
    assert "timings inconclusive: the machine fingerprint differs (jax_version" in result.stdout
    strict = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm", "--strict")
    assert strict.returncode == 1


def test_the_default_baseline_is_the_machines(real_run, tmp_path):
    cur = copy_run(real_run, tmp_path / "cur.csv", rows=floorless)
    slug = gate.fingerprint_slug(gate.fingerprint(gate.load_run(cur, role="current")))
    (tmp_path / "bl").mkdir()
    copy_run(real_run, tmp_path / "bl" / f"{slug}.csv", rows=floorless)
    result = jaxgrads("gate", str(cur), "--baselines-dir", str(tmp_path / "bl"))
    assert result.returncode == 0, result.stderr
    assert "closest" not in result.stdout


# ---------------------------------------------------------------- any machine; nothing silently passed


def on_another_machine(df):
    """The rows as if measured on another machine: a CPU model made from the run's own, so it can be
    no machine's the suite runs on (a real model name is this machine on a machine of that model)."""
    return floorless(df).assign(cpu_model=another_cpu_model(df))


def test_with_no_baseline_at_all_the_gate_says_so_and_passes(real_run, tmp_path):
    cur = copy_run(real_run, tmp_path / "cur.csv", rows=floorless)
    md = tmp_path / "gate.md"
    result = jaxgrads("gate", str(cur), "--baselines-dir", str(tmp_path / "none"), "--markdown", str(md))
    assert result.returncode == 0, result.stderr
    assert "gate PASS: nothing compared: no baseline of backend 'cpu'" in result.stdout
    assert "make baseline" in result.stdout
    assert md.read_text().startswith("## gate PASS: nothing compared")
    strict = jaxgrads("gate", str(cur), "--baselines-dir", str(tmp_path / "none"), "--strict")
    assert strict.returncode == 1
    assert "gate FAIL: nothing compared" in strict.stdout


def test_an_unknown_machine_is_gated_against_the_closest_baseline(real_run, tmp_path):
    (tmp_path / "bl").mkdir()
    slug = gate.fingerprint_slug(gate.fingerprint(gate.load_run(real_run, role="baseline")))
    copy_run(real_run, tmp_path / "bl" / f"{slug}.csv", rows=floorless)
    copy_run(real_run, tmp_path / "bl" / "cpu-old-jax.csv", rows=lambda d: on_another_machine(d).assign(
        jax_version="0.1.0"))  # fmt: skip
    copy_run(real_run, tmp_path / "bl" / "gpu.csv", rows=lambda d: floorless(d).assign(backend="gpu"))
    cur = copy_run(real_run, tmp_path / "cur.csv", scale=3.0, rows=on_another_machine)
    result = jaxgrads("gate", str(cur), "--baselines-dir", str(tmp_path / "bl"), "--no-confirm")
    assert result.returncode == 0, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    own = gate.fingerprint_slug(gate.fingerprint(gate.load_run(cur, role="current")))
    assert own != slug
    assert first.startswith(f"gate: no baseline for this machine ({own}.csv)")
    assert f"comparing with the closest, {tmp_path / 'bl' / slug}.csv (differs in cpu_model)" in first
    assert "timings inconclusive, XLA metrics, instruction counts and failed kernels gated" in first
    assert "gate PASS: 4 kernels compared (4 inconclusive)" in result.stdout
    # what is comparable still fails: more XLA flops on the unknown machine
    more = lambda df: on_another_machine(df).assign(flops=(df["flops"].astype(float) * 1.5).map(repr))  # noqa: E731
    worse = copy_run(real_run, tmp_path / "worse.csv", rows=more)
    failed = jaxgrads("gate", str(worse), "--baselines-dir", str(tmp_path / "bl"), "--no-confirm")
    assert failed.returncode == 1
    assert "regression (flops +50.0%)" in failed.stdout


def _broken(df, **columns):
    """The row of quadratic-x-jacrev-96 with ``columns`` changed."""
    hit = (df["method"] == "jacrev") & (df["n"] == "96")
    for k, v in columns.items():
        df.loc[hit, k] = v
    return floorless(df)


BROKEN_NOW = {
    "an error row": (lambda d: _broken(d, status="error", message="XlaRuntimeError: boom"), None,
                     "error: XlaRuntimeError: boom"),
    "a NaN time": (lambda d: _broken(d, time_median_s="nan"), None, "no finite time"),
    "no samples": (floorless, lambda r: r[~((r["method"] == "jacrev") & (r["n"] == "96"))], "no samples"),
    "missing": (lambda d: floorless(d[~((d["method"] == "jacrev") & (d["n"] == "96"))]), None,
                "missing from the current run"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BROKEN_NOW))
def test_a_kernel_that_broke_is_a_regression_even_on_another_machine(real_run, tmp_path, case):
    rows, samples, why = BROKEN_NOW[case]
    base = copy_run(real_run, tmp_path / "base.csv", rows=floorless)
    cur = copy_run(real_run, tmp_path / "cur.csv", rows=rows, samples=samples)
    result = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm")
    assert result.returncode == 1, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("quadratic-x-jacrev-96-float32"))
    assert " regression " in line
    assert why in line
    assert "gate FAIL: 4 kernels compared (1 regression, 3 pass)" in result.stdout
    other = copy_run(cur, tmp_path / "other.csv", rows=lambda d: d.assign(cpu_model=another_cpu_model(d)))
    again = jaxgrads("gate", str(other), "--baseline", str(base), "--no-confirm")
    assert again.returncode == 1
    assert "(1 regression, 3 inconclusive)" in again.stdout


def test_every_kernel_failing_now_is_a_regression_not_bad_input(real_run, tmp_path):
    base = copy_run(real_run, tmp_path / "base.csv", rows=floorless)
    cur = copy_run(real_run, tmp_path / "cur.csv", rows=lambda d: floorless(d).assign(
        status="error", message="RuntimeError: gone"))  # fmt: skip
    result = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm")
    assert result.returncode == 1, result.stderr
    assert "(4 regression)" in result.stdout


def test_a_kernel_skipped_now_is_inconclusive_and_a_new_one_is_listed(real_run, tmp_path):
    base = copy_run(real_run, tmp_path / "base.csv", rows=lambda d: floorless(d[d["method"] != "analytic"]))
    skipped = lambda d: _broken(d, status="skipped", message="needs ~9 MiB, over the 1 MiB budget")  # noqa: E731
    cur = copy_run(real_run, tmp_path / "cur.csv", rows=skipped)
    result = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(1 inconclusive, 1 pass, 2 new)" in result.stdout
    assert "skipped: needs ~9 MiB" in result.stdout
    assert jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm", "--strict").returncode == 1


def truncate(path):
    text = path.read_text()
    path.write_text(text[: len(text) * 2 // 3])


BAD_BASELINES = {
    "missing": (lambda p: p.unlink(), "no such file"),
    "empty": (lambda p: p.write_text(""), "empty file"),
    "truncated": (truncate, "(truncated file?)"),
    "missing columns": (lambda p: p.write_text("problem,wrt\nx,y\n"), "missing columns"),
    "another backend": (lambda p: _edit(p, backend="gpu"), "is from backend 'gpu'"),
    "no overlap": (lambda p: _edit(p, problem="inner"), "no kernel of"),
    "duplicate rows": (lambda p: _dup(p), "duplicate rows for quadratic-x-analytic-96-float32"),
    "no samples file": (lambda p: samples_path(p).unlink(), "no samples file"),
    "no timed rows": (lambda p: _edit(p, status="skipped"), "no timed rows"),
}


def _edit(path, **columns):
    """Sets columns of a run, in its samples file too where they are part of the key."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.assign(**columns).to_csv(path, index=False)
    raw = pd.read_csv(samples_path(path), dtype=str, keep_default_na=False)
    raw.assign(**{k: v for k, v in columns.items() if k in raw.columns}).to_csv(
        samples_path(path), index=False
    )


def _dup(path):
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.concat([df, df.iloc[:1]]).to_csv(path, index=False)


@pytest.mark.parametrize("case", list(BAD_BASELINES))
def test_bad_baselines_are_one_line_errors_and_write_nothing(real_run, tmp_path, case):
    spoil, message = BAD_BASELINES[case]
    cur = copy_run(real_run, tmp_path / "cur.csv")
    base = copy_run(real_run, tmp_path / "base.csv")
    spoil(base)
    md = tmp_path / "gate.md"
    md.write_text("earlier summary\n")
    result = jaxgrads("gate", str(cur), "--baseline", str(base), "--markdown", str(md))
    assert_one_line_error(result, message)
    assert md.read_text() == "earlier summary\n"


@pytest.mark.parametrize(
    ("option", "value"),
    [("--threshold", "abc"), ("--threshold", "-5%"), ("--alpha", "0"), ("--max-cv", "x")],
)
def test_bad_rule_options_are_one_line_errors(real_run, tmp_path, option, value):
    cur = copy_run(real_run, tmp_path / "cur.csv")
    result = jaxgrads("gate", str(cur), "--baseline", str(cur), f"{option}={value}")
    assert_one_line_error(result, f"{option} must be a positive fraction like 10% or 0.1, got '{value}'")


@pytest.mark.parametrize("value", ["2", "1", "100%"])
def test_alpha_is_a_probability(real_run, tmp_path, value):
    cur = copy_run(real_run, tmp_path / "cur.csv")
    result = jaxgrads("gate", str(cur), "--baseline", str(cur), f"--alpha={value}")
    assert_one_line_error(result, f"--alpha must be below 1 (a probability like 0.01), got '{value}'")


def test_pooled_rounds_keep_every_sample_and_their_median(real_run, tmp_path):
    a = copy_run(real_run, tmp_path / "a.csv")
    b = copy_run(real_run, tmp_path / "b.csv", scale=2.0)
    pooled = pool_csvs([a, b], tmp_path / "pooled.csv")
    run = gate.load_run(pooled, role="baseline")
    key = next(iter(run.samples))
    assert len(run.samples[key]) == 10
    assert run.rows.loc[key, "time_median_s"] == pytest.approx(np.median(run.samples[key]))
    assert int(run.rows.loc[key, "samples"]) == 10
    floors = [float(pd.read_csv(p)["dispatch_floor_s"].iloc[0]) for p in (a, b)]
    assert float(run.value("dispatch_floor_s")) == pytest.approx(np.median(floors))


def test_rerun_args_cover_the_rows(real_run):
    run = gate.load_run(real_run, role="current")
    args = rerun_args(run.rows)
    assert args[:6] == ["--problems", "quadratic", "--wrt", "x", "--methods", "analytic"]
    assert "--sizes" in args
    assert args[args.index("--sizes") + 1 : args.index("--sizes") + 3] == ["160x160", "96x96"]


# ---------------------------------------------------------------- A/B and baseline commands


@pytest.mark.slow
def test_ab_of_an_interpreter_against_itself_passes(tmp_path):
    import sys

    out = tmp_path / "ab"
    result = jaxgrads(
        "ab", "--a", sys.executable, "--b", sys.executable, "--rounds", "2", "-o", str(out),
        "--problems", "matvec", "--wrt", "x", "--methods", "analytic", "--sizes", "32", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [line.split(":")[0] for line in result.stderr.splitlines()[:4]] == ["round 1/2"] * 2 + [
        "round 2/2"
    ] * 2
    assert sorted(p.name for p in out.glob("*[0-9].csv")) == ["a1.csv", "a2.csv", "b1.csv", "b2.csv"]
    assert "matvec-x-analytic-32-float32" in result.stdout
    again = jaxgrads(
        "ab", "--a", sys.executable, "--b", sys.executable, "-o", str(out), "--sizes", "8"
    )
    assert_one_line_error(again, "holds an earlier A/B", "--overwrite")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--problems", "nope"), "unknown problem 'nope'"),
        (("--sizes", "0"), "size"),
        (("--report", "x.md"), "ab forwards sweep options only; --report is not one"),
        (("--threshold=-5%",), "--threshold must be a positive fraction"),
        (("--problems-from", "x.py"), "--a-problems-from"),
        (("--rounds", "0"), "--rounds"),
        (("--threshold", "-5%"), "argument --threshold: expected one argument"),  # argparse's reading
    ],
)
def test_ab_bad_input_is_refused_before_any_child_runs(tmp_path, args, message):
    import sys

    out = tmp_path / "ab"
    result = jaxgrads("ab", "--a", sys.executable, "--b", sys.executable, "-o", str(out), *args)
    assert_one_line_error(result, message)
    assert not list(out.glob("*.csv")) if out.exists() else True


def test_ab_side_that_fails_is_named(tmp_path):
    result = jaxgrads(
        "ab", "--a", str(tmp_path / "no-python"), "--b", shutil.which("python3") or "python3",
        "-o", str(tmp_path / "ab"), "--sizes", "8",
    )  # fmt: skip
    assert_one_line_error(result, "side A", "no-python")


@pytest.mark.slow
def test_baseline_pools_rounds_under_the_machines_name(tmp_path):
    result = jaxgrads(
        "baseline", "--dir", str(tmp_path), "--rounds", "2",
        "--problems", "inner", "--wrt", "x", "--methods", "analytic", "--sizes", "16", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (csv,) = [p for p in tmp_path.glob("*.csv") if not p.name.endswith(".samples.csv")]
    run = gate.load_run(csv, role="baseline")
    assert csv.stem == gate.fingerprint_slug(gate.fingerprint(run))
    assert [len(s) for s in run.samples.values()] == [4]  # 2 rounds x 2 samples
    again = jaxgrads("baseline", "--dir", str(tmp_path), "--sizes", "16")
    assert_one_line_error(again, "exists", "--overwrite")
    assert math.isfinite(float(run.rows["time_median_s"].iloc[0]))


def test_a_machine_in_another_state_makes_timings_inconclusive(real_run, tmp_path):
    # the same fingerprint, but the dispatch floor took twice as long: a slower machine, not slower code.
    # Both floors are set from the run's slowest kernel, so that every kernel sits under 10 floors
    # whatever this machine's speed (measured floors left a kernel above it on a slow VM)
    floor = float(pd.read_csv(real_run)["time_median_s"].max()) / 5
    base = copy_run(real_run, tmp_path / "base.csv", scale=1 / 100,
                    rows=lambda df: df.assign(dispatch_floor_s=repr(floor)))  # fmt: skip
    cur = copy_run(real_run, tmp_path / "cur.csv",
                   rows=lambda df: df.assign(dispatch_floor_s=repr(2 * floor)))  # fmt: skip
    result = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm")
    assert result.returncode == 0, result.stdout
    assert (
        "timings inconclusive: the machine is not in the baseline's state (time of dispatch floor 2.00×"
        in result.stdout
    )
    assert "(4 inconclusive)" in result.stdout
    assert jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm", "--strict").returncode == 1
    # within --max-drift the timings are judged again (here: these small kernels sit near the floor)
    judged = jaxgrads("gate", str(cur), "--baseline", str(base), "--no-confirm", "--max-drift", "150%")
    assert "not in the baseline's state" not in judged.stdout
    assert "(4 floor)" in judged.stdout
