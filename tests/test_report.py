"""Figures (headless, Agg), generated findings and the floor section, on synthetic results tables."""

import math

import pandas as pd
import pytest
from clitools import assert_one_line_error, jaxgrads

from jaxgrads.results.files import atomic_write_text
from jaxgrads.results.schema import FIELDS, samples_path

drawing = pytest.importorskip("jaxgrads.report.figures")
pytest.importorskip("matplotlib", reason="the [plot] extra")

from jaxgrads.report.findings import findings_section  # noqa: E402
from jaxgrads.report.floor import floor_section  # noqa: E402
from jaxgrads.report.markdown import markdown_report  # noqa: E402

ROOF = {"ceiling_bytes_per_s": 1e10, "ceiling_flops_per_s": 1e11}


def row(problem, wrt, method, m, n, t, *, wrt_elements, out_elements, status="ok", **extra):
    base = {f: "" for f in FIELDS} | ROOF
    jac = wrt_elements * out_elements
    traffic = 8 * jac  # as matvec / x: A read, the Jacobian written, float32
    floor = max(1e-6, traffic / ROOF["ceiling_bytes_per_s"])
    return base | {
        "run_id": "synthetic", "started_at": "2026-01-01T00:00:00+00:00", "host": "h", "cpu_model": "c",
        "backend": "cpu", "device_kind": "cpu", "jax_version": "0.10.2", "jaxlib_version": "0.10.2",
        "x64": True, "problem": problem, "wrt": wrt, "method": method, "m": m, "n": n, "batch": 0,
        "dtype": "float32", "jac_shape": f"{out_elements}x{wrt_elements}", "jac_bytes": 4 * jac,
        "status": status, "time_median_s": t if status == "ok" else math.nan, "samples": 3,
        "flops": 2.0 * jac, "bytes_accessed": 8.0 * jac, "ok": True, "dispatch_floor_s": 1e-6,
        "memory_budget_bytes": 2**30, "chunk_size": 0, "wrt_elements": wrt_elements,
        "out_elements": out_elements, "err_f64": 0.0, "max_abs_err": 0.0, "traffic_bytes": traffic,
        "traffic_read_bytes": 4 * jac, "min_flops": 0.0, "floor_s": floor,
        "floor_level": "dispatch" if floor == 1e-6 else "memory",
    } | extra  # fmt: skip


def synthetic() -> pd.DataFrame:
    rows = []
    # matvec / x, squares 32..512: analytic, jacfwd, jacrev, analytic_textbook
    for n in (32, 128, 512):
        for method, scale in (
            ("analytic", 1.0),
            ("jacfwd", 3.0),
            ("jacrev", 2.0),
            ("analytic_textbook", 5.0),
        ):
            rows.append(
                row("matvec", "x", method, n, n, scale * n * n * 1e-9, wrt_elements=n, out_elements=n)
            )
    # the crossover: m·n = 4096, m/n from 1/16 to 16; jacfwd costs n, jacrev m (the model exactly)
    for m in (16, 64, 256, 1024, 4096 // 16 * 16 // 16 * 16):
        n = 4096 // m
        rows.append(row("matvec", "x", "jacfwd", m, n, n * 1e-6, wrt_elements=n, out_elements=m))
        rows.append(row("matvec", "x", "jacrev", m, n, m * 1e-6, wrt_elements=n, out_elements=m))
    # one over-budget skip
    rows.append(row("matvec", "A", "jacfwd", 512, 512, 0, wrt_elements=512 * 512, out_elements=512,
                    status="skipped", message="needs ~9999 MiB, over the 1024 MiB budget"))  # fmt: skip
    rows.append(row("matvec", "A", "jacrev", 64, 64, 1e-3, wrt_elements=64 * 64, out_elements=64))
    return pd.DataFrame(rows, columns=list(FIELDS)).drop_duplicates(["problem", "wrt", "method", "m", "n"])


@pytest.fixture
def figures():
    made = dict(drawing.iter_figures(synthetic()))
    yield made
    import matplotlib.pyplot as plt

    plt.close("all")


def test_time_vs_size_has_one_line_per_method_the_floor_and_log_axes(figures):
    ax = figures["time-matvec-x"].axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert sorted(labels) == ["analytic", "analytic_textbook", "floor, dense output", "jacfwd", "jacrev"]
    floor = next(line for line in ax.get_lines() if line.get_label() == "floor, dense output")
    # 64: a crossover shape that is square
    expected = [max(1e-6, 8 * n * n / ROOF["ceiling_bytes_per_s"]) for n in (32, 64, 128, 512)]
    assert list(floor.get_ydata()) == pytest.approx(expected)
    jacfwd, jacrev = (next(x for x in ax.get_lines() if x.get_label() == m) for m in ("jacfwd", "jacrev"))
    assert (jacfwd.get_color(), jacfwd.get_marker()) != (jacrev.get_color(), jacrev.get_marker())
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "(s)" in ax.get_ylabel()
    assert "elements" in ax.get_xlabel()
    closed = next(line for line in ax.get_lines() if line.get_label() == "analytic")
    assert closed.get_linestyle() == "--"  # the closed form drawn distinctly
    assert closed.get_color() == "black"
    assert len(closed.get_xdata()) == 3  # the square family: 32, 128, 512; not the crossover shapes


def test_speedup_is_each_method_over_analytic(figures):
    ax = figures["speedup-matvec-x"].axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"jacfwd", "jacrev", "analytic_textbook", "analytic (= 1)"}
    assert list(lines["jacfwd"].get_ydata()) == pytest.approx([3.0, 3.0, 3.0])
    assert list(lines["analytic_textbook"].get_ydata()) == pytest.approx([5.0, 5.0, 5.0])


def test_floor_figure_has_every_kernel_and_its_floor(figures):
    ax = figures["floor"].axes[0]
    floors = [c for c in ax.collections if c.get_label().startswith("floor: ")]
    kernels = [c for c in ax.collections if not c.get_label().startswith("floor: ")]
    ok = (synthetic()["status"] == "ok").sum()
    assert sum(len(c.get_offsets()) for c in floors) == ok
    assert sum(len(c.get_offsets()) for c in kernels) == ok
    assert {c.get_label() for c in floors} == {"floor: dispatch", "floor: memory"}
    assert ax.get_xlabel().startswith("compulsory traffic")


def test_crossover_marks_model_and_measurement(figures):
    ax = figures["crossover"].axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["measured t_jacfwd / t_jacrev", "cost model: n JVPs / m VJPs = n/m"]
    assert "model crossover (m = n)" in labels
    assert any(label.startswith("measured crossover (m/n ≈ 1") for label in labels)
    measured = ax.get_lines()[0]
    assert list(measured.get_ydata()) == pytest.approx(list(ax.get_lines()[1].get_ydata()))


def test_measured_crossover_interpolates_in_log_space():
    sel = pd.DataFrame({"aspect": [0.25, 4.0], "ratio": [2.0, 0.5]})
    assert drawing.measured_crossover(sel) == pytest.approx(1.0)
    assert drawing.measured_crossover(pd.DataFrame({"aspect": [1, 2], "ratio": [3.0, 2.0]})) is None


def test_findings_are_computed_from_the_rows():
    text = findings_section(synthetic())
    assert "the measured crossover is at m/n ≈ 1, where the cost model puts it at 1" in text
    assert "the cost model picked the faster mode in 4 of 4 cases" in text
    assert "The textbook closed form took up to 5× the fast one's time (matvec/x" in text
    assert "it was slower in 3 of 3 cases" in text
    assert "| matvec / A | jacfwd | – | 512 float32 |" in text  # refused over budget, none ran
    assert "| matvec / A | jacrev | 64 float32 (1 MiB) | – |" in text  # 64 x 4096 float32


def test_floor_section_gives_floor_bound_and_distances():
    text = floor_section(synthetic())
    # matvec/x at 512: 2 MiB of traffic at 10 GB/s = 210 µs; analytic took 262 µs
    row = "| matvec / x | 512 float32 | 2048 KiB | 210 µs | memory | analytic 1.25× | 1.25× | 3.75× | 2.5× |"
    assert row in text
    assert "memory 10 GB/s; 100 GFLOP/s; dispatch 1 µs" in text
    # the crossover's jacfwd at 4096x1 is set at 1 µs, under its 3.3 µs floor: named as a defect
    assert "**Floor defect**: 1 of 23 timed kernels" in text
    assert "matvec/x/jacfwd 4096x1 float32: 0.305× its floor (memory)" in text
    assert "Within 2× of the floor (cases): analytic" in text
    assert "Regimes of the 23 timed kernels, by the term that bounds each floor: memory" in text


def test_the_floor_section_names_the_cache_sizes_and_their_source():
    source = "sysfs; L3 480 MiB not shown by the bandwidth probe (128 MiB at 1.00x the memory rate): 32 MiB"
    df = synthetic().assign(cache_l1_bytes=48 * 2**10, cache_l2_bytes=2 * 2**20, cache_l3_bytes=32 * 2**20,
                            cache_source=source)  # fmt: skip
    text = floor_section(df)
    assert f"caches L1 48 KiB, L2 2 MiB, L3 32 MiB (from {source})" in text
    older = floor_section(synthetic())  # a file from before cache_source: no sizes, nothing claimed
    assert "caches" not in older


def test_report_embeds_figures_relative_to_itself(tmp_path):
    df = synthetic()
    made = drawing.plot_all(df, tmp_path / "figs")
    assert {p.suffix for paths in made.values() for p in paths} == {".png", ".svg"}
    assert all(p.stat().st_size > 1000 for paths in made.values() for p in paths)
    text = markdown_report(df, figures=made, relative_to=tmp_path)
    assert "![crossover](figs/crossover.png)" in text
    assert "## Findings" in text
    assert "## Floor" in text


def write_run(path, df):
    atomic_write_text(path, df.to_csv(index=False))
    atomic_write_text(
        samples_path(path), "run_id,problem,wrt,method,m,n,batch,dtype,chunk_size,sample,time_s\n"
    )
    return path


def test_plot_command_writes_pngs_and_svgs(tmp_path):
    run = write_run(tmp_path / "run.csv", synthetic())
    result = jaxgrads("plot", str(run), "-o", str(tmp_path / "figs"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"figures -> {tmp_path / 'figs'}")
    assert (tmp_path / "figs" / "crossover.png").stat().st_size > 0
    assert (tmp_path / "figs" / "time-matvec-x.svg").stat().st_size > 0


def test_report_command_with_plots(tmp_path):
    run = write_run(tmp_path / "run.csv", synthetic())
    md = tmp_path / "out" / "latest.md"
    md.parent.mkdir()
    result = jaxgrads("report", str(run), "--plots", str(md.parent / "figures"), "-o", str(md))
    assert result.returncode == 0, result.stderr
    assert "![floor](figures/floor.png)" in md.read_text()


BAD_FILES = {
    "missing": (None, "no such file"),
    "empty": ("", "empty file"),
    "malformed": ("a,b\n1,2\n3,4,5\n", "not a CSV"),
    "not jaxgrads": ("a,b\n1,2\n", "missing columns"),
}


@pytest.mark.parametrize("command", ["plot", "report"])
@pytest.mark.parametrize("case", [*BAD_FILES, "no timed rows"])
def test_plot_and_report_refuse_bad_files_writing_nothing(tmp_path, command, case):
    path = tmp_path / "run.csv"
    if case == "no timed rows":
        write_run(path, synthetic().assign(status="skipped"))
        message = "no timed rows"
    else:
        text, message = BAD_FILES[case]
        if text is not None:
            path.write_text(text)
    out = tmp_path / "out"
    args = ["-o", str(out)] if command == "plot" else ["--plots", str(out), "-o", str(tmp_path / "r.md")]
    result = jaxgrads(command, str(path), *args)
    assert_one_line_error(result, message)
    assert not out.exists()
    assert not (tmp_path / "r.md").exists()


def test_plot_into_a_file_is_refused(tmp_path):
    run = write_run(tmp_path / "run.csv", synthetic())
    result = jaxgrads("plot", str(run), "-o", str(run))
    assert_one_line_error(result, "is a file; give a folder")


def test_the_verdict_is_the_fastest_accurate_autodiff_at_the_largest_size_with_a_closed_form():
    from jaxgrads.report.verdict import verdict_markdown, verdict_table

    rows = [row("matvec", "x", m, n, n, t * 1e-3, wrt_elements=n, out_elements=n, **extra)
            for n in (64, 256, 1024) for m, t, extra in (
                ("analytic", 1.0, {}), ("analytic_textbook", 0.5, {}),  # the textbook form is no autodiff
                ("numpy_analytic", 0.4, {}), ("torch_analytic", 0.3, {}),  # nor is a peer's closed form
                ("jacrev", 2.0, {}), ("jacfwd", 0.8, {"ok": False}),  # an inaccurate row is no candidate
            )]  # fmt: skip
    rows.append(row("matvec", "x", "jacrev", 4096, 4096, 1.0, wrt_elements=4096, out_elements=4096))  # alone
    v = verdict_table(pd.DataFrame(rows)).set_index("target").loc["matvec/x"]
    assert (v["size"], v["best"]) == ("1024", "jacrev")
    # divided by the fastest closed form measured at that size: NumPy's, not the registered one (1 ms),
    # and not a peer's (torch_analytic measures torch's dispatch)
    assert (v["closed_form"], v["over_closed_form"]) == ("numpy_analytic", pytest.approx(5.0))
    floor = max(1e-6, 8 * 1024 * 1024 / ROOF["ceiling_bytes_per_s"])
    assert v["over_floor"] == pytest.approx(2e-3 / floor)
    assert "| matvec/x | float32 | 1024 | `jacrev` | 2 ms | 400 µs (`numpy_analytic`) |" in verdict_markdown(
        pd.DataFrame(rows)
    )
    assert "## Verdict" in markdown_report(pd.DataFrame(rows))


def test_every_method_keeps_its_colour_and_marker_and_no_two_share_both():
    from jaxgrads.methods import METHODS
    from jaxgrads.report.plots import method_style

    styles = {name: method_style(name) for name in METHODS}
    pairs = [(s["color"], s["marker"]) for s in styles.values()]
    assert len(set(pairs)) == len(pairs)
    assert method_style("jacrev_chunked·c64")["color"] == styles["jacrev_chunked"]["color"]
    assert styles["analytic"]["color"] == "black"
