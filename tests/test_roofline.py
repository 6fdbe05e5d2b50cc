"""The in-run roofline: measured ceilings, and each row's achieved rates against them."""

import math

import jax
import pytest

from jaxgrads import sweep as runner
from jaxgrads.measure.roofline import Ceilings, achieved, measure_ceilings
from jaxgrads.results.schema import read_results


def test_achieved_takes_the_binding_ceiling():
    roof = Ceilings.flat(bytes_per_s=1e10, flops_per_s=1e11)
    # 1e6 flops need 10 µs, 4e5 bytes need 40 µs: memory binds; in 80 µs that is half the roof
    row = achieved(1e6, 4e5, 80e-6, roof)
    assert row["achieved_flops_per_s"] == pytest.approx(1e6 / 80e-6)
    assert row["achieved_bytes_per_s"] == pytest.approx(4e5 / 80e-6)
    assert row["roofline_frac"] == pytest.approx(0.5)
    # compute binds when the flops' floor is longer
    assert achieved(1e7, 4e5, 200e-6, roof)["roofline_frac"] == pytest.approx(0.5)


def test_achieved_is_nan_without_counts_or_time():
    roof = Ceilings.flat(1e10, 1e11)
    assert math.isnan(achieved(math.nan, math.nan, 1e-3, roof)["roofline_frac"])  # the torch peer
    assert achieved(math.nan, 1e5, 1e-3, roof)["roofline_frac"] == pytest.approx(1e5 / 1e10 / 1e-3)
    assert math.isnan(achieved(1e6, 1e5, math.nan, roof)["achieved_flops_per_s"])


@pytest.mark.slow  # the quick tier sees both dtypes' ceilings in the rows of the sweep below
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ceilings_are_measured_in_the_dtype(dtype):
    roof = measure_ceilings(jax.devices("cpu")[0], dtype, samples=2, min_sample_s=0.001)
    # any real CPU: between 0.1 GB/s and 10 TB/s, 0.1 GFLOP/s and 100 TFLOP/s
    assert 1e8 < roof.bytes_per_s < 1e13
    assert 1e8 < roof.flops_per_s < 1e14


def test_rows_carry_the_runs_ceilings_and_their_place_under_them(tmp_path):
    out = tmp_path / "run.csv"
    sweep = runner.Sweep(
        problems=("matvec",), wrt=("x",), methods=("jacrev", "analytic"), sizes=((64, 64),),
        dtypes=("float32", "float64"), samples=3, min_sample_s=0.001, device="cpu",
    )  # fmt: skip
    runner.run_sweep(sweep, out)
    df = read_results(out)
    for _, by_dtype in df.groupby("dtype"):
        assert by_dtype["ceiling_bytes_per_s"].nunique() == 1  # one measurement per dtype per run
        assert by_dtype["ceiling_flops_per_s"].nunique() == 1
    assert df.groupby("dtype")["ceiling_flops_per_s"].first().nunique() == 2
    # any real CPU: between 0.1 GB/s and 10 TB/s, 0.1 GFLOP/s and 100 TFLOP/s
    assert df["ceiling_bytes_per_s"].between(1e8, 1e13).all()
    assert df["ceiling_flops_per_s"].between(1e8, 1e14).all()
    assert (df["achieved_flops_per_s"] == df["flops"] / df["time_median_s"]).all()
    assert (df["achieved_bytes_per_s"] == df["bytes_accessed"] / df["time_median_s"]).all()
    expected = (df["flops"] / df["ceiling_flops_per_s"]).combine(
        df["bytes_accessed"] / df["ceiling_bytes_per_s"], max
    ) / df["time_median_s"]
    assert df["roofline_frac"].to_numpy() == pytest.approx(expected.to_numpy())
    assert df["cache_source"].nunique() == 1  # where this run's cache sizes come from, named
    assert df["cache_source"].iloc[0].split(";")[0] in ("sysfs", "py-cpuinfo", "none", "JAXGRADS_CACHES")
    assert (df["roofline_frac"] > 0).all()
