"""The static site: pages that need nothing from the network, every chart drawn, replaced whole or not
at all, bad input refused; and, in headless Chromium, charts rendered, no console error, tables that
sort on a click, filters that hide, and a screenshot kept."""

import os
import re
import shutil
from pathlib import Path

import pytest
from clitools import FAST, assert_one_line_error, jaxgrads
from histories import git_repo, read_as_text, stepped, write_run

from jaxgrads.history.store import History

pytest.importorskip("matplotlib", reason="the site draws with the [plot] extra")

ARTIFACTS = Path(__file__).parent / ".artifacts"  # screenshots kept for a look (git-ignored)
CHROMIUM = os.environ.get("JAXGRADS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A real run: two targets, three sizes, two dtypes, forward, reverse and the closed form."""
    out = tmp_path_factory.mktemp("run") / "run.csv"
    res = jaxgrads(
        "run",
        "--problems",
        "matvec",
        "inner",
        "--sizes",
        "8",
        "16",
        "32",
        "--methods",
        "jacfwd",
        "jacrev",
        "analytic",
        "--dtypes",
        "float32",
        "float64",
        *FAST,
        "-o",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def small_results(tmp_path_factory) -> Path:
    """A real run small enough for the quick tier: one target, two sizes, reverse and closed form."""
    out = tmp_path_factory.mktemp("small") / "run.csv"
    res = jaxgrads("run", "--problems", "matvec", "--wrt", "x", "--sizes", "8", "16", "--methods", "jacrev",
                   "analytic", *FAST, "-o", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    return out


def assert_self_contained(site: Path) -> None:
    """Every page loads nothing from elsewhere, and every link it has resolves inside the site."""
    for page in pages(site):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<(link|img|iframe)\b", text), page.name  # nothing loaded from elsewhere
        assert not re.search(r"\bsrc=", text), page.name
        assert not re.search(r"\burl\((?!#)", text), page.name  # CSS/SVG: only same-document references
        for href in re.findall(r'href="([^"#]+)"', text):
            assert not href.startswith(("http:", "https:", "//")), (page.name, href)
            assert (site / href).is_file(), (page.name, href)
        assert "<script>" in text
        assert "<style>" in text


def test_a_site_of_a_small_run_is_self_contained(small_results, tmp_path):
    out = tmp_path / "site"
    res = jaxgrads("site", str(small_results), "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert {"index.html", "target-matvec-x.html"} <= {p.name for p in pages(out)}
    assert_self_contained(out)
    text = (out / "target-matvec-x.html").read_text(encoding="utf-8")
    assert text.count("<svg") == text.count('<figure class="chart"') > 0


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, Path]:
    """8 commits on 2 machines, one kernel stepping up 2x at the 6th: (history folder, repository)."""
    root = tmp_path_factory.mktemp("history")
    commits = git_repo(root / "repo", 8)
    h = History(root / "h")
    (root / "runs").mkdir()
    for i, c in enumerate(commits):
        for m in ("a", "b"):
            h.add(write_run(root / "runs" / f"{m}{i}.csv", c, i, m, stepped(5)))
    return root / "h", root / "repo"


@pytest.fixture(scope="module")
def site(results, history, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    res = jaxgrads(
        "site", str(results), "--history", str(history[0]), "--repo", str(history[1]), "-o", str(out)
    )
    assert res.returncode == 0, res.stderr
    assert "kernel histories" in res.stdout
    return out


def pages(site: Path) -> list[Path]:
    return sorted(site.glob("*.html"))


@pytest.mark.slow
def test_every_page_is_self_contained_and_every_link_resolves(site):
    names = {p.name for p in pages(site)}
    assert {"index.html", "target-matvec-x.html", "target-inner-x.html"} <= names
    assert_self_contained(site)


@pytest.mark.slow
def test_target_pages_chart_time_speedup_and_roofline_per_dtype(site):
    text = (site / "target-matvec-x.html").read_text(encoding="utf-8")
    for dtype in ("float32", "float64"):
        for chart in ("time-matvec-x", "speedup-matvec-x", "roofline"):
            assert re.search(rf'<figure class="chart" data-dtype="{dtype}"[^>]*>\s*<svg', text)
            assert f"{chart}" in text
    assert text.count("<svg") == text.count('<figure class="chart"') == 6
    table = re.search(r'<table class="sortable">.*?</table>', text, re.S).group(0)
    assert table.count("<tr ") == 3 * 3 * 2  # methods x sizes x dtypes


@pytest.mark.slow
def test_history_pages_mark_steps_and_keep_fingerprints_apart(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "Fingerprints" in index
    assert index.count("<li><code>cpu-cpu-") == 2
    assert "matvec-x-jacrev-64-float32" in index  # the regression, linked
    kernel = (site / "kernel-matvec-x-jacrev-64-float32.html").read_text(encoding="utf-8")
    assert re.search(r"×(1\.9\d*|2(\.0\d*)?) \(1\.00\)", kernel)  # the step's annotation in the chart
    assert "cpu-cpu-a-2cpu" in kernel
    assert "cpu-cpu-b-2cpu" in kernel
    flat = (site / "kernel-matvec-x-analytic-64-float32.html").read_text(encoding="utf-8")
    assert "No step" in flat


@pytest.mark.slow
def test_the_site_is_replaced_whole_or_not_at_all(results, tmp_path):
    out = tmp_path / "site"
    assert jaxgrads("site", str(results), "-o", str(out)).returncode == 0
    before = {p.name: p.read_text() for p in pages(out)}
    assert_one_line_error(jaxgrads("site", str(results), "-o", str(out)), "--overwrite")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert_one_line_error(
        jaxgrads("site", str(results), "-o", str(tmp_path / "mine"), "--overwrite"), "not a jaxgrads site"
    )
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    (tmp_path / "file").write_text("x")
    assert_one_line_error(jaxgrads("site", str(results), "-o", str(tmp_path / "file")), "is a file")
    assert_one_line_error(
        jaxgrads("site", str(results), "-o", str(tmp_path / "no" / "site")), "does not exist"
    )
    res = jaxgrads("site", str(results), "-o", str(out), "--overwrite")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in pages(out)) == sorted(before)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


@pytest.mark.slow
def test_a_failure_while_writing_leaves_the_old_site(results, tmp_path, monkeypatch):
    from jaxgrads.cli.report import read_all
    from jaxgrads.site import build

    df = read_all([str(results)])
    out = tmp_path / "site"
    build.write_site(df, out, sources=["run.csv"], overwrite=False)
    old = (out / "index.html").read_text()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build, "_index", broken)
    with pytest.raises(OSError, match="No space"):
        build.write_site(df, out, sources=["run.csv"], overwrite=True)
    assert (out / "index.html").read_text() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_bad_input_is_one_line(small_results, tmp_path):
    results = small_results
    assert_one_line_error(
        jaxgrads("site", str(results), "-o", str(tmp_path / "s"), "--history", str(tmp_path / "no")),
        "is empty",
    )
    assert_one_line_error(
        jaxgrads("site", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "s")), "missing.csv"
    )
    assert_one_line_error(jaxgrads("site", str(results)), "--output/-o")
    untimed = tmp_path / "untimed.csv"
    read_as_text(results).assign(status="error").to_csv(untimed, index=False)
    assert_one_line_error(jaxgrads("site", str(untimed), "-o", str(tmp_path / "s")), "no timed rows")
    assert not (tmp_path / "s").exists()


# --- in a real browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip(
            "no Chromium: apt-get install chromium (or set JAXGRADS_CHROMIUM); "
            "see docs/history.md"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the [browser] extra: pip install 'jaxgrads[browser]'"
    )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield b
        b.close()


def open_page(browser, path: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: errors.append(f"request {r.url}") if not r.url.startswith("file:") else None)
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, errors


@pytest.mark.slow
def test_every_chart_renders_without_console_errors(browser, site):
    for path in pages(site):
        page, errors = open_page(browser, path)
        figures = page.locator("figure.chart")
        for i in range(figures.count()):
            box = figures.nth(i).locator("svg").bounding_box()
            assert box is not None, (path.name, i)
            assert box["width"] > 200, (path.name, i)
            assert box["height"] > 100, (path.name, i)
        assert errors == [], (path.name, errors)
        page.close()


@pytest.mark.slow
def test_a_table_sorts_on_click_and_filters_hide(browser, site):
    page, errors = open_page(browser, site / "target-matvec-x.html")
    table = page.locator("table.sortable").last
    header = table.locator("th", has_text="time").first
    column = [c.strip() for c in table.locator("thead th").all_inner_texts()].index("time")

    def times():
        return [
            float(v)
            for v in table.locator(f"tbody tr td:nth-child({column + 1})").evaluate_all(
                "cells => cells.map(c => c.getAttribute('data-value'))"
            )
        ]

    header.click()
    assert times() == sorted(times())
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert times() == sorted(times(), reverse=True)
    page.select_option("select[data-filter=dtype]", "float64")
    visible = table.locator("tbody tr:visible")
    assert visible.count() == 9
    assert set(visible.evaluate_all("rows => rows.map(r => r.dataset.dtype)")) == {"float64"}
    charts = page.locator("figure.chart:visible")
    assert charts.count() == 3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "site-target-matvec-x.png"), full_page=True)
    assert (ARTIFACTS / "site-target-matvec-x.png").stat().st_size > 10_000
    assert errors == []
    page.close()


@pytest.mark.slow
def test_the_index_answers_per_target_first(browser, site):
    """The index's first chart is the verdict per target (its fastest autodiff over the floor and over
    the closed form), a screenshot of it kept for a look."""
    page, errors = open_page(browser, site / "index.html")
    first = page.locator("figure.chart").first
    assert first.locator("figcaption").inner_text() == "verdict"
    box = first.locator("svg").bounding_box()
    assert box is not None
    assert box["width"] > 400
    assert box["height"] > 150
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "site-index.png"), full_page=True)
    assert (ARTIFACTS / "site-index.png").stat().st_size > 10_000
    assert errors == []
    page.close()
