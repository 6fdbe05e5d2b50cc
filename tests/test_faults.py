"""Faults are input too: what a killed run, a full disk, a second writer, a device node given as an
output, a binary file, a wrong closed form each get. Nothing measured is lost or silently passed.

Faults the machine must allow (mounting a tiny or read-only tmpfs needs root) skip with the reason.
"""

import collections
import csv
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clitools import ENV, FAST, assert_one_line_error, jaxgrads

import jaxgrads as jg
from jaxgrads import sweep as runner
from jaxgrads.cli import main as cli
from jaxgrads.measure.accuracy import accuracy, reference
from jaxgrads.report.markdown import summary_table
from jaxgrads.results import files
from jaxgrads.results.files import CsvAppender
from jaxgrads.results.locks import OutputLock
from jaxgrads.results.schema import FIELDS, SAMPLE_FIELDS, read_results, row_key, samples_path
from jaxgrads.sweep import context as sweep_context
from jaxgrads.sweep import run as sweep_run

SMALL = ("--problems", "inner", "--wrt", "x", "--methods", "jacrev", "analytic", "--sizes", "4", *FAST)
SWEEP = runner.Sweep(
    problems=("inner",), wrt=("x",), methods=("jacrev", "analytic"), sizes=((4, 4),), samples=2,
    min_sample_s=0.001, device="cpu",
)  # fmt: skip


@pytest.fixture
def quick_probes(monkeypatch):
    """The runner's machine probes stubbed out: these tests are about files, not ceilings."""
    probes = {"dispatch_floor_s": 1e-6, "memory_budget_bytes": 2**30}
    ceilings = collections.defaultdict(lambda: None)
    monkeypatch.setattr(sweep_context, "machine_probes", lambda sweep, device, **kwargs: (probes, ceilings))


@contextmanager
def tmpfs(path: Path, options: str):
    """A tmpfs mounted at ``path`` for the test; skips where this machine cannot mount one."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.decode().strip()}"
        )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def leftovers(folder: Path, *expected: str) -> list[str]:
    """Files in ``folder`` other than ``expected``: temporary and lock files must not remain."""
    return sorted(p.name for p in folder.iterdir() if p.name not in expected)


def whole_rows(path: Path) -> list[dict]:
    """The rows of a CSV, checking the file ends at a whole row and every row has every column."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), data[-80:]
    rows = list(csv.DictReader(data.decode().splitlines()))
    assert all(None not in r and all(v is not None for v in r.values()) for r in rows)
    return rows


@pytest.fixture(scope="module")
def two_rows(tmp_path_factory):
    """A real two-row run (inner/x: jacrev, analytic) and its samples, measured once."""
    out = tmp_path_factory.mktemp("resume") / "r.csv"
    result = jaxgrads("run", *SMALL, "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out.read_bytes(), samples_path(out).read_bytes()


def write_run(folder: Path, rows: bytes, samples: bytes) -> Path:
    out = folder / "r.csv"
    out.write_bytes(rows)
    samples_path(out).write_bytes(samples)
    return out


# ---------------------------------------------------------------- outputs are regular files


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_fifo_or_socket_output_is_refused_even_with_overwrite(tmp_path, kind):
    target = tmp_path / "out.csv"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(target))
    for extra in ((), ("--overwrite",), ("--resume",)):
        result = jaxgrads("run", *SMALL, "-o", str(target), *extra)
        assert_one_line_error(result, f"output {target} is not a regular file")
    assert not target.is_file()
    assert target.exists()
    assert leftovers(tmp_path, "out.csv") == []


def test_report_and_markdown_outputs_refuse_a_fifo(tmp_path):
    src = write_run(tmp_path, b"", b"")
    fifo = tmp_path / "r.md"
    os.mkfifo(fifo)
    result = jaxgrads("run", *SMALL, "-o", str(src), "--overwrite", "--report", str(fifo))
    assert_one_line_error(result, "is not a regular file")


def test_overwrite_replaces_by_rename_and_a_failed_run_keeps_the_old_results(
    tmp_path, quick_probes, monkeypatch
):
    out = write_run(tmp_path, b"precious rows\n", b"precious samples\n")
    real = sweep_run.run_case
    calls = []

    def failing(case, *args, **kwargs):
        calls.append(case.id)
        if len(calls) == 2:
            raise OverflowError("cannot convert float infinity to integer")
        return real(case, *args, **kwargs)

    monkeypatch.setattr(sweep_run, "run_case", failing)
    with pytest.raises(OverflowError):
        runner.run_sweep(SWEEP, out, overwrite=True)
    assert out.read_bytes() == b"precious rows\n"
    assert samples_path(out).read_bytes() == b"precious samples\n"
    assert leftovers(tmp_path, "r.csv", "r.samples.csv") == []
    monkeypatch.setattr(sweep_run, "run_case", real)
    runner.run_sweep(SWEEP, out, overwrite=True)
    assert len(read_results(out)) == 2
    assert leftovers(tmp_path, "r.csv", "r.samples.csv") == []


def test_an_interrupted_overwrite_keeps_its_finished_rows_resumable(tmp_path, quick_probes, monkeypatch):
    out = write_run(tmp_path, b"old\n", b"old\n")
    real, calls = sweep_run.run_case, []

    def interrupted(case, *args, **kwargs):
        calls.append(case.id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(case, *args, **kwargs)

    monkeypatch.setattr(sweep_run, "run_case", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.run_sweep(SWEEP, out, overwrite=True)
    assert len(read_results(out)) == 1  # the new run's finished row replaced the old file
    assert leftovers(tmp_path, "r.csv", "r.samples.csv") == []
    monkeypatch.setattr(sweep_run, "run_case", real)
    runner.run_sweep(SWEEP, out, resume=True)
    assert sorted(read_results(out)["method"]) == ["analytic", "jacrev"]


# ---------------------------------------------------------------- resume after a cut


# every byte in the long tier; every 37th (and the row's two ends) in the quick one
CUT_STRIDES = [pytest.param(1, id="every-byte", marks=pytest.mark.slow), pytest.param(37, id="every-37th")]


def _cuts(start: int, end: int, stride: int) -> list[int]:
    return sorted({*range(start, end, stride), start, end - 1})


@pytest.mark.parametrize("stride", CUT_STRIDES)
def test_resume_repairs_a_csv_cut_at_every_byte_of_its_last_row(tmp_path, two_rows, stride):
    rows, samples = two_rows
    last = rows.rstrip(b"\r\n").rfind(b"\n") + 1
    first_key = row_key(next(csv.DictReader(rows.decode().splitlines())))
    for cut in _cuts(last, len(rows), stride):
        folder = tmp_path / str(cut)
        folder.mkdir()
        out = write_run(folder, rows[:cut], samples)
        done, meta = runner.prepare_resume(out)
        assert done == {first_key}, cut
        assert out.read_bytes() == rows[:last], cut
        kept = pd.read_csv(samples_path(out), dtype=str, keep_default_na=False)
        assert {row_key(r) for r in kept.to_dict("records")} == {first_key}, cut
        assert len(read_results(out)) == 1
        assert meta["run_id"] == read_results(out)["run_id"].iloc[0]


@pytest.mark.parametrize("stride", CUT_STRIDES)
def test_resume_repairs_samples_cut_at_every_byte_of_the_unfinished_row(tmp_path, two_rows, stride):
    rows, samples = two_rows
    last = rows.rstrip(b"\r\n").rfind(b"\n") + 1
    lines = samples.splitlines(keepends=True)
    second = row_key(list(csv.DictReader(rows.decode().splitlines()))[1])
    start = len(b"".join(x for x in lines if tuple(x.decode().split(",")[1:9]) != second))
    ordered = b"".join(x for x in lines if tuple(x.decode().split(",")[1:9]) != second) + b"".join(
        x for x in lines if tuple(x.decode().split(",")[1:9]) == second
    )
    for cut in _cuts(start, len(ordered), stride):
        folder = tmp_path / str(cut)
        folder.mkdir()
        out = write_run(folder, rows[:last], ordered[:cut])  # the row never reached the CSV
        done, _ = runner.prepare_resume(out)
        assert len(done) == 1
        kept = pd.read_csv(samples_path(out), dtype=str, keep_default_na=False)
        assert second not in {row_key(r) for r in kept.to_dict("records")}, cut
        assert samples_path(out).read_bytes().endswith(b"\n")


def test_resume_after_a_cut_runs_the_cut_row_again(tmp_path, two_rows):
    rows, samples = two_rows
    out = write_run(tmp_path, rows[: len(rows) - 40], samples)
    result = jaxgrads("run", *SMALL, "-o", str(out), "--resume")
    assert result.returncode == 0, result.stderr
    assert "dropped a cut last row" in result.stderr
    df = read_results(out)
    assert sorted(df["method"]) == ["analytic", "jacrev"]
    raw = pd.read_csv(samples_path(out), dtype=str)
    assert raw.groupby("method").size().to_dict() == {"analytic": 2, "jacrev": 2}


def test_resume_refuses_a_file_with_other_columns_before_running(tmp_path, two_rows):
    rows, samples = two_rows
    old = pd.read_csv(write_run(tmp_path, rows, samples), dtype=str, keep_default_na=False)
    old.drop(columns=["chunk_size"]).iloc[:1].to_csv(tmp_path / "r.csv", index=False)
    before = (tmp_path / "r.csv").read_bytes()
    result = jaxgrads("run", *SMALL, "-o", str(tmp_path / "r.csv"), "--resume")
    assert_one_line_error(result, "its columns are not this version's (missing: chunk_size; extra: none)")
    assert (tmp_path / "r.csv").read_bytes() == before


def test_resume_writes_in_the_files_own_column_order(tmp_path, two_rows, quick_probes):
    rows, samples = two_rows
    out = write_run(tmp_path, rows, samples)
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    df[list(reversed(df.columns))].iloc[:1].to_csv(out, index=False)
    runner.run_sweep(SWEEP, out, resume=True)
    again = read_results(out)
    assert list(pd.read_csv(out, nrows=0).columns) == list(reversed(FIELDS))
    assert sorted(again["method"]) == ["analytic", "jacrev"]
    assert set(again["problem"]) == {"inner"}
    assert again["time_median_s"].gt(0).all()


def test_resume_measures_again_a_row_marked_ok_without_a_time(tmp_path, two_rows, quick_probes):
    rows, samples = two_rows
    out = write_run(tmp_path, rows, samples)
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    df.loc[0, "time_median_s"] = "nan"
    df.to_csv(out, index=False)
    runner.run_sweep(SWEEP, out, resume=True)
    again = read_results(out)
    assert len(again) == 2
    assert again["time_median_s"].gt(0).all()


# ---------------------------------------------------------------- a full disk


def test_a_failed_append_is_cut_back_to_the_last_whole_row(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    appender = CsvAppender(path, ("a", "b"))
    appender.write([{"a": 1, "b": 2}])
    real_write = os.write

    def half_then_full(fd, data):
        if len(data) > 4:
            real_write(fd, bytes(data[:4]))
            return 4
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", half_then_full)
    with pytest.raises(OSError, match="No space left on device"):
        appender.write([{"a": "x" * 50, "b": 3}])
    monkeypatch.setattr(files.os, "write", real_write)
    appender.close()
    assert whole_rows(path) == [{"a": "1", "b": "2"}]


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "r.md"
    path.write_text("old report\n")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full)
    with pytest.raises(jg.JaxgradsError, match=r"cannot write .*r\.md: No space left on device"):
        files.atomic_write_text(path, "new report\n")
    assert path.read_text() == "old report\n"
    assert leftovers(tmp_path, "r.md") == []


def test_a_full_disk_stops_the_sweep_with_one_line_and_whole_rows(tmp_path):
    with tmpfs(tmp_path / "tiny", "size=12k") as tiny:
        out = tiny / "r.csv"
        result = jaxgrads(
            "run", "--problems", "matvec", "inner", "--sizes", "4", "8", "16", *FAST, "-o", str(out)
        )
        assert_one_line_error(result, f"cannot write {tiny}/r", "No space left on device")
        assert "rerun with --resume" in result.stderr
        rows = whole_rows(out)
        assert 0 < len(rows) < 80
        assert all(r["status"] in ("ok", "skipped", "error") for r in rows)
        whole_rows(samples_path(out))
        assert len(read_results(out)) == len(rows)
        assert leftovers(tiny, "r.csv", "r.samples.csv") == []


def test_save_arrays_on_a_full_disk_stops_without_partial_files(tmp_path):
    with tmpfs(tmp_path / "tiny", "size=8k") as tiny:
        out = tmp_path / "r.csv"
        result = jaxgrads("run", *SMALL[:-len(FAST)], "--sizes", "8", "16", "24", "32", *FAST,
                          "-o", str(out), "--save-arrays", str(tiny))  # fmt: skip
        assert_one_line_error(result, "cannot write", "No space left on device")
        saved = sorted(tiny.iterdir())
        assert all(p.suffix == ".npz" for p in saved), saved
        for p in saved:
            assert "jacobian" in np.load(p)
        assert len(read_results(out)) == len(saved)  # each written row has its arrays


def test_a_report_on_a_full_disk_leaves_no_temporary_file(tmp_path, two_rows):
    src = write_run(tmp_path, *two_rows)
    with tmpfs(tmp_path / "tiny", "size=4k") as tiny:
        (tiny / "filler").write_bytes(b"x" * 4096)
        result = jaxgrads("report", str(src), "-o", str(tiny / "r.md"))
        assert_one_line_error(result, "No space left on device")
        assert leftovers(tiny, "filler") == []


# ---------------------------------------------------------------- read-only folders


def test_read_only_folders_get_one_line(tmp_path, two_rows):
    src = write_run(tmp_path, *two_rows)
    with tmpfs(tmp_path / "ro", "ro,size=4k") as ro:
        assert_one_line_error(jaxgrads("run", *SMALL, "-o", str(ro / "r.csv")), "is not writable")
        assert_one_line_error(
            jaxgrads("run", *SMALL, "-o", str(tmp_path / "n.csv"), "--save-arrays", str(ro / "a")),
            f"--save-arrays {ro / 'a'}: cannot create it",
        )
        assert_one_line_error(jaxgrads("report", str(src), "-o", str(ro / "r.md")), "is not writable")
        assert_one_line_error(jaxgrads("plot", str(src), "-o", str(ro / "f")), "Read-only file system")


# ---------------------------------------------------------------- one writer at a time


def test_a_second_writer_is_refused_while_the_first_holds_the_output(tmp_path, two_rows):
    out = write_run(tmp_path, *two_rows)
    before = out.read_bytes()
    with OutputLock(out):
        for extra in ("--resume", "--overwrite"):
            result = jaxgrads("run", *SMALL, "-o", str(out), extra)
            assert_one_line_error(result, f"output {out} is being written by another jaxgrads run (pid ")
        assert out.read_bytes() == before
    assert leftovers(tmp_path, "r.csv", "r.samples.csv") == []


@pytest.mark.slow
def test_two_sweeps_started_together_write_each_case_once(tmp_path):
    out = tmp_path / "r.csv"
    # long enough (about a hundred rows) that the second starts while the first still writes
    args = [sys.executable, "-m", "jaxgrads", "run", "--problems", "matvec", "inner", "--sizes", "8", "16",
            "32", "64", *FAST, "-o", str(out)]  # fmt: skip
    first = subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".r.csv.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    second = jaxgrads("run", "--problems", "matvec", "--wrt", "x", "--sizes", "8", *FAST, "-o", str(out),
                      "--overwrite")  # fmt: skip
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert_one_line_error(second, "is being written by another jaxgrads run")
    df = read_results(out)
    assert not df.duplicated(["problem", "wrt", "method", "m", "n"]).any()
    assert len(df) > 50


# ---------------------------------------------------------------- unreadable, binary, misplaced inputs

READERS = {
    "report": lambda p, tmp: ["report", str(p)],
    "plot": lambda p, tmp: ["plot", str(p), "-o", str(tmp / "figs")],
    "gate": lambda p, tmp: ["gate", str(p), "--baseline", str(p)],
    "resume": lambda p, tmp: ["run", *SMALL, "-o", str(p), "--resume"],
    "import": lambda p, tmp: ["import-pytest-benchmark", str(p), "-o", str(tmp / "o.csv")],
}


@pytest.mark.parametrize("command", list(READERS))
def test_a_binary_input_gets_one_line(tmp_path, command):
    src = tmp_path / "bin.csv"
    src.write_bytes(bytes(range(256)) * 4)
    samples_path(src).write_bytes(bytes(range(256)))
    assert_one_line_error(jaxgrads(*READERS[command](src, tmp_path)), f"{src}: binary, not text")
    assert not (tmp_path / "figs").exists()
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("command", ["report", "plot", "gate", "import"])
def test_a_folder_given_as_an_input_file_says_so(tmp_path, command):
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    assert_one_line_error(jaxgrads(*READERS[command](folder, tmp_path)), f"{folder} is a folder; expected")


def test_a_binary_samples_file_gets_one_line_in_the_gate(tmp_path, two_rows):
    src = write_run(tmp_path, *two_rows)
    samples_path(src).write_bytes(b"\xff\xfe" * 100)
    assert_one_line_error(jaxgrads("gate", str(src), "--baseline", str(src)), "binary, not text")


@pytest.mark.parametrize("command", ["report", "gate", "import"])
def test_an_unreadable_input_gets_one_line(tmp_path, command, monkeypatch, capsys):
    src = tmp_path / "r.csv"
    src.write_text("problem\nx\n")
    if os.geteuid() != 0:
        src.chmod(0)
        assert_one_line_error(jaxgrads(*READERS[command](src, tmp_path)), "cannot read it")
        return

    def denied(self):  # root reads a chmod-000 file: the refusal is simulated in process
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert cli.main(READERS[command](src, tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"jaxgrads: error: {src}: cannot read it (Permission denied); expected " + err[0].split(
        "expected ", 1)[1]]  # fmt: skip


def test_save_arrays_or_out_dir_naming_a_file_is_refused(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    out = tmp_path / "r.csv"
    result = jaxgrads("run", *SMALL, "-o", str(out), "--save-arrays", str(blocker))
    assert_one_line_error(result, f"--save-arrays {blocker} is a file; give a folder")
    assert not out.exists()
    py = sys.executable
    result = jaxgrads("ab", "--a", py, "--b", py, "-o", str(blocker), *SMALL)
    assert_one_line_error(result, f"--output {blocker} is a file; give a folder")


def test_plot_of_rows_that_all_took_infinite_time_makes_no_folder(tmp_path, two_rows):
    src = write_run(tmp_path, *two_rows)
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    df.assign(time_median_s="inf").to_csv(src, index=False)
    figs = tmp_path / "figs"
    assert_one_line_error(jaxgrads("plot", str(src), "-o", str(figs)), "no timed rows")
    assert not figs.exists()


def _wait_until_jaxlib_loads(proc, timeout=60.0) -> bool:
    """Until the child maps jaxlib's first shared object: its CLI handler is up by then (installed
    before the CLI imports JAX). Python's own start-up, before any jaxgrads line, is not the CLI's to
    handle, so a fixed delay from the spawn, which a loaded machine stretches, is no test of it."""
    maps, deadline = Path(f"/proc/{proc.pid}/maps"), time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if "jaxlib" in maps.read_text():
                return True
        except OSError:
            return False
        time.sleep(0.002)
    return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc/PID/maps")
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5])
def test_ctrl_c_while_jax_is_still_importing_gets_one_line(tmp_path, delay):
    proc = subprocess.Popen(
        [sys.executable, "-m", "jaxgrads", "run", *SMALL, "-o", str(tmp_path / "r.csv")],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert _wait_until_jaxlib_loads(proc), proc.communicate(timeout=60)[1]
    time.sleep(delay)  # from the first jaxlib mapping: JAX importing, then XLA starting, then the sweep
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, 0), err  # 0: the machine finished the tiny sweep first
    assert "Traceback" not in err
    if proc.returncode == 130:
        assert err.strip().splitlines() == [
            "jaxgrads: interrupted; finished rows are kept (rerun with --resume)"
        ]


def test_bfloat16_arrays_load_with_numpy_alone(tmp_path):
    arrays = tmp_path / "arrays"
    result = jaxgrads("run", *SMALL, "--dtypes", "bfloat16", "-o", str(tmp_path / "r.csv"),
                      "--save-arrays", str(arrays))  # fmt: skip
    assert result.returncode == 0, result.stderr
    saved = np.load(arrays / "inner-x-jacrev-4-bfloat16.npz", allow_pickle=False)
    assert saved["x"].dtype == np.float32
    assert saved["v"].dtype == np.float32
    assert str(saved["dtype"]) == "bfloat16"
    assert saved["jacobian"].dtype == np.float64
    np.testing.assert_array_equal(saved["jacobian"], saved["v"])  # dy/dx = v, exact in bfloat16


# ---------------------------------------------------------------- closed forms that are checked


def _matvec(name, closed_form):
    return jg.Problem(
        name=name, fn=lambda xp, A, x: A @ x, args=("A", "x"),
        make_inputs=jg.gaussian_inputs(lambda s: {"A": (s.m, s.n), "x": (s.n,)}),
        derivatives=(jg.Derivative("x", closed_form, linear=True),), dims=("m", "n"), scalar_output=False,
    )  # fmt: skip


WRONG_CLOSED_FORMS = {
    "wrong sign": lambda xp, A, x: -A,
    "0.1% off": lambda xp, A, x: A * (1 + 1e-3),
    "1e-5 off": lambda xp, A, x: A * (1 + 1e-5),
    "wrong shape": lambda xp, A, x: A.T,
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(WRONG_CLOSED_FORMS))
def test_a_wrong_closed_form_fails_its_own_rows_and_autodiff_passes(case, dtype):
    problem = _matvec("wrong_closed_form", WRONG_CLOSED_FORMS[case])
    rows = {}
    for method in ("analytic", "jacrev", "jacfwd"):
        k = jg.build_kernel(problem, "x", method, jg.Size(6, 5), dtype, device="cpu")
        ref = reference(k)
        rows[method] = accuracy(k, k(), ref)
        assert ref.closed_form_error.startswith("the closed form disagrees with autodiff (float64 jacrev")
    assert rows["analytic"]["ok"] is False
    assert rows["analytic"]["message"].startswith("the closed form disagrees with autodiff")
    assert rows["jacrev"]["ok"] is True
    assert rows["jacfwd"]["ok"] is True
    assert "message" not in rows["jacrev"]


@pytest.fixture
def projected(monkeypatch):
    """Every Jacobian checked by projections first (as a large one is), whole only when they disagree."""
    from jaxgrads.measure import accuracy as accuracy_module

    monkeypatch.setattr(accuracy_module, "PROJECT_MIN_ELEMENTS", 1)
    whole = []
    real = accuracy_module._autodiff_f64
    monkeypatch.setattr(accuracy_module, "_autodiff_f64", lambda k, *rest: whole.append(k) or real(k, *rest))
    return whole


@pytest.mark.parametrize("case", list(WRONG_CLOSED_FORMS))
def test_projections_catch_every_wrong_closed_form_then_check_it_whole(projected, case):
    problem = _matvec("wrong_closed_form", WRONG_CLOSED_FORMS[case])
    k = jg.build_kernel(problem, "x", "analytic", jg.Size(6, 5), "float64", device="cpu")
    ref = reference(k, same_dtype=False)
    assert ref.closed_form_error.startswith("the closed form disagrees with autodiff (float64 jacrev")
    assert len(projected) == 1  # the whole float64 jacrev, for the message and the reference


def test_projections_trust_every_built_in_closed_form_without_the_whole_jacobian(projected):
    for p in jg.list_problems():
        for d in p.derivatives:
            if d.closed_form is None:
                continue
            for dtype in ("float32", "float64"):
                k = jg.build_kernel(p, d.name, "analytic", jg.Size(5, 3, 2), dtype, device="cpu")
                assert reference(k, same_dtype=False).closed_form_error == "", (p.name, d.name, dtype)
    assert projected == []  # none needed jacrev's whole float64 Jacobian


@pytest.mark.parametrize(("m", "n", "entries"), [(1, 1000, 64), (1000, 1, 64), (37, 53, 64), (37, 53, 10**6),
                                                 (5, 300, 128)])
def test_tiled_products_are_the_whole_matrix_products(m, n, entries):
    """The projections' products, tile by tile (tiles that do not divide the matrix, a single row or
    column), equal J v, u J, (|J| + S)|v| and |u|(|J| + S) over the whole matrix."""
    from jaxgrads.measure.projections import _tiled_products

    rng = np.random.default_rng(3)
    J, S = rng.standard_normal((m, n)), np.abs(rng.standard_normal((m, n)))
    v, u = rng.standard_normal(n), rng.standard_normal(m)
    cv, cu, bv, bu = _tiled_products(J, S, v, u, entries)
    B = np.abs(J) + S
    for got, want in ((cv, J @ v), (cu, u @ J), (bv, B @ np.abs(v)), (bu, np.abs(u) @ B)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert _tiled_products(J, None, v, u, entries)[2:] == (None, None)


def test_projections_see_one_wrong_entry_in_a_million():
    """A 1024x1024 Jacobian with one entry 1e-5 off: the componentwise bound of its row is ~1e-9."""
    from jaxgrads.measure.projections import projected_verdict
    from jaxgrads.measure.tolerance import rtol

    rng = np.random.default_rng(1)
    J = rng.standard_normal((1024, 1024))
    v, u = rng.standard_normal(1024), rng.standard_normal(1024)
    exact = (v, J @ v, u, u @ J)
    tol = rtol(np.float64, 1024)
    assert projected_verdict(J, np.abs(J), exact, tol)[0] is True
    assert projected_verdict(J, None, exact, 1e-8)[0] is True
    wrong = J.copy()
    wrong[7, 300] *= 1 + 1e-5
    ok, detail = projected_verdict(wrong, np.abs(J), exact, tol)
    assert ok is False
    assert detail.startswith("worst projected |error| / bound")
    assert projected_verdict(J.T.copy(), None, exact, 1e-8)[0] is False  # a transpose, normwise


def test_a_right_closed_form_is_trusted():
    k = jg.build_kernel(_matvec("right_closed_form", lambda xp, A, x: A), "x", "analytic", jg.Size(6, 5),
                        "float32", device="cpu")  # fmt: skip
    ref = reference(k)
    assert ref.closed_form_error == ""
    assert accuracy(k, k(), ref)["ok"] is True


def test_every_built_in_closed_form_agrees_with_autodiff():
    for p in jg.list_problems():
        for d in p.derivatives:
            if d.closed_form is None:
                continue
            k = jg.build_kernel(p, d.name, "analytic", jg.Size(5, 3, 2), "float64", device="cpu")
            assert reference(k, same_dtype=False).closed_form_error == "", (p.name, d.name)


def test_analytic_alone_with_a_wrong_closed_form_is_not_ok(tmp_path):
    plugin = tmp_path / "wrong.py"
    plugin.write_text(
        "import jaxgrads as jg\n"
        "jg.register(jg.Problem(name='wrongsign', fn=lambda xp, A, x: A @ x, args=('A', 'x'),\n"
        "    make_inputs=jg.gaussian_inputs(lambda s: {'A': (s.m, s.n), 'x': (s.n,)}),\n"
        "    derivatives=(jg.Derivative('x', lambda xp, A, x: -A, linear=True),), dims=('m', 'n'),\n"
        "    scalar_output=False))\n"
    )
    out = tmp_path / "r.csv"
    result = jaxgrads("run", "--problems-from", str(plugin), "--problems", "wrongsign", "--methods",
                      "analytic", "--sizes", "8x5", *FAST, "-o", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1].startswith("1 rows (1 ok, 0 skipped, 0 error, 1 inaccurate)")
    )
    row = read_results(out).iloc[0]
    assert not row["ok"]
    assert row["message"].startswith("the closed form disagrees with autodiff")


def test_the_summary_never_names_an_inaccurate_or_nan_method_fastest():
    base = {f: "" for f in FIELDS} | {"problem": "p", "wrt": "x", "m": 0, "n": 4, "batch": 0,
                                       "dtype": "float32", "status": "ok", "chunk_size": 0}  # fmt: skip
    df = pd.DataFrame([
        base | {"method": "jacfwd", "time_median_s": 1e-6, "ok": False},
        base | {"method": "linearize", "time_median_s": float("nan"), "ok": True},
        base | {"method": "jacrev", "time_median_s": 5e-6, "ok": True},
    ])  # fmt: skip
    line = summary_table(df).splitlines()[-1]
    assert line.startswith("| p | x | 4 float32 | jacrev | 5 µs |")


def test_sample_fields_are_what_the_samples_file_holds(two_rows):
    header = two_rows[1].split(b"\n", 1)[0].decode().strip()
    assert tuple(header.split(",")) == SAMPLE_FIELDS


# ---------------------------------------------------------------- a plug-in that raises


RAISING_PLUGINS = '''
import jax
import jaxgrads as jg


def _problem(name, fn, closed=None, make=None):
    jg.register(jg.Problem(
        name=name, fn=fn, args=("x",), dims=("n",), scalar_output=False,
        make_inputs=make or jg.gaussian_inputs(lambda s: {"x": (s.n,)}),
        derivatives=(jg.Derivative("x", closed or (lambda xp, x: 2.0 * xp.eye(x.shape[0], dtype=x.dtype))),),
    ), replace=True)


def _boom(x):
    raise RuntimeError("boom at run time")


def at_run_time(xp, x):
    if xp.__name__ != "numpy":
        jax.debug.callback(_boom, x)
    return 2.0 * x


def bad_closed_form(xp, x):
    raise RuntimeError("boom in the closed form")


def bad_maker(size):
    raise RuntimeError("boom in the input maker")


_problem("raises_at_trace", lambda xp, x: x * float(x.sum()))
_problem("raises_at_run_time", at_run_time)
_problem("raises_in_closed_form", lambda xp, x: 2.0 * x, closed=bad_closed_form)
_problem("raises_in_input_maker", lambda xp, x: 2.0 * x, make=jg.gaussian_inputs(bad_maker))
'''
RAISED = {  # each problem's rows' message: the plug-in named, what raised, the exception's line
    "raises_at_trace": "its function raised ConcretizationTypeError",
    "raises_at_run_time": "its function raised JaxRuntimeError: RuntimeError: boom at run time",
    "raises_in_closed_form": "its closed form raised RuntimeError: boom in the closed form",
    "raises_in_input_maker": "its input maker raised RuntimeError: boom in the input maker",
}


def test_a_plugin_raising_four_ways_fails_its_rows_and_the_sweep_goes_on(tmp_path):
    plugin = tmp_path / "raising.py"
    plugin.write_text(RAISING_PLUGINS)
    out = tmp_path / "r.csv"
    result = jaxgrads("run", "--problems-from", str(plugin), "--problems", *RAISED, "inner", "--wrt", "x",
                      "--methods", "jacrev", "analytic", "--sizes", "4", *FAST, "-o", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    df = read_results(out)
    assert set(df["problem"]) == {*RAISED, "inner"}
    assert (df.loc[df["problem"] == "inner", "status"] == "ok").all()
    for problem, message in RAISED.items():
        rows = df[df["problem"] == problem].set_index("method")
        if problem == "raises_in_closed_form":  # the closed form's row fails; jacrev is checked by autodiff
            assert rows.loc["jacrev", "status"] == "ok"
            assert str(rows.loc["jacrev", "ok"]) == "True"
            rows = rows.loc[["analytic"]]
        assert (rows["status"] == "error").all(), rows[["status", "message"]]
        for text in rows["message"]:
            assert text.startswith(f"{problem}: {message}"), text
            assert "\n" not in text


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc/PID/maps")
def test_sigterm_stops_an_overwrite_as_ctrl_c_does(tmp_path):
    out = write_run(tmp_path, b"old\n", b"old\n")
    args = ["--problems", "quadratic", "matvec", "bilinear", "--sizes", "8", "16", "24", *FAST]
    proc = subprocess.Popen(
        [sys.executable, "-m", "jaxgrads", "run", *args, "--overwrite", "-o", str(out)],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline, finished = time.monotonic() + 300, False  # a loaded machine may take long for a row
    while not finished and time.monotonic() < deadline and proc.poll() is None:
        rows = [p for p in tmp_path.iterdir() if p.name.startswith(".r.csv") and p.suffix == ".csv"]
        finished = any(len(p.read_bytes().splitlines()) >= 2 for p in rows)  # the new file has a whole row
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the sweep finished before the signal")
    assert proc.returncode == 143, err
    stopped = "jaxgrads: stopped by SIGTERM; finished rows are kept (rerun with --resume)"
    assert err.strip().splitlines() == [stopped]
    if finished:
        assert len(read_results(out)) >= 1  # the finished rows replaced the old file
    else:  # stopped before its first row: the old file as it was
        assert out.read_bytes() == b"old\n"
    assert leftovers(tmp_path, "r.csv", "r.samples.csv") == []


def test_sigterm_to_ab_stops_its_child_run_which_leaves_no_lock(tmp_path):
    """A parent stopped while a child ``jaxgrads run`` writes: the child is interrupted as by a Ctrl-C
    (its finished rows kept, its ``.NAME.csv.lock`` removed), never killed outright or left running."""
    out = tmp_path / "ab"
    args = ["--problems", "quadratic", "matvec", "bilinear", "--sizes", "8", "16", "24", *FAST]
    proc = subprocess.Popen(
        [sys.executable, "-m", "jaxgrads", "ab", "--a", sys.executable, "--b", sys.executable, "-o", str(out),
         *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not list(out.glob(".*.lock")):
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the A/B ended before its first child locked its output")
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)  # the parent alone, as `kill PID` or a CI runner's cancel does
    proc.communicate(timeout=120)
    assert proc.returncode == 143
    time.sleep(0.5)
    assert sorted(p.name for p in out.iterdir() if p.name.endswith(".lock")) == []
    running = subprocess.run(["pgrep", "-f", str(out)], capture_output=True, text=True).stdout.split()
    assert running == []
