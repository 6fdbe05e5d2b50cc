"""History over commits: steps on known series, the folder, series split by fingerprint, the
regression exit code, measuring a commit range in worktrees, and each bad input's one line."""

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clitools import assert_one_line_error, jaxgrads
from histories import KERNELS, git_repo, read_as_text, stepped, write_run

from jaxgrads.errors import JaxgradsError
from jaxgrads.history.series import METRICS, build, regression_table
from jaxgrads.history.steps import detect_steps
from jaxgrads.history.store import History, commit_hash
from jaxgrads.results.schema import KEY, SCHEMA_VERSION, read_results, samples_path

ROOT = Path(__file__).resolve().parents[1]


# --- steps -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_a_step_in_noise_is_found_at_its_commit_with_its_size(seed):
    rng = np.random.default_rng(seed)
    values = np.exp(rng.normal(0, 0.05, 30)) * np.where(np.arange(30) >= 17, 1.4, 1.0)
    steps = detect_steps(values, min_noise=METRICS["time_median_s"].min_noise)
    assert [s.index for s in steps] == [17]
    assert steps[0].ratio == pytest.approx(1.4, rel=0.08)
    assert steps[0].confidence > 0.999
    assert (steps[0].n_before, steps[0].n_after) == (17, 13)


@pytest.mark.parametrize("seed", range(20))
def test_noise_alone_makes_no_step(seed):
    """A/A: 30 commits of the same code, 5% lognormal noise per point (the drift between processes)."""
    values = np.exp(np.random.default_rng(100 + seed).normal(0, 0.05, 30))
    assert detect_steps(values, min_noise=METRICS["time_median_s"].min_noise) == []


def test_deterministic_series_step_exactly_where_the_count_changed():
    instr = METRICS["instructions"]
    flat = [1_000_000.0] * 12
    assert detect_steps(flat, min_noise=instr.min_noise) == []
    up = flat[:-1] + [1_020_000.0]  # +2% at the newest commit
    (step,) = detect_steps(up, min_noise=instr.min_noise)
    assert step.index == 11
    assert step.ratio == pytest.approx(1.02)
    assert step.confidence > 0.999
    tiny = flat[:-1] + [1_000_500.0]  # +0.05%: the last digit, not a step
    assert detect_steps(tiny, min_noise=instr.min_noise) == []


def test_short_and_bad_series():
    assert detect_steps([1.0], min_noise=0.03) == []
    assert detect_steps([], min_noise=0.03) == []
    (step,) = detect_steps([1.0, 1.0, 2.0], min_noise=0.03)
    assert step.index == 2
    with pytest.raises(JaxgradsError, match="finite, positive"):
        detect_steps([1.0, 0.0, 1.0], min_noise=0.03)
    with pytest.raises(JaxgradsError, match="finite, positive"):
        detect_steps([1.0, math.nan], min_noise=0.03)


@pytest.mark.parametrize(
    ("described", "commit"),
    [
        ("abc1234def56", "abc1234def56"),
        ("abc1234def56+dirty", "abc1234def56"),
        ("v0.1-3-gabc1234def56", "abc1234def56"),
        ("", ""),
        ("not-a-commit", ""),
    ],
)
def test_commit_of_a_runs_git_commit(described, commit):
    assert commit_hash(described) == commit


# --- a synthetic history -----------------------------------------------------------------------------


def make_history(tmp_path, commits=8, step_at=5, machines=("a", "b"), **kw):
    repo_commits = git_repo(tmp_path / "repo", commits)
    history = History(tmp_path / "history")
    runs = tmp_path / "runs"
    runs.mkdir()
    time_of = stepped(step_at, **kw)
    for i, c in enumerate(repo_commits):
        for m in machines:
            history.add(write_run(runs / f"{m}{i}.csv", c, i, m, time_of))
    return repo_commits, history


def test_series_are_split_by_fingerprint_and_the_step_found_at_its_commit(tmp_path):
    commits, history = make_history(tmp_path)
    h = build(history.table(), tmp_path / "repo", ["time_median_s"])
    assert h.commits == [c[:12] for c in commits]
    assert len(h.fingerprints) == 2
    assert any("kept apart" in n for n in h.notes)
    assert len(h.series) == len(KERNELS) * 2  # each kernel once per machine
    stepped_series = [s for s in h.series if s.steps]
    assert len(stepped_series) == 1
    s = stepped_series[0]
    assert s.kernel == "matvec-x-jacrev-64-float32"
    assert "cpu-a" in s.fingerprint
    assert s.commit_at(s.steps[0]) == commits[5][:12]
    assert s.steps[0].ratio == pytest.approx(2.0, rel=0.05)
    regs = regression_table(h)
    assert list(regs["commit"]) == [commits[5][:12]]
    assert not regs["newest"].any()


def test_regressions_exit_1_only_when_the_newest_commit_starts_one(tmp_path):
    _, history = make_history(tmp_path / "mid", step_at=5)
    res = jaxgrads(
        "history", "regressions", "--history", str(history.folder), "--repo", str(tmp_path / "mid/repo")
    )
    assert res.returncode == 0, res.stderr
    assert "matvec-x-jacrev-64-float32" in res.stdout
    assert "2 fingerprint(s)" in res.stdout
    commits, history = make_history(tmp_path / "new", step_at=7)  # the newest of 8 commits
    res = jaxgrads(
        "history", "regressions", "--history", str(history.folder), "--repo", str(tmp_path / "new/repo")
    )
    assert res.returncode == 1, res.stderr
    assert f"start at the newest commit {commits[-1][:12]}" in res.stdout
    show = jaxgrads("history", "show", "--history", str(history.folder), "--repo", str(tmp_path / "new/repo"))
    assert show.returncode == 0, show.stderr
    step = r"×(1\.9\d*|2(\.0\d*)?) \(1\.00\)"
    assert re.search(rf"matvec-x-jacrev-64-float32 +time_median_s .* {step}", show.stdout)


def test_a_kernel_at_the_dispatch_floor_is_never_a_regression_as_in_the_gate(tmp_path):
    commits = git_repo(tmp_path / "repo", 8)
    history = History(tmp_path / "history")
    (tmp_path / "runs").mkdir()
    for i, c in enumerate(commits):
        run = write_run(tmp_path / "runs" / f"r{i}.csv", c, i, "a", stepped(7, ratio=3.0))
        read_as_text(run).assign(dispatch_floor_s=2e-4).to_csv(run, index=False)  # 1 ms < 10 x 0.2 ms
        history.add(run)
    h = build(history.table(), tmp_path / "repo", ["time_median_s"])
    assert all(s.floor for s in h.series)
    assert [s.steps[0].ratio > 2.5 for s in h.series if s.steps] == [True]  # the step is shown ...
    assert regression_table(h).empty  # ... and never a regression
    res = jaxgrads(
        "history", "regressions", "--history", str(history.folder), "--repo", str(tmp_path / "repo")
    )
    assert res.returncode == 0, res.stdout
    assert "3 at the dispatch floor" in res.stdout


def test_an_improvement_is_a_step_but_not_a_regression(tmp_path):
    _, history = make_history(tmp_path, step_at=7, ratio=0.5, machines=("a",))
    h = build(history.table(), tmp_path / "repo", ["time_median_s"])
    (ratio,) = [s.steps[0].ratio for s in h.series if s.steps]
    assert ratio == pytest.approx(0.5, rel=0.05)  # the last point alone: ±2% noise
    assert regression_table(h).empty


def test_commits_unknown_to_the_repository_are_placed_by_start_time_and_said(tmp_path):
    _, history = make_history(tmp_path, commits=4, machines=("a",))
    h = build(history.table(), tmp_path / "elsewhere", ["time_median_s"])  # not a repository
    assert len(h.commits) == 4
    assert "not in" in h.notes[0]
    assert h.commits == sorted(h.commits, key=lambda c: list(h.series[0].points["commit"]).index(c))


def test_several_runs_of_one_commit_are_one_point(tmp_path):
    commits = git_repo(tmp_path / "repo", 2)
    history = History(tmp_path / "history")
    (tmp_path / "runs").mkdir()
    for k, idx in enumerate((0, 1, 1)):
        run = write_run(tmp_path / "runs" / f"r{k}.csv", commits[idx], idx, "a", stepped(9))
        df = read_as_text(run).assign(run_id=f"run{k:09d}")  # a second run of the same commit
        df.to_csv(run, index=False)
        history.add(run)
    h = build(history.table(), tmp_path / "repo", ["time_median_s"])
    assert [list(s.points["runs"]) for s in h.series][0] == [1, 2]


# --- the folder ---------------------------------------------------------------------------------------


def test_add_keeps_the_run_and_its_samples_once(tmp_path):
    commits = git_repo(tmp_path / "repo", 1)
    run = write_run(tmp_path / "run.csv", commits[0], 0, "a", stepped(9))
    first = jaxgrads("history", "add", str(run), "--history", str(tmp_path / "h"))
    assert first.returncode == 0
    assert "added as" in first.stdout
    again = jaxgrads("history", "add", str(run), "--history", str(tmp_path / "h"))
    assert again.returncode == 0
    assert "already in the history" in again.stdout
    stored = History(tmp_path / "h").run_files()
    assert len(stored) == 1
    assert stored[0].with_name(stored[0].stem + ".samples.csv").is_file()
    assert read_results(stored[0])["schema_version"].eq(SCHEMA_VERSION).all()


def test_a_file_from_before_schema_versions_is_version_1(tmp_path):
    commits = git_repo(tmp_path / "repo", 1)
    run = write_run(tmp_path / "run.csv", commits[0], 0, "a", stepped(9))
    read_as_text(run).drop(columns="schema_version").to_csv(run, index=False)
    assert read_results(run)["schema_version"].eq(1).all()
    assert jaxgrads("history", "add", str(run), "--history", str(tmp_path / "h")).returncode == 0


# --- bad input: one line, exit 2, nothing kept --------------------------------------------------------


def bad_run(tmp_path, change) -> Path:
    commits = git_repo(tmp_path / "repo", 1)
    run = write_run(tmp_path / "run.csv", commits[0], 0, "a", stepped(9))
    df = pd.read_csv(run, dtype=str, keep_default_na=False)
    change(df)
    df.to_csv(run, index=False)
    return run


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda df: df.__setitem__("schema_version", str(SCHEMA_VERSION + 1)), "schema versions 1 to"),
        (lambda df: df.__setitem__("schema_version", "x"), "schema_version 'x'"),
        (lambda df: df.__setitem__("git_commit", ""), "no git commit recorded"),
        (lambda df: df.__setitem__("run_id", [f"r{i}" for i in range(len(df))]), "runs in one file"),
        (lambda df: df.__setitem__("status", "error"), "no timed rows"),
    ],
    ids=["newer-schema", "schema-not-a-number", "no-commit", "two-runs", "nothing-timed"],
)
def test_bad_runs_are_refused_and_nothing_is_kept(tmp_path, change, needle):
    run = bad_run(tmp_path, change)
    res = jaxgrads("history", "add", str(run), "--history", str(tmp_path / "h"))
    assert_one_line_error(res, needle)
    assert not (tmp_path / "h" / "runs").exists()


def test_unknown_schema_version_is_refused_by_every_reader(tmp_path):
    run = bad_run(tmp_path, lambda df: df.__setitem__("schema_version", "99"))
    for args in (("report", str(run)), ("site", str(run), "-o", str(tmp_path / "site"))):
        assert_one_line_error(jaxgrads(*args), "schema_version '99'")
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("command", ["show", "regressions"])
def test_an_empty_history_is_one_line(tmp_path, command):
    res = jaxgrads("history", command, "--history", str(tmp_path / "none"))
    assert_one_line_error(res, "is empty", "jaxgrads history add")


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("nosuchcommit..HEAD", "does not exist"),
        ("HEAD..HEAD", "holds no commits"),
        ("nosuchcommit", "does not exist"),
        ("0123456789abcdef0123456789abcdef01234567", "does not exist"),
    ],
)
def test_a_commit_range_that_does_not_exist_is_one_line(tmp_path, spec, needle):
    git_repo(tmp_path / "repo", 2)
    res = jaxgrads(
        "history", "measure", spec, "--repo", str(tmp_path / "repo"), "--history", str(tmp_path / "h")
    )
    assert_one_line_error(res, needle)
    assert not (tmp_path / "h").exists()


def test_measure_outside_a_repository_and_bad_options(tmp_path):
    assert_one_line_error(jaxgrads("history"), "required: COMMAND")
    res = jaxgrads(
        "history", "measure", "HEAD~1..HEAD", "--repo", str(tmp_path), "--history", str(tmp_path / "h")
    )
    assert_one_line_error(res, "not a git repository")
    res = jaxgrads("history", "measure", "HEAD", "--env", "conda", "--repo", str(ROOT))
    assert_one_line_error(res, "invalid choice: 'conda'")
    res = jaxgrads(
        "history", "measure", "HEAD", "--repo", str(ROOT), "--history", str(tmp_path / "h"), "--sizes", "0"
    )
    assert_one_line_error(res)
    _, history = make_history(tmp_path / "x", commits=3, machines=("a",))
    for extra, needle in (
        (("--threshold", "abc"), "--threshold"),
        (("--confidence", "2"), "--confidence"),
        (("--bogus",), "unrecognized arguments"),
    ):
        res = jaxgrads("history", "regressions", "--history", str(history.folder), *extra)
        assert_one_line_error(res, needle)


# --- measuring commits in worktrees ---------------------------------------------------------------------


def _has_parent() -> bool:
    return (
        subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--verify", "-q", "HEAD~1"], capture_output=True
        ).returncode
        == 0
    )


@pytest.mark.slow
@pytest.mark.skipif(not _has_parent(), reason="needs a checkout with at least two commits (not shallow)")
def test_measure_a_range_in_worktrees_resumes_and_skips_what_is_measured(tmp_path):
    """HEAD~1..HEAD is HEAD alone; HEAD~2..HEAD two commits, the first measured from a partial run."""
    sweep = (
        "--problems",
        "inner",
        "--sizes",
        "8",
        "--methods",
        "jacrev",
        "analytic",
        "--samples",
        "2",
        "--min-sample-time",
        "0.001",
    )
    hist = tmp_path / "h"
    common = ("--env", "existing", "--repo", str(ROOT), "--history", str(hist))
    first = jaxgrads("history", "measure", "HEAD~1..HEAD", *common, *sweep)
    assert first.returncode == 0, first.stderr
    assert "1 measured, 0 already measured, 0 failed" in first.stdout
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD", "HEAD~1"], capture_output=True, text=True, check=True
    ).stdout.split()
    # a killed run of HEAD~1 left its partial output: the next call continues it (--resume)
    partial = hist / "work" / f"{head[1][:12]}.csv"
    done = History(hist).run_files()[0]
    rows = pd.read_csv(done, dtype=str, keep_default_na=False)
    first_row = rows.iloc[:1].assign(run_id="partial00001", git_commit=head[1][:12])
    first_row.to_csv(partial, index=False)
    samples = pd.read_csv(samples_path(done), dtype=str, keep_default_na=False)
    key = list(KEY)
    mine = samples.merge(first_row[key], on=key).assign(run_id="partial00001")
    mine.to_csv(samples_path(partial), index=False)
    second = jaxgrads("history", "measure", "HEAD~2..HEAD", *common, *sweep)
    assert second.returncode == 0, second.stderr
    assert "1 measured, 1 already measured, 0 failed" in second.stdout
    files = History(hist).run_files()
    assert len(files) == 2
    older = next(f for f in files if head[1][:12] in f.name)
    resumed = read_results(older)
    assert len(resumed) == len(rows)  # the resumed run, now whole: its first row kept, the rest measured
    assert resumed["run_id"].eq("partial00001").all()  # a resumed run keeps its id
    assert resumed["time_median_s"].iloc[0] == float(
        first_row["time_median_s"].iloc[0]
    )  # kept, not re-measured
    assert not partial.exists()
    worktrees = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True
    ).stdout
    assert str(hist) not in worktrees  # removed after each commit
    measured = pd.read_csv(hist / "measured.csv", dtype=str)
    assert sorted(measured["commit"]) == sorted(head[:2])
    third = jaxgrads("history", "measure", "HEAD~2..HEAD", *common, *sweep)
    assert "0 measured, 2 already measured" in third.stdout
    shutil.rmtree(hist)
