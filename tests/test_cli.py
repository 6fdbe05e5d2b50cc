"""The CLI as a user runs it: a subprocess, its output lines and exit code."""

import json
import subprocess
import sys

import pytest
from clitools import ENV, FAST, assert_one_line_error, jaxgrads

from jaxgrads.results.schema import read_results


def test_list_text_and_json():
    text = jaxgrads("list")
    assert text.returncode == 0
    assert "quadratic: a = x^T A x" in text.stdout
    listing = json.loads(jaxgrads("list", "--json").stdout)
    by_name = {p["problem"]: p for p in listing}
    assert "grad" not in by_name["matvec"]["wrt"]["x"]["methods"]
    assert by_name["quadratic"]["wrt"]["xx"]["methods"] == [
        "hessian_fwd_rev",
        "hessian_rev_rev",
        "hessian_fwd_fwd",
        "analytic",
        "analytic_textbook",
        "asdex_hessian",
        "numpy_analytic",
        "torch_analytic",
    ]


def test_run_writes_csv_samples_and_report(tmp_path):
    out, md = tmp_path / "r.csv", tmp_path / "r.md"
    result = jaxgrads(
        "run",
        "--problems",
        "matvec",
        "--wrt",
        "x",
        "--methods",
        "jacfwd",
        "jacrev",
        "--sizes",
        "8x4",
        *FAST,
        "-o",
        str(out),
        "--report",
        str(md),
    )
    assert result.returncode == 0, result.stderr
    assert "2 rows (2 ok, 0 skipped, 0 error, 0 inaccurate)" in result.stdout
    assert (tmp_path / "r.samples.csv").exists()
    assert "## matvec / x" in md.read_text()
    again = jaxgrads("report", str(out))
    assert again.returncode == 0
    assert "| 8x4 float32 |" in again.stdout


@pytest.mark.parametrize("size", ["12x", "0", "-3", "x5", "1e3"])
def test_malformed_sizes(tmp_path, size):
    out = tmp_path / "r.csv"
    result = jaxgrads("run", "--sizes", size, "-o", str(out))
    assert_one_line_error(result, f"invalid size '{size}'", "1024 or 4096x64")
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--problems", "cubic"], ["unknown problem 'cubic'", "valid: inner, matvec"]),
        (["--methods", "jacmid"], ["unknown method 'jacmid'", "jacfwd"]),
        (["--wrt", "q"], ["unknown wrt", "'q'"]),
        (["--dtypes", "float16"], ["unknown dtype 'float16'", "float32, float64, bfloat16"]),
        (["--dtypes", "float64", "--no-x64"], ["float64 needs JAX's x64 mode"]),
        (["--device", "tpu"], ["unknown device 'tpu'", "cpu, gpu, auto"]),
        (["--samples", "0"], ["--samples must be a positive integer"]),
        (["--batch", "-2"], ["--batch must be a positive integer"]),
        (["--memory-budget", "lots"], ["memory size of at least 1 byte like 8GiB"]),
        (["--min-sample-time", "-1"], ["positive number of seconds up to 3600"]),
        (["--problems-from", "missing.py"], ["--problems-from missing.py: no such file"]),
        (["--problems-from", "no_such_pkg.mod"], ["--problems-from no_such_pkg.mod", "No module named"]),
        (["--bogus"], ["unrecognized arguments: --bogus"]),
        (["--cpus", "0"], ["--cpus must be a positive integer"]),
        (["--preset", "huge"],
         ["invalid choice: 'huge'", "'quick', 'gate', 'releases', 'scaling', 'crossover'"]),
        # each of these was a traceback (exit 1) or was silently replaced by a default
        (["--memory-budget", "inf"], ["memory size of at least 1 byte", "got 'inf'"]),
        (["--memory-budget", "1e400"], ["memory size of at least 1 byte", "got '1e400'"]),
        (["--memory-budget", "0.5"], ["memory size of at least 1 byte", "got '0.5'"]),
        (["--min-sample-time", "inf"], ["positive number of seconds up to 3600, got 'inf'"]),
        (["--min-sample-time", "1e400"], ["positive number of seconds up to 3600, got '1e400'"]),
        (["--min-sample-time", "nan"], ["positive number of seconds up to 3600, got 'nan'"]),
        (["--max-call-time", "inf"], ["positive number of seconds up to 3600, got 'inf'"]),
        (["--sizes", "1" * 26], ["invalid size '" + "1" * 26 + "': each dimension at most 2147483647"]),
        (["--sizes", "8x" + "9" * 26], ["each dimension at most 2147483647"]),
        (["--samples", "9" * 26], ["--samples must be at most 2147483647"]),
        (["--cpus", "4096"], ["--cpus 4096: this process may run on", "valid: 1-"]),
        (["--regimes", "disk"], ["invalid choice: 'disk'", "'cache', 'memory', 'none'"]),
    ],
)
def test_bad_input_gets_one_line_and_no_file(tmp_path, args, needles):
    out = tmp_path / "r.csv"
    assert_one_line_error(jaxgrads("run", *args, "-o", str(out)), *needles)
    assert not out.exists()


def test_an_empty_output_path_is_refused_not_defaulted(tmp_path):
    result = jaxgrads("run", "--quick", "-o", "", cwd=tmp_path)
    assert_one_line_error(result, "-o/--output: the path is empty")
    assert not list(tmp_path.rglob("*.csv"))


def test_problems_from_a_file_that_raises(tmp_path):
    plugin = tmp_path / "bad.py"
    plugin.write_text("raise RuntimeError('plug-in broke')\n")
    assert_one_line_error(
        jaxgrads("run", "--problems-from", str(plugin), "-o", str(tmp_path / "r.csv")),
        "import failed: RuntimeError: plug-in broke",
    )


def test_gpu_requested_without_gpu(tmp_path):
    import jax

    if any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("a GPU is present")
    assert_one_line_error(
        jaxgrads("run", "--device", "gpu", "-o", str(tmp_path / "r.csv")), "JAX sees no GPU"
    )


def test_unwritable_output_and_existing_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert_one_line_error(jaxgrads("run", "--quick", "-o", str(blocker / "r.csv")), "does not exist")
    existing = tmp_path / "old.csv"
    existing.write_text("precious\n")
    assert_one_line_error(jaxgrads("run", "--quick", "-o", str(existing)), "exists; pass --resume")
    assert existing.read_text() == "precious\n"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "no such file"),
        ("", "empty file"),
        ("a,b\n1,2\n", "missing columns"),
    ],
)
def test_report_on_bad_files(tmp_path, content, needle):
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_text(content)
    md = tmp_path / "out.md"
    assert_one_line_error(jaxgrads("report", str(path), "-o", str(md)), needle)
    assert not md.exists()


def test_report_on_truncated_and_untimed_files(tmp_path):
    out = tmp_path / "r.csv"
    ok = jaxgrads(
        "run",
        "--problems",
        "inner",
        "--wrt",
        "x",
        "--methods",
        "jacrev",
        "--sizes",
        "4",
        *FAST,
        "-o",
        str(out),
    )
    assert ok.returncode == 0, ok.stderr
    lines = out.read_text().splitlines()
    truncated = tmp_path / "t.csv"
    truncated.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 3] + "\n")
    assert_one_line_error(jaxgrads("report", str(truncated)), "truncated file?")
    untimed = tmp_path / "u.csv"
    untimed.write_text(lines[0] + "\n")
    assert_one_line_error(jaxgrads("report", str(untimed)), "no timed rows")


def test_torch_method_without_torch_names_the_extra(tmp_path):
    # torch hidden from the interpreter: an import of it fails as on a machine without it
    code = (
        "import sys; sys.modules['torch'] = None; from jaxgrads.cli.main import main; "
        f"sys.exit(main(['run', '--methods', 'torch_jacrev', '-o', {str(tmp_path / 'r.csv')!r}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300
    )
    assert_one_line_error(result, "need PyTorch: pip install 'jaxgrads[torch]'")
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("chunk", ["0", "-4", "many"])
def test_bad_chunk_sizes(tmp_path, chunk):
    out = tmp_path / "r.csv"
    assert_one_line_error(
        jaxgrads("run", "--methods", "jacrev_chunked", "--chunk-sizes", chunk, "-o", str(out)),
        "chunk size must be a positive integer",
    )
    assert not out.exists()


def test_cpus_pins_the_run_and_is_recorded(tmp_path):
    out = tmp_path / "r.csv"
    args = ("--problems", "inner", "--wrt", "x", "--methods", "analytic", "--sizes", "8", *FAST)
    result = jaxgrads("run", *args, "--cpus", "1", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert read_results(out)["cpus_used"].tolist() == [1]


def test_the_gate_preset_pins_itself_to_one_cpu(tmp_path):
    out = tmp_path / "r.csv"
    args = ("--problems", "inner", "--wrt", "x", "--methods", "analytic", *FAST)
    result = jaxgrads("run", "--preset", "gate", *args, "-o", str(out))
    assert result.returncode == 0, result.stderr
    df = read_results(out)
    assert df["cpus_used"].tolist() == [1]
    assert df["n"].tolist() == [128]  # the preset's size


def test_the_csv_header_and_the_listing_are_the_recorded_ones():
    """Kept across restructures: a change here is a change to every user's CSVs and scripts."""
    from pathlib import Path

    from jaxgrads.results.schema import FIELDS

    golden = Path(__file__).parent / "golden"
    assert ",".join(FIELDS) == (golden / "csv_header.txt").read_text().strip()
    listing = jaxgrads("list", "--json")
    assert listing.returncode == 0
    assert json.loads(listing.stdout) == json.loads((golden / "list.json").read_text())
