r"""The regression gate: is CURRENT slower than BASELINE, soundly enough to fail a CI job?

Two kinds of evidence, strongest first:

1. **XLA's deterministic metrics** (``flops``, ``bytes_accessed``, ``temp_bytes``, ``jac_bytes``) are
   exact for one jax/jaxlib version: the same program costs the same every time. When both runs
   used the same versions on the same backend, a metric more than ``metric_tolerance`` (1%) above
   the baseline is a regression at zero noise (a method starting to materialize an identity basis
   shows here first). Across versions they are reported ``not comparable``, never failed.
2. **Timings**, only when the machine fingerprint (:data:`FINGERPRINT`) matches. A kernel trips when
   its median ratio $r = \tilde t_\text{cur} / \tilde t_\text{base}$ exceeds $1 + \theta$ *and* a
   one-sided Mann-Whitney U test on the raw samples (``current > baseline``) gives $p < \alpha$. A
   tripped kernel is measured again (the confirmation run), and only a kernel that trips again
   fails the gate. A baseline whose samples vary more than ``max_cv`` (coefficient of variation) is
   ``inconclusive``; a kernel within ``floor_factor``× of the dispatch floor is reported, never gated.
   When the machine's own probes (dispatch floor, memory, matmul: timed in every run) moved by more
   than ``max_drift`` since the baseline, every timing is ``inconclusive``: the machine is not in
   the state the baseline saw.

3. **Instruction counts** (``jaxgrads run --instructions``: instructions per call under callgrind),
   when both runs counted with the same jax, jaxlib, Valgrind version and guest ISA
   (:data:`INSTRUCTION_SETTINGS`), on any machine: Valgrind shows the guest its own CPU, so a count
   does not depend on the host's. A kernel fails when its count $I$ rose above
   $I_b (1 + \tau) + \delta\, N_b$, with $N_b$ the baseline's no-op count (the dispatch part, which
   moves by up to ~2% of a no-op between processes): ``instr_tolerance`` $\tau$ and
   ``dispatch_tolerance`` $\delta$ come from ``make calibrate-gate``.

4. **Kernels that stopped working.** A kernel timed in the baseline that is an ``error`` row now,
   has no finite time or no samples, or is missing from the current run is a ``regression`` whatever
   the machine: nothing that broke passes silently. One ``skipped`` now (over the memory budget or
   the call-time limit, which depend on the machine) is ``inconclusive``. A kernel new in the current
   run is listed as ``new`` and never fails.

The verdicts, worst first: ``regression`` (fails), ``inconclusive`` (fails only with ``strict``),
``suspect`` (tripped, not confirmed), ``pass``, ``faster``, ``floor``, ``new``, ``not comparable``.

With no baseline of the machine's own fingerprint, :func:`closest_baseline` picks the committed one
that shares the most with it (backend first, then jax and jaxlib, then the CPU): its XLA metrics
still count, its timings are ``inconclusive``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from jaxgrads.errors import JaxgradsError
from jaxgrads.gate.records import INSTRUCTION_SETTINGS, lost_record, new_record, shared_record
from jaxgrads.gate.runs import FINGERPRINT, VERSIONS, Run, fingerprint, machine_drift
from jaxgrads.gate.stats import Rule, judge

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ORDER", "Confirm", "GateResult", "compare"]

ORDER = ("regression", "inconclusive", "suspect", "pass", "faster", "floor", "new", "not comparable")


@dataclass
class GateResult:
    """Every compared kernel's verdicts, the per-problem summary, and the exit code they add up to."""

    table: pd.DataFrame  # one row per kernel, worst first
    summary: pd.DataFrame  # per (problem, wrt): geometric-mean ratio over gated kernels
    notes: list[str] = field(default_factory=list)
    strict: bool = False

    @property
    def regressions(self) -> int:
        return int((self.table["verdict"] == "regression").sum())

    @property
    def inconclusive(self) -> int:
        return int((self.table["verdict"] == "inconclusive").sum())

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions or (self.strict and self.inconclusive) else 0


# kernels -> their fresh samples: (baseline's or None to keep the recorded ones, current's)
Confirm = Callable[[list[tuple]], Mapping[tuple, tuple[np.ndarray | None, np.ndarray]]]


def compare(
    baseline: Run,
    current: Run,
    rule: Rule = Rule(),  # noqa: B008 (frozen)
    *,
    confirm: Confirm | None = None,
    same_machine: bool | None = None,
    strict: bool = False,
    across_releases: bool = False,
) -> GateResult:
    """Compares two runs kernel by kernel; see the module docstring for the rule.

    Args:
      baseline: the reference run.
      current: the run under test.
      rule: the decision rule's knobs.
      confirm: measures the given kernels again and returns their fresh samples, the baseline's
        too in A/B mode (None keeps the recorded baseline); without it a tripped kernel stays
        ``suspect`` (and does not fail).
      same_machine: whether timings are comparable; default: the fingerprints match. A/B mode
        passes True (both sides ran interleaved on one machine, whatever their jax versions).
      strict: inconclusive kernels fail too.
      across_releases: instruction counts compared whatever the two runs' jax and jaxlib versions
        (``jaxgrads releases``: a step between releases is the question); XLA's metrics still are not.

    Returns:
      A :class:`GateResult`.
    """
    import pandas as pd

    fp_b, fp_c = fingerprint(baseline), fingerprint(current)
    if fp_b["backend"] != fp_c["backend"]:
        raise JaxgradsError(
            f"baseline {baseline.path} is from backend {fp_b['backend']!r}, current {current.path} from "
            f"{fp_c['backend']!r}; compare runs of one backend"
        )
    shared = [k for k in current.rows.index if k in baseline.rows.index]
    lost = [k for k in baseline.rows.index if k not in current.rows.index]
    new = [k for k in current.rows.index if k not in baseline.rows.index]
    if not shared and not any(k in current.untimed for k in lost):
        raise JaxgradsError(
            f"no kernel of {current.path} is in baseline {baseline.path}; run the baseline's sweep "
            "(jaxgrads baseline) with the same options"
        )
    versions_match = all(fp_b[k] == fp_c[k] for k in VERSIONS)
    timings, notes = _comparable(baseline, current, rule, same_machine)
    notes += _instruction_notes(baseline, current, across_releases)
    floor = max(float(baseline.value("dispatch_floor_s")), float(current.value("dispatch_floor_s")))
    records = [shared_record(baseline, current, key, rule, timings, versions_match, floor, across_releases)
               for key in shared]  # fmt: skip
    records += [lost_record(baseline, current, key) for key in lost]
    records += [new_record(current, key) for key in new]
    if confirm is not None:
        _confirm(records, confirm, baseline, rule, floor)
    for r in records:  # an XLA-metric or instruction regression fails whatever the clock says
        deterministic = "regression" in (r["metrics"], r["instructions"])
        r.setdefault("verdict", "regression" if deterministic else r["timing"])
    table = pd.DataFrame(records)
    table["rank"] = table["verdict"].map(ORDER.index)
    table = table.sort_values(["rank", "ratio"], ascending=[True, False], kind="stable").drop(columns="rank")
    return GateResult(table.reset_index(drop=True), _summary(table), notes, strict)


def _comparable(baseline: Run, current: Run, rule: Rule, same_machine: bool | None) -> tuple[bool, list[str]]:
    """Whether timings are comparable, and the notes that say why not (or that the XLA metrics are not)."""
    fp_b, fp_c = fingerprint(baseline), fingerprint(current)
    notes = []
    if not all(fp_b[k] == fp_c[k] for k in VERSIONS):
        notes.append(
            f"XLA metrics not comparable: jax {fp_b['jax_version']}/jaxlib {fp_b['jaxlib_version']} in the "
            f"baseline, {fp_c['jax_version']}/{fp_c['jaxlib_version']} now"
        )
    timings = (fp_b == fp_c) if same_machine is None else same_machine
    if not timings:
        differs = ", ".join(f"{k} {fp_b[k]!r} -> {fp_c[k]!r}" for k in FINGERPRINT if fp_b[k] != fp_c[k])
        notes.append(f"timings inconclusive: the machine fingerprint differs ({differs})")
    elif same_machine is None:
        drift = machine_drift(baseline, current)
        if any(abs(math.log(r)) > math.log(1 + rule.max_drift) for r in drift.values()):
            timings = False
            moved = ", ".join(f"{k} {r:.2f}×" for k, r in drift.items())
            notes.append(
                f"timings inconclusive: the machine is not in the baseline's state (time of {moved} the "
                f"baseline's; --max-drift {rule.max_drift:.0%})"
            )
    return timings, notes


def _instruction_notes(baseline: Run, current: Run, across_releases: bool = False) -> list[str]:
    """Why the instruction counts are not compared, when both runs have some and they are not."""
    counted = [
        run
        for run in (baseline, current)
        if "instructions" in run.rows and run.rows["instructions"].notna().any()
    ]
    if len(counted) < 2:
        missing = [
            name for name, run in (("baseline", baseline), ("current run", current)) if run not in counted
        ]
        return [f"instructions not gated: the {' and the '.join(missing)} has no counts (--instructions)"]
    def first(run, k):
        return (
            str(run.rows[k].dropna().iloc[0]) if k in run.rows and run.rows[k].notna().any() else ""
        )
    differs = [
        f"{k} {first(baseline, k)!r} -> {first(current, k)!r}"
        for k in (INSTRUCTION_SETTINGS if across_releases else (*VERSIONS, *INSTRUCTION_SETTINGS))
        if first(baseline, k) != first(current, k)
    ]
    return [f"instructions not comparable: {', '.join(differs)}"] if differs else []


def _confirm(records: list[dict], confirm: Confirm, baseline: Run, rule: Rule, floor: float) -> None:
    """Measures the tripped kernels again; only one that trips again becomes a regression."""
    tripped = [r["key"] for r in records if r["timing"] == "suspect"]
    if not tripped:
        return
    fresh = confirm(tripped)
    for r in records:
        if r["timing"] == "suspect" and r["key"] in fresh:
            base, cur = fresh[r["key"]]
            base = baseline.samples[r["key"]] if base is None else base
            again = judge(base, cur, rule, floor=floor)
            r |= {"confirm_ratio": again.ratio, "confirm_p": again.p}
            r["timing"] = "regression" if again.verdict == "suspect" else "suspect"


def _summary(table: pd.DataFrame) -> pd.DataFrame:
    """Geometric-mean ratio per (problem, wrt) over the kernels whose timings were gated."""
    import pandas as pd

    gated = table[table["timing"].isin(("pass", "suspect", "regression", "faster"))]
    if gated.empty:
        return pd.DataFrame(columns=["problem", "wrt", "kernels", "geomean_ratio"])
    out = gated.groupby(["problem", "wrt"], sort=True)["ratio"].agg(
        kernels="size", geomean_ratio=lambda r: float(np.exp(np.mean(np.log(r))))
    )
    return out.reset_index()
