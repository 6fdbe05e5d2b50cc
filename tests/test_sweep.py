"""The sweep runner: plan, CSV schema, samples, budget, errors, resume, saved arrays, report."""

import csv
import dataclasses

import numpy as np
import pandas as pd
import pytest

import jaxgrads as jg
from jaxgrads import sweep as runner
from jaxgrads.report.markdown import markdown_report
from jaxgrads.results.schema import FIELDS, SAMPLE_FIELDS, read_results, samples_path

FAST = dict(samples=3, min_sample_s=0.001, device="cpu")


def small(**kwargs):
    return runner.Sweep(**(FAST | kwargs))


def test_plan_collapses_sizes_a_problem_does_not_use():
    cases = runner.plan(small(problems=("inner",), methods=("jacrev",), sizes=((64, 64), (256, 64))))
    assert [c.id for c in cases] == ["inner-x-jacrev-64-float32", "inner-v-jacrev-64-float32"]


def test_plan_keeps_only_applicable_methods():
    cases = runner.plan(small(problems=("matvec",), wrt=("x",), methods=("grad", "jacfwd")))
    assert {c.method.name for c in cases} == {"jacfwd"}


def test_plan_puts_the_closed_form_first_and_keeps_the_rest_in_order():
    cases = runner.plan(small(problems=("matvec",), wrt=("x",), methods=("jacrev", "jacfwd", "analytic"),
                              sizes=((32, 32),)))
    assert [c.method.name for c in cases] == ["analytic", "jacrev", "jacfwd"]


def test_the_closed_forms_own_result_is_the_same_dtype_reference(tmp_path, monkeypatch):
    """With the closed form in the sweep, its kernel's result is the case's same-dtype reference: no
    second compile of it, its own err_closed_form exactly 0, and the other methods measured
    against it; without it, the reference compiles the closed form itself."""
    from jaxgrads.measure import accuracy

    real, built = accuracy.compile_case, []

    def counting(case, *args, **kwargs):
        built.append(case.method.name)  # the reference, decided from the case
        return real(case, *args, **kwargs)

    monkeypatch.setattr(accuracy, "compile_case", counting)
    sweep = small(problems=("matvec",), wrt=("x",), methods=("jacrev", "analytic"), sizes=((32, 32),))
    rows = read_results(runner.run_sweep(sweep, tmp_path / "with.csv")).set_index("method")
    assert built == []
    assert rows.loc["analytic", "err_closed_form"] == 0.0
    assert np.isfinite(rows.loc["jacrev", "err_closed_form"])
    runner.run_sweep(dataclasses.replace(sweep, methods=("jacrev",)), tmp_path / "without.csv")
    assert built == ["analytic"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"problems": ("nope",)}, "unknown problem 'nope'"),
        ({"wrt": ("q",)}, r"unknown wrt \(for the chosen problems\) 'q'"),
        ({"methods": ("jacmid",)}, "unknown method 'jacmid'"),
        ({"problems": ("matvec",), "methods": ("grad",)}, "the sweep is empty"),
    ],
)
def test_plan_rejects_bad_names(kwargs, message):
    with pytest.raises(jg.JaxgradsError, match=message):
        runner.plan(small(**kwargs))


def run(tmp_path, name="run.csv", **kwargs):
    out = tmp_path / name
    runner.run_sweep(small(**kwargs), out)
    return out


def test_rows_follow_the_schema_and_samples_sit_beside_them(tmp_path):
    out = run(tmp_path, problems=("quadratic",), wrt=("x",), methods=("jacrev", "analytic"), sizes=((8, 8),))
    with open(out) as f:
        assert tuple(next(csv.reader(f))) == FIELDS
    df = read_results(out)
    assert list(df["method"]) == ["analytic", "jacrev"]  # the closed form first (its result the reference)
    assert (df["status"] == "ok").all()
    assert df["ok"].all()
    assert (df["time_median_s"] > 0).all()
    assert (df["flops"] > 0).all()
    assert df["jac_shape"].tolist() == ["8", "8"]
    assert df["jac_bytes"].tolist() == [32, 32]
    assert df["run_id"].nunique() == 1
    assert (df["dispatch_floor_s"] > 0).all()
    samples = pd.read_csv(samples_path(out))
    assert tuple(samples.columns) == SAMPLE_FIELDS
    assert samples.groupby("method").size().to_dict() == {"analytic": 3, "jacrev": 3}
    medians = samples.groupby("method")["time_s"].median()
    assert medians["jacrev"] == pytest.approx(df.set_index("method").loc["jacrev", "time_median_s"])


def test_rows_over_the_memory_budget_are_skipped_with_a_reason(tmp_path):
    out = run(
        tmp_path,
        problems=("matvec",),
        wrt=("A",),
        methods=("jacfwd", "map_vjp"),
        sizes=((64, 64),),
        memory_budget=20 * 2**20,
    )
    df = read_results(out).set_index("method")
    # jacfwd materializes a (64*64)^2 identity basis: 64 MiB in float32
    assert df.loc["jacfwd", "status"] == "skipped"
    assert "over the 20 MiB budget" in df.loc["jacfwd", "message"]
    assert df.loc["map_vjp", "status"] == "ok"


@pytest.fixture
def failing_problem():
    def explode(xp, x):
        raise FloatingPointError("boom at trace time")

    jg.register(
        jg.Problem(
            name="explodes",
            fn=explode,
            args=("x",),
            make_inputs=jg.gaussian_inputs(lambda s: {"x": (s.n,)}),
            derivatives=(jg.Derivative("x", lambda xp, x: x),),
            dims=("n",),
            scalar_output=False,
        )
    )
    yield "explodes"
    jg.unregister("explodes")


def test_a_failing_case_is_an_error_row_and_the_sweep_goes_on(tmp_path, failing_problem):
    out = run(tmp_path, problems=(failing_problem, "inner"), wrt=("x",), methods=("jacrev",), sizes=((4, 4),))
    df = read_results(out).set_index("problem")
    assert df.loc["explodes", "status"] == "error"
    assert "FloatingPointError: boom at trace time" in df.loc["explodes", "message"]
    assert df.loc["inner", "status"] == "ok"


@pytest.mark.slow
def test_interrupted_sweep_resumes_without_duplicates_or_losses(tmp_path):
    sweep = small(
        problems=("quadratic",),
        wrt=("x",),
        methods=("jacfwd", "jacrev", "grad", "analytic"),
        sizes=((4, 4), (6, 6)),
    )
    out = tmp_path / "run.csv"
    seen = []

    def interrupt(row):
        seen.append(row)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run_sweep(sweep, out, on_row=interrupt)
    assert len(read_results(out)) == 3  # every finished row flushed
    with pytest.raises(jg.JaxgradsError, match="exists; pass --resume"):
        runner.run_sweep(sweep, out)
    runner.run_sweep(sweep, out, resume=True)
    df = read_results(out)
    assert len(df) == 8
    assert not df.duplicated(["method", "n"]).any()
    assert df["run_id"].nunique() == 1
    samples = pd.read_csv(samples_path(out))
    assert len(samples) == 8 * 3


def test_saved_arrays_check_independently(tmp_path):
    arrays = tmp_path / "arrays"
    run(
        tmp_path, problems=("bilinear",), wrt=("A",), methods=("jacrev",), sizes=((3, 5),), save_arrays=arrays
    )
    saved = np.load(arrays / "bilinear-A-jacrev-3x5-float32.npz")
    assert set(saved.files) == {"y", "A", "x", "jacobian", "dtype"}
    assert str(saved["dtype"]) == "float32"
    np.testing.assert_allclose(saved["jacobian"], np.outer(saved["y"], saved["x"]), rtol=1e-6)


def test_user_problem_without_closed_form_is_checked_against_jacrev(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("user_problems", "bench/examples/user_problems.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    try:
        out = run(tmp_path, problems=("softplus_layer",), methods=("jacfwd", "analytic"), sizes=((6, 4),))
        df = read_results(out).set_index(["wrt", "method"])
        assert df.loc[("x", "analytic"), "ok"]
        assert df.loc[("A", "jacfwd"), "ok"]
        assert df.loc[("A", "jacfwd"), "err_f64"] < 1e-6
        assert ("A", "analytic") not in df.index  # no closed form: analytic does not apply
    finally:
        jg.unregister("softplus_layer")


def test_report_tables(tmp_path):
    out = run(
        tmp_path,
        problems=("quadratic",),
        wrt=("x",),
        methods=("jacrev", "analytic", "analytic_textbook"),
        sizes=((8, 8), (16, 16)),
    )
    text = markdown_report(read_results(out))
    assert "## quadratic / x" in text
    assert "| size | analytic | jacrev | analytic_textbook |" in text  # the closed form first, as run
    assert text.count("**") >= 4  # one fastest per size row, twice per bold
    assert "dispatch floor" in text


def test_methods_past_max_steps_are_skipped(tmp_path):
    out = run(tmp_path, problems=("matvec",), wrt=("x",), methods=("map_vjp", "jacrev"), sizes=((40, 8),),
              max_steps=32)  # fmt: skip
    df = read_results(out).set_index("method")
    assert df.loc["map_vjp", "status"] == "skipped"
    assert "40 sequential steps, over the --max-steps limit of 32" in df.loc["map_vjp", "message"]
    assert df.loc["jacrev", "status"] == "ok"


def test_memory_estimate_counts_the_basis():
    (jacfwd,) = runner.plan(small(problems=("matvec",), wrt=("A",), methods=("jacfwd",), sizes=((8, 4),)))
    (map_vjp,) = runner.plan(small(problems=("matvec",), wrt=("A",), methods=("map_vjp",), sizes=((8, 4),)))
    need_fwd, shape, steps = jacfwd.memory, jacfwd.jac_shape, jacfwd.steps
    need_map, map_steps = map_vjp.memory, map_vjp.steps
    assert shape == (8, 8, 4)
    assert steps == 1
    assert map_steps == 8
    assert need_fwd - need_map == 4 * 32 * 32  # the (m n) x (m n) identity basis in float32


class _Tty:
    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_bar_on_a_terminal_only():
    from jaxgrads.sweep.progress import Progress

    tty = _Tty()
    bar = Progress(4, stream=tty)
    bar.update("quadratic-x-jacrev-64-float32")
    bar.advance()
    bar.update("quadratic-x-jacfwd-64-float32")
    assert "0/4 ETA ?  quadratic-x-jacrev-64-float32" in tty.text
    assert "1/4 ETA " in tty.text
    bar.close()
    pipe = _Tty()
    pipe.isatty = lambda: False
    quiet = Progress(4, stream=pipe)
    quiet.update("x")
    quiet.close()
    assert pipe.text == ""


def test_plan_runs_torch_only_when_named_and_dedupes_clamped_chunks():
    default = runner.plan(small(problems=("matvec",), wrt=("x",), sizes=((4, 4),)))
    # JAX's methods and the closed form in NumPy beside them (no extra needed); torch only when named
    assert {c.method.backend for c in default} == {"jax", "numpy"}
    assert [c.method.name for c in default if c.method.backend == "numpy"] == ["numpy_analytic"]
    chunked = [c for c in default if c.method.name == "jacrev_chunked"]
    assert [c.chunk_size for c in chunked] == [4]  # default 64 clamped to the 4 outputs
    cases = runner.plan(small(problems=("matvec",), wrt=("x",), methods=("jacrev_chunked",),
                              sizes=((16, 4),), chunk_sizes=(2, 8, 64, 1000)))  # fmt: skip
    assert [c.chunk_size for c in cases] == [2, 8, 16]


def test_peer_table_and_memory_frontier(tmp_path):
    pytest.importorskip("torch", reason="the torch_* methods need the [torch] extra")
    out = run(tmp_path, problems=("matvec",), wrt=("A",), sizes=((6, 4),), chunk_sizes=(2, 6),
              methods=("jacrev", "jacrev_chunked", "torch_jacrev", "torch_loop", "analytic"))  # fmt: skip
    df = read_results(out)
    assert set(df["chunk_size"]) == {0, 2, 6}
    torch_rows = df[df["method"].str.startswith("torch_")]
    assert (torch_rows["compile_kind"] == "first_call").all()
    assert torch_rows["ok"].all()
    text = markdown_report(df)
    assert "## JAX vs PyTorch" in text
    assert "| matvec | A | 6x4 float32 |" in text
    assert "## Memory frontier" in text
    assert "jacrev_chunked·c2" in text
    # the reach table is in the findings, once
    assert text.count("Largest Jacobian each method produced within the memory budget") == 1
    assert "is the reach table under Findings" in text


def test_a_case_whose_first_call_is_too_slow_is_skipped(tmp_path):
    out = run(
        tmp_path, problems=("quadratic",), wrt=("x",), methods=("jacrev",), sizes=((8, 8),), max_call_s=1e-9
    )
    (row,) = read_results(out).to_dict("records")
    assert row["status"] == "skipped"
    assert "over the --max-call-time limit of 1e-09 s" in row["message"]
    assert row["compile_s"] > 0


def test_each_sweep_option_is_declared_once_for_the_cli_the_suite_and_child_runs():
    from jaxgrads.cli.main import make_parser
    from jaxgrads.sweep.options import SWEEP_OPTIONS, add_sweep_options, rerun_args, sweep_from

    run_flags = {a.dest for a in make_parser()._subparsers._group_actions[0].choices["run"]._actions}
    assert {o.name for o in SWEEP_OPTIONS} <= run_flags
    suite = []
    add_sweep_options(lambda flag, **kw: suite.append((flag, kw["dest"])), "--jaxgrads-", fields_only=True)
    assert suite == [
        (f"--jaxgrads-{o.name.replace('_', '-')}", f"jaxgrads_{o.name}")
        for o in SWEEP_OPTIONS
        if o.sweep_field
    ]
    # a child run's arguments, parsed by the CLI, give back a sweep that covers the rows
    rows = pd.DataFrame([
        {"problem": "linear", "wrt": "W", "method": "jacrev_chunked", "m": 8, "n": 4, "batch": 2,
         "dtype": "float64", "chunk_size": 4, "samples": 5, "cpus_used": 1, "x64": "True",
         "matmul_precision": "highest"},
    ])  # fmt: skip
    args = make_parser().parse_args(["run", *rerun_args(rows)])
    sweep = sweep_from(vars(args), runner.PRESETS["default"])
    assert (sweep.problems, sweep.wrt, sweep.methods) == (("linear",), ("W",), ("jacrev_chunked",))
    assert (sweep.sizes, sweep.batches, sweep.dtypes, sweep.chunk_sizes, sweep.samples) == (
        ((8, 4),),
        (2,),
        ("float64",),
        (4,),
        5,
    )
    assert args.cpus == 1
    assert not args.no_x64


def test_make_bench_runs_its_sweeps_in_one_process_reusing_probes(monkeypatch):
    """bench/sweeps.py: each preset's run in turn, inside reuse_probes; the first that fails stops the
    rest with its exit code; a malformed PRESET=OUT is a usage error."""
    import importlib.util
    from pathlib import Path

    from jaxgrads.sweep import context

    path = Path(__file__).resolve().parents[1] / "bench" / "sweeps.py"
    spec = importlib.util.spec_from_file_location("bench_sweeps", path)
    sweeps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweeps)
    calls, codes = [], iter([0, 3, 0])

    def fake(argv):
        calls.append((argv, context._REUSE_S[0]))
        return next(codes)

    monkeypatch.setattr(sweeps, "jaxgrads", fake)
    assert sweeps.main([]) == 3
    assert [argv[2] for argv, _ in calls] == ["default", "scaling"]  # stopped at the failing one
    assert all(reuse == sweeps.REUSE_S for _, reuse in calls)
    assert calls[0][0] == ["run", "--preset", "default", "--overwrite", "-o", "results/latest.csv"]
    assert context._REUSE_S[0] == 0  # off again after the block
    with pytest.raises(SystemExit, match="usage"):
        sweeps.main(["crossover"])
