"""The pytest-benchmark suite (bench/suite/test_benchmarks.py): ids, its JSON in pytest-benchmark's own
tools, --benchmark-compare-fail, and `jaxgrads import-pytest-benchmark` into the runner's CSV."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import ENV, assert_one_line_error, jaxgrads

from jaxgrads.results.schema import read_results, samples_path

ROOT = Path(__file__).resolve().parent.parent
SUITE = (
    "--jaxgrads-problems", "inner", "quadratic", "--jaxgrads-wrt", "x", "--jaxgrads-methods", "jacrev",
    "analytic", "--jaxgrads-sizes", "16", "--jaxgrads-samples", "3",
)  # fmt: skip
IDS = {"inner-x-jacrev-16-float32", "inner-x-analytic-16-float32", "quadratic-x-jacrev-16-float32",
       "quadratic-x-analytic-16-float32"}  # fmt: skip


def bench_pytest(*args):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "bench/suite/test_benchmarks.py", "-q", "-p", "no:cacheprovider",
         *SUITE, *args],
        capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def suite_json(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pb")
    out, storage = tmp / "pb.json", tmp / "storage"
    result = bench_pytest(
        "--benchmark-json", str(out), "--benchmark-save-data",
        "--benchmark-storage", f"file://{storage}", "--benchmark-autosave",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, storage


def test_ids_follow_the_case_table(suite_json):
    doc = json.loads(suite_json[0].read_text())
    names = {b["name"] for b in doc["benchmarks"]}
    assert names == {f"test_jacobian[{i}]" for i in IDS}
    for b in doc["benchmarks"]:
        assert b["stats"]["rounds"] == 3
        assert len(b["stats"]["data"]) == 3
        row = b["extra_info"]["jaxgrads"]
        assert row["ok"] is True
        assert row["time_median_s"] == pytest.approx(b["stats"]["median"])
        assert row["bytes_accessed"] > 0


def pytest_benchmark_cli():
    return str(Path(sys.executable).with_name("pytest-benchmark"))


def test_the_json_loads_in_pytest_benchmark_compare(suite_json):
    result = subprocess.run(
        [pytest_benchmark_cli(), "compare", str(suite_json[0])], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for i in IDS:
        assert f"test_jacobian[{i}]" in result.stdout


@pytest.mark.slow
def test_benchmark_compare_fail_works_on_the_saved_run(suite_json, tmp_path):
    storage = tmp_path / "storage"
    shutil.copytree(suite_json[1], storage)
    (saved,) = storage.rglob("*.json")
    ok = bench_pytest("--benchmark-storage", f"file://{storage}", "--benchmark-compare",
                      "--benchmark-compare-fail=median:100000%")  # fmt: skip
    assert ok.returncode == 0, ok.stdout[-2000:]
    assert "Comparing against benchmarks from" in ok.stdout + ok.stderr
    # a saved run 1000x faster than anything this machine can do: the next run has regressed
    doc = json.loads(saved.read_text())
    for b in doc["benchmarks"]:
        for k in ("min", "max", "mean", "median"):
            b["stats"][k] /= 1000
    saved.write_text(json.dumps(doc))
    bad = bench_pytest("--benchmark-storage", f"file://{storage}", "--benchmark-compare",
                       "--benchmark-compare-fail=median:10%")  # fmt: skip
    assert bad.returncode != 0
    assert "Performance has regressed" in bad.stdout + bad.stderr


def test_import_gives_the_runners_csv_and_samples(suite_json, tmp_path):
    out = tmp_path / "pb.csv"
    result = jaxgrads("import-pytest-benchmark", str(suite_json[0]), "-o", str(out))
    assert result.returncode == 0, result.stderr
    df = read_results(out, require_timed=True)
    assert len(df) == 4
    assert set(df["method"]) == {"jacrev", "analytic"}
    assert (df["samples"] == 3).all()
    assert samples_path(out).is_file()
    doc = json.loads(suite_json[0].read_text())
    info = [(b["extra_info"]["jaxgrads"], b["stats"]["median"]) for b in doc["benchmarks"]]
    medians = {row["method"] + row["problem"]: median for row, median in info}
    for r in df.to_dict("records"):
        assert r["time_median_s"] == pytest.approx(medians[r["method"] + r["problem"]])
    # the same report and gate apply
    assert jaxgrads("report", str(out)).returncode == 0
    gated = jaxgrads("gate", str(out), "--baseline", str(out), "--no-confirm")
    assert gated.returncode == 0, gated.stderr
    again = jaxgrads("import-pytest-benchmark", str(suite_json[0]), "-o", str(out))
    assert_one_line_error(again, "exists", "--overwrite")


def _without_data(doc):
    for b in doc["benchmarks"]:
        del b["stats"]["data"]
    return json.dumps(doc)


def _foreign(doc):
    for b in doc["benchmarks"]:
        b["extra_info"] = {}
    return json.dumps(doc)


def _each(doc, edit):
    for b in doc["benchmarks"]:
        edit(b)
    return json.dumps(doc)


BAD_JSON = {
    "missing": (None, "no such file"),
    "empty": (lambda d: "", "empty file"),
    "malformed": (lambda d: json.dumps(d)[:200], "not JSON"),
    "not pytest-benchmark": (lambda d: json.dumps({"results": []}), "no 'benchmarks' list"),
    "no benchmarks": (lambda d: json.dumps(d | {"benchmarks": []}), "no benchmarks in the file"),
    "another suite": (_foreign, "no extra_info['jaxgrads'] row"),
    "no raw data": (_without_data, "--benchmark-save-data"),
    # each of these was a traceback
    "stats not an object": (lambda d: _each(d, lambda b: b.update(stats=[1, 2])), "no 'stats' object"),
    "strings in data": (
        lambda d: _each(d, lambda b: b["stats"].update(data=["fast", "slow"])),
        "not a finite, non-negative number",
    ),
    "a string median": (
        lambda d: _each(d, lambda b: b["stats"].update(median="1ms")),
        "not a finite, non-negative number",
    ),
    "benchmark not an object": (lambda d: json.dumps(d | {"benchmarks": [3]}), "entry is not an object"),
    "binary": (lambda d: "\x00\x01", "binary, not text"),
}


@pytest.mark.parametrize("case", list(BAD_JSON))
def test_import_refuses_bad_json_writing_nothing(suite_json, tmp_path, case):
    spoil, message = BAD_JSON[case]
    src = tmp_path / "in.json"
    if spoil is not None:
        src.write_text(spoil(json.loads(suite_json[0].read_text())))
    out = tmp_path / "out.csv"
    result = jaxgrads("import-pytest-benchmark", str(src), "-o", str(out))
    assert_one_line_error(result, message)
    assert not out.exists()
    assert not samples_path(out).exists()
    assert list(tmp_path.iterdir()) == ([src] if spoil is not None else [])
