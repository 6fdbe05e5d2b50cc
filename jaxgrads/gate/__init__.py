"""The regression gate: is CURRENT slower than BASELINE, soundly enough to fail a CI job?

Its rooms: ``stats`` (the rule for one kernel, on raw samples), ``runs`` (results on disk as the gate
reads them: samples, fingerprints, the closest baseline, machine drift), ``comparison`` (kernel by
kernel, with confirmation, into a :class:`GateResult`), ``records`` (each kernel's line) and
``render`` (terminal and markdown).
"""

from jaxgrads.gate.comparison import ORDER, Confirm, GateResult, compare
from jaxgrads.gate.records import INSTRUCTION_SETTINGS, METRICS, instructions_verdict
from jaxgrads.gate.render import headline, markdown_report, text_report
from jaxgrads.gate.runs import (
    FINGERPRINT,
    GATE_KEY,
    VERSIONS,
    Run,
    closest_baseline,
    fingerprint,
    fingerprint_slug,
    load_run,
    machine_drift,
)
from jaxgrads.gate.stats import AB_RULE, Rule, Verdict, cv, judge, mann_whitney_p, parse_fraction

__all__ = [
    "AB_RULE",
    "FINGERPRINT",
    "GATE_KEY",
    "INSTRUCTION_SETTINGS",
    "METRICS",
    "ORDER",
    "VERSIONS",
    "Confirm",
    "GateResult",
    "Rule",
    "Run",
    "Verdict",
    "closest_baseline",
    "compare",
    "cv",
    "fingerprint",
    "fingerprint_slug",
    "headline",
    "instructions_verdict",
    "judge",
    "load_run",
    "machine_drift",
    "mann_whitney_p",
    "markdown_report",
    "parse_fraction",
    "text_report",
]
