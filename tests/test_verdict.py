"""The accuracy verdict on functions written outside this project: correct closed forms of
non-polynomial identities pass in every dtype, the classic mistakes fail, and every failed row
says why (the error, the tolerance, the worst entry, the reference)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jaxgrads as jg
from jaxgrads.measure.tolerance import judge, normwise_tolerance, rtol
from jaxgrads.problems.plugins import load_problems
from jaxgrads.sweep import Sweep, run_sweep

IDENTITIES = Path(__file__).resolve().parents[1] / "bench" / "examples" / "identities.py"


@pytest.fixture(scope="module")
def identities():
    load_problems([str(IDENTITIES)])
    yield
    for name in jg.problem_names():
        if name.startswith("id_"):
            jg.unregister(name)


def _run(tmp_path, problems, sizes=(6, 16), methods=("jacfwd", "jacrev", "analytic")) -> pd.DataFrame:
    sweep = Sweep(problems=tuple(problems), methods=methods,
                  sizes=tuple((n, n) for n in sizes), regimes=(), dtypes=("float32", "float64"), samples=1,
                  min_sample_s=1e-4, device="cpu")  # fmt: skip
    out = run_sweep(sweep, tmp_path / "r.csv")
    return pd.read_csv(out, keep_default_na=False)


def test_correct_non_polynomial_closed_forms_pass_in_every_dtype(identities, tmp_path):
    # the cases: ||x - a|| in float64 at n = 16, d(X^-1)/dX in float32 at n = 6 (componentwise
    # scales called them inaccurate), and a determinant and a log-determinant
    problems = ["id_norm", "id_inverse", "id_det", "id_logdet", "id_unit"]
    df = _run(tmp_path, problems, methods=("jacrev", "analytic"))
    assert (df["status"] == "ok").all(), df.loc[df["status"] != "ok", "message"].tolist()
    bad = df[df["ok"].astype(str) != "True"]
    assert bad.empty, bad[["problem", "method", "dtype", "n", "message"]].to_string()


@pytest.mark.parametrize("mistaken", ["id_inverse__transpose", "id_xTBx__symmetry",
                                      pytest.param("id_trX2__factor2", marks=pytest.mark.slow),
                                      pytest.param("id_norm__sign", marks=pytest.mark.slow)])  # fmt: skip
def test_a_classic_mistake_fails_the_closed_form_rows_with_the_reason(identities, tmp_path, mistaken):
    df = _run(tmp_path, [mistaken], sizes=(6,)).set_index(["method", "dtype"])
    for dtype in ("float32", "float64"):
        closed = df.loc[("analytic", dtype)]
        assert str(closed["ok"]) == "False"
        disagrees = "the closed form disagrees with autodiff (float64 jacrev: normwise"
        assert closed["message"].startswith(disagrees), closed["message"]
        for method in ("jacfwd", "jacrev"):  # judged against autodiff instead: right
            assert str(df.loc[(method, dtype), "ok"]) == "True", df.loc[(method, dtype), "message"]


def test_a_wrong_kernel_row_says_error_tolerance_entry_and_reference():
    desired = np.arange(1.0, 7.0).reshape(2, 3)
    actual = desired.copy()
    actual[1, 2] *= -1
    ok, why = judge(actual, desired, rtol(np.float32, 3))
    assert not ok
    expected = "normwise error 1.3 over the tolerance 1.9e-06; worst entry (1, 2): -6 against 6"
    assert why.startswith(expected), why
    ok, why = judge(actual, desired, 1e-6, scale=np.abs(desired))
    assert why.startswith("entry (1, 2): |error| 12 over 1e-06 x its scale 6 (componentwise")
    actual[0, 1] = np.nan
    assert judge(actual, desired, 1.0) == (False, "NaN or Inf at entry (0, 1)")


def test_the_normwise_tolerance_grows_with_the_references_own_error():
    assert normwise_tolerance(np.float32, 4) == rtol(np.float32, 4)
    assert normwise_tolerance(np.float32, 4, 1e-4) == pytest.approx(16e-4)
    assert normwise_tolerance(np.float32, 4, 0.5) == 1.0  # nothing left to judge: capped
