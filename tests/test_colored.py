"""Structured Jacobians: declared patterns against the closed forms, colorings against their
definition, colored kernels degrading on dense targets, BCOO outputs, the asdex peer, the structure
section. (Every colored method is also checked against the closed form on every target, size and
dtype in test_methods.py.)"""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from clitools import ENV, FAST, assert_one_line_error, jaxgrads
from jax.experimental import sparse

import jaxgrads as jg
from jaxgrads.methods.colored import greedy_coloring, prepare_coloring, sparsity_pattern
from jaxgrads.problems.registry import Size
from jaxgrads.report.structure import structure_section
from jaxgrads.results.schema import read_results
from jaxgrads.sweep import plan
from jaxgrads.sweep.config import STRUCTURE_SWEEP, Sweep

DECLARED = [(p, d) for p in jg.list_problems() for d in p.derivatives if d.sparsity is not None]
SIZES = (Size(5, 4, 3), Size(1, 6, 1), Size(7, 1, 2))


def _shapes(problem, size):
    return {k: v.shape for k, v in problem.inputs(problem.canonical(size), np.float64).items()}


@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize(("problem", "derivative"), DECLARED, ids=lambda t: getattr(t, "name", None))
def test_a_declared_pattern_is_exactly_the_closed_forms_nonzeros(problem, derivative, size):
    # Gaussian inputs have no zero entries: the closed form is nonzero exactly on the structure
    for seed in (0, 1):
        inputs = problem.inputs(problem.canonical(size), np.float64, seed)
        closed = np.asarray(derivative.closed_form(np, **inputs))
        shapes = _shapes(problem, size)
        rows, cols, out_shape, wrt_shape, dense = sparsity_pattern(problem, derivative, shapes)
        assert not dense
        flat = closed.reshape(math.prod(out_shape), math.prod(wrt_shape))
        declared = np.zeros(flat.shape, bool)
        declared[rows, cols] = True
        assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) == rows.size  # no duplicates
        np.testing.assert_array_equal(declared, flat != 0)


def _conflicts(rows, cols, colors):
    """Pairs of columns of one color that share a row (must be none)."""
    seen = {}
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        seen.setdefault((r, int(colors[c])), set()).add(c)
    return [k for k, v in seen.items() if len(v) > 1]


def test_greedy_coloring_on_random_patterns():
    rng = np.random.default_rng(0)
    for density in (0.05, 0.2, 0.6):
        mask = rng.random((30, 40)) < density
        rows, cols = np.nonzero(mask)
        colors = greedy_coloring(rows, cols, 30, 40)
        assert _conflicts(rows, cols, colors) == []
        assert colors.min() >= 0
        assert colors.max() + 1 <= 40
        # at least as many colors as the fullest row needs
        assert colors.max() + 1 >= mask.sum(axis=1).max()


@pytest.mark.parametrize(
    ("problem", "wrt", "mode", "expected"),
    [
        ("matvec", "A", "reverse", 1),  # no two rows of d(Ax)/dA share a column
        ("matvec", "A", "forward", 4),  # n: the columns of one row of A all meet y_i
        ("linear", "x", "forward", 4),  # n, not batch * n: batch rows do not meet
        ("linear", "x", "reverse", 5),  # m
        ("linear", "W", "reverse", 3),  # batch
        ("linear", "b", "forward", 1),
        ("elementwise", "x", "forward", 1),
        ("stencil", "x", "forward", 3),
    ],
)
def test_colors_on_the_structured_targets(problem, wrt, mode, expected):
    p = jg.get_problem(problem)
    coloring = prepare_coloring(p, p.derivative(wrt), _shapes(p, Size(5, 4, 3)), mode)
    assert coloring.count == expected
    if mode == "forward":
        assert _conflicts(coloring.rows, coloring.cols, coloring.colors) == []
    else:
        assert _conflicts(coloring.cols, coloring.rows, coloring.colors) == []


@pytest.mark.parametrize(("problem", "wrt"), [("quadratic", "x"), ("inner", "x"), ("matvec", "x")])
def test_a_dense_target_degrades_to_one_color_per_basis_vector(problem, wrt):
    for method, basis in (("jacfwd_colored", "in"), ("jacrev_colored", "out")):
        kernel = jg.build_kernel(problem, wrt, method, (5, 4), "float64")
        expected = math.prod(kernel.wrt_shape if basis == "in" else kernel.out_shape)
        assert kernel.prepared.dense
        assert kernel.prepared.count == expected
        np.testing.assert_allclose(
            kernel.host_jacobian(kernel()), kernel.derivative.closed_form(np, **kernel.inputs), rtol=1e-12
        )


def test_bcoo_output_holds_the_nonzeros_only():
    kernel = jg.build_kernel("matvec", "A", "jacrev_colored_bcoo", (16, 8), "float32")
    J = kernel()
    assert isinstance(J, sparse.BCOO)
    assert J.shape == (16, 16, 8)
    assert J.nse == 16 * 8  # m·n nonzeros of m·m·n
    np.testing.assert_allclose(
        kernel.host_jacobian(J), kernel.derivative.closed_form(np, **kernel.inputs), rtol=1e-6
    )
    assert kernel.prepared.count == 1
    assert kernel.prep_s > 0


def test_the_memory_estimate_of_a_bcoo_output_is_its_nonzeros():
    cases = plan(Sweep(problems=("matvec",), wrt=("A",), methods=("jacrev_colored", "jacrev_colored_bcoo"),
                       sizes=((512, 512),)))  # fmt: skip
    dense, bcoo = (c.memory for c in cases)
    jac = 512 * 512 * 512 * 4
    assert bcoo < dense - jac  # the dense device copies (2x the Jacobian) are gone


def test_colored_methods_are_in_the_structure_preset_not_the_default():
    default = {c.method.name for c in plan(Sweep(problems=("stencil",), sizes=((8, 8),)))}
    assert not any("colored" in m for m in default)
    structure = {c.method.name for c in plan(STRUCTURE_SWEEP)}
    assert {"jacfwd_colored", "jacrev_colored", "jacfwd_colored_bcoo", "jacrev_colored_bcoo"} <= structure


@pytest.mark.slow
def test_the_structure_section_of_a_real_run(tmp_path):
    out = tmp_path / "r.csv"
    args = ("--preset", "structure", "--problems", "matvec", "linear", "--sizes", "128", "--batch", "8")
    result = jaxgrads("run", *args, *FAST, "-o", str(out))
    assert result.returncode == 0, result.stderr
    df = read_results(out)
    # every row is accurate; on a loaded machine a dense jacfwd of dA may pass the call-time limit
    assert df.loc[df["status"] == "ok", "ok"].all()
    assert df.loc[df["status"] != "ok", "message"].str.contains("over the --max-call-time limit").all()
    colored = df[df["method"].str.contains("colored")]
    assert (colored["colors"] > 0).all()
    assert (colored["prep_s"] > 0).all()
    assert set(colored["output_format"]) == {"dense", "bcoo"}
    assert (df["nnz"] > 0).all()
    a = df[(df["problem"] == "matvec") & (df["wrt"] == "A")]
    assert set(a["nnz"]) == {128 * 128}
    # a BCOO output's compulsory write is its nonzeros and their 3 int32 indices, not the dense J
    bcoo = a[a["output_format"] == "bcoo"]
    assert set(bcoo["traffic_bytes"] - bcoo["traffic_read_bytes"]) == {128 * 128 * (4 + 3 * 4)}
    assert (bcoo["floor_frac"] <= 1 / 0.9).all()  # none beats its floor by the invariant's margin
    text = structure_section(df)
    assert "| matvec / A | 128 float32 | 0.0078 | 128 → 1 |" in text
    assert " MiB |" in text  # peak: dense → bcoo
    assert "- matvec/A 128 float32: best colored" in text
    assert "- linear/x 128, batch 8 float32: best colored" in text
    # where the colored methods are slower on a dense target, the section says coloring lost there
    slow = df.copy()
    on_x = (slow["problem"] == "matvec") & (slow["wrt"] == "x") & slow["method"].str.contains("colored")
    slow.loc[on_x, "time_median_s"] = 10 * float(df["time_median_s"].max())
    assert "Coloring loses where the Jacobian is dense (as many colors as the dense basis, plus the " \
        "decompression): matvec/x 128 float32 (" in structure_section(slow)


def test_the_asdex_peer_against_the_closed_form():
    pytest.importorskip("asdex", reason="the asdex_* methods need the [sparse] extra")
    for wrt, expected in (("A", 1), ("x", 4)):
        for method in ("asdex_dense", "asdex_bcoo"):
            kernel = jg.build_kernel("matvec", wrt, method, (5, 4), "float64")
            assert kernel.prepared.count == expected  # jaxpr detection finds the same structure
            np.testing.assert_allclose(
                kernel.host_jacobian(kernel()), kernel.derivative.closed_form(np, **kernel.inputs),
                rtol=1e-12, atol=1e-12,
            )  # fmt: skip
    hess = jg.build_kernel("quadratic", "xx", "asdex_hessian", 6, "float64")
    np.testing.assert_allclose(np.asarray(hess()), hess.derivative.closed_form(np, **hess.inputs), rtol=1e-12)


def test_asdex_missing_is_one_line_naming_the_extra(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "asdex.py").write_text("raise ImportError('no asdex here')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(shim), *sys.path])}
    out = tmp_path / "r.csv"
    result = jaxgrads("run", "--problems", "matvec", "--methods", "asdex", "-o", str(out), env=env)
    assert_one_line_error(result, "the asdex_* methods need asdex: pip install 'jaxgrads[sparse]'")
    assert not out.exists()


def test_a_colored_jacobian_matches_jacrev_on_a_plug_in_without_a_pattern(tmp_path):
    # a user's problem declares nothing: dense pattern, one color per column, still right
    code = (
        "import jaxgrads as jg, numpy as np\n"
        "jg.register(jg.Problem(name='cubic', fn=lambda xp, x: x ** 3, args=('x',),\n"
        "    make_inputs=jg.gaussian_inputs(lambda s: {'x': (s.n,)}),\n"
        "    derivatives=(jg.Derivative('x', None),), dims=('n',), scalar_output=False))\n"
        "k = jg.build_kernel('cubic', 'x', 'jacfwd_colored', 6, 'float64')\n"
        "r = jg.build_kernel('cubic', 'x', 'jacrev', 6, 'float64')\n"
        "assert k.prepared.count == 6 and k.prepared.dense\n"
        "np.testing.assert_allclose(k.host_jacobian(k()), np.asarray(r()), rtol=1e-12)\n"
        "print('ok')\n"
    )
    env = ENV | {"JAX_ENABLE_X64": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.stdout.strip() == "ok", proc.stderr[-1500:]


def _scatters(kernel) -> list[str]:
    """The scatter instructions of a kernel's optimized HLO, their operands' names left out."""
    import re

    text = "\n".join(e.as_text() for e, _ in kernel.executables)
    return [re.sub(r"%[\w.]+", "%", line.split(", metadata")[0]).strip()
            for line in text.splitlines() if " scatter(" in line]  # fmt: skip


def test_the_dense_decompression_compiles_to_asdex_s_scatter():
    """d(Ax)/dA at 32: the one scatter of jacrev_colored is asdex_dense's, attribute for attribute
    (sorted/unique attributes made it 2.3x slower than asdex's on an Intel Xeon)."""
    pytest.importorskip("asdex")
    ours = _scatters(jg.build_kernel("matvec", "A", "jacrev_colored", 32, "float32"))
    theirs = _scatters(jg.build_kernel("matvec", "A", "asdex_dense", 32, "float32"))
    assert len(ours) == 1
    assert "indices_are_sorted" not in ours[0]
    assert ours == theirs
