"""The caches a run uses: what the machine says (or the override), checked by bandwidth, remembered
once per machine, and named in the rows and the report. Every rate here is supplied by the test."""

import json

import pytest
from machines import CACHE_LAYOUTS

from jaxgrads.errors import JaxgradsError
from jaxgrads.measure import caches, machine
from jaxgrads.measure.caches import MARGIN, defended_caches, effective_last_cache, scan_sets

MiB = 2**20


def rates_with_last_level(sets, fits: int, cache_rate=40e9, memory_rate=10e9):
    """A machine whose working sets up to ``fits`` bytes run from cache, the rest from memory."""
    return {s: cache_rate if s <= fits else memory_rate for s in sets}


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv(caches.STATE_ENV, str(tmp_path))
    monkeypatch.delenv(machine.CACHES_ENV, raising=False)
    monkeypatch.setattr(machine, "cpu_model", lambda: "Synthetic CPU")
    return tmp_path


def test_the_scan_spans_the_level_below_to_four_times_the_last():
    assert scan_sets(CACHE_LAYOUTS["l3-32m"], 2**40) == [2**k for k in range(20, 28)]  # 1 MiB .. 128 MiB
    assert scan_sets(CACHE_LAYOUTS["l3-480m"], 2**30)[-1] == 2**30  # capped by free memory
    assert scan_sets({"L1": 32 * 2**10}, 2**40) == [2**k for k in range(12, 18)]  # 4 KiB .. 128 KiB
    assert scan_sets({}, 2**40) == []


@pytest.mark.parametrize("fits", [32 * MiB, 16 * MiB, 8 * MiB])
def test_a_claimed_level_the_bandwidth_shows_is_kept(fits):
    """A quarter of the claim in cache is enough: a guest's share of a shared cache, under load."""
    claimed = CACHE_LAYOUTS["l3-32m"]
    got = effective_last_cache(claimed, rates_with_last_level(scan_sets(claimed, 2**40), fits=fits))
    assert got.sizes == claimed
    assert got.source == "L3 shown by the bandwidth probe"


def test_a_claim_four_times_larger_than_what_runs_from_cache_is_not_shown():
    claimed = CACHE_LAYOUTS["l3-32m"]
    got = effective_last_cache(claimed, rates_with_last_level(scan_sets(claimed, 2**40), fits=4 * MiB))
    assert got.sizes == {**claimed, "L3": 4 * MiB}


def test_a_480_mib_claim_that_runs_at_memory_speed_is_replaced_by_what_is_measured():
    claimed = CACHE_LAYOUTS["l3-480m"]
    got = effective_last_cache(claimed, rates_with_last_level(scan_sets(claimed, 2**31), fits=32 * MiB))
    assert got.sizes == {**claimed, "L3": 32 * MiB}
    assert got.source.startswith("L3 480 MiB not shown by the bandwidth probe (64 MiB at 1.00x the memory")
    assert got.source.endswith("32 MiB measured")


def test_a_last_level_no_working_set_shows_is_left_out():
    claimed = CACHE_LAYOUTS["l3-480m"]
    flat = {s: 10e9 for s in scan_sets(claimed, 2**31)}
    got = effective_last_cache(claimed, flat)
    assert got.sizes == {"L1": claimed["L1"], "L2": claimed["L2"]}
    assert "left out" in got.source


def test_in_cache_means_the_margin_over_memory():
    claimed = CACHE_LAYOUTS["l3-32m"]
    sets = scan_sets(claimed, 2**40)
    just_under = {s: (MARGIN * 0.99 if s < sets[-1] else 1.0) * 10e9 for s in sets}
    just_over = {s: (MARGIN * 1.01 if s < sets[-1] else 1.0) * 10e9 for s in sets}
    assert "L3" not in effective_last_cache(claimed, just_under).sizes
    assert effective_last_cache(claimed, just_over).sizes == claimed


def test_the_check_runs_once_per_machine_and_is_remembered(state, monkeypatch):
    monkeypatch.setattr(machine, "read_caches", lambda: (dict(CACHE_LAYOUTS["l3-480m"]), "sysfs"))
    calls = []

    def probe(sets):
        calls.append(sets)
        return rates_with_last_level(sets, fits=64 * MiB)

    first = defended_caches(probe)
    assert first.sizes["L3"] == 64 * MiB
    assert first.source.startswith("sysfs; L3 480 MiB not shown by the bandwidth probe")
    assert defended_caches(probe) == first  # remembered: no second probe
    assert len(calls) == 1
    stored = json.loads((state / "caches.json").read_text())
    assert len(stored) == 1
    assert next(iter(stored.values()))["sizes"]["L3"] == 64 * MiB
    monkeypatch.setattr(machine, "cpu_model", lambda: "Synthetic CPU (another machine)")
    defended_caches(probe)  # another machine: checked anew
    assert len(calls) == 2


def test_a_state_folder_that_cannot_be_written_only_means_probing_again(state, monkeypatch):
    monkeypatch.setenv(caches.STATE_ENV, str(state / "file"))
    (state / "file").write_text("not a folder")
    monkeypatch.setattr(machine, "read_caches", lambda: (dict(CACHE_LAYOUTS["l3-32m"]), "sysfs"))
    got = defended_caches(lambda sets: rates_with_last_level(sets, fits=16 * MiB))
    assert got.sizes == CACHE_LAYOUTS["l3-32m"]


def test_an_override_is_used_as_given_and_named(state, monkeypatch):
    monkeypatch.setenv(machine.CACHES_ENV, "L1=48K, L2=2M, L3=105M")
    want = {"L1": 48 * 2**10, "L2": 2 * MiB, "L3": 105 * MiB}
    assert machine.cache_sizes() == want
    got = defended_caches(lambda sets: pytest.fail("an override is not probed"))
    assert got.sizes == want
    assert got.source == "JAXGRADS_CACHES"
    monkeypatch.setenv(machine.CACHES_ENV, "none")
    assert defended_caches().sizes == {}


@pytest.mark.parametrize("text", ["L3", "L3=abc", "cache=1M", "L1=0", "L3=-4M"])
def test_a_bad_override_is_one_line_naming_the_valid_form(monkeypatch, text):
    monkeypatch.setenv(machine.CACHES_ENV, text)
    with pytest.raises(JaxgradsError, match=r"JAXGRADS_CACHES=.*expected LEVEL=SIZE pairs such as 'L1=32K"):
        machine.cache_sizes()


def test_the_cpu_model_override_makes_another_machine(monkeypatch):
    monkeypatch.delenv(machine.CPU_MODEL_ENV, raising=False)
    real = machine.cpu_model()
    monkeypatch.setenv(machine.CPU_MODEL_ENV, f"{real} (another machine)")
    assert machine.cpu_model() == f"{real} (another machine)"
