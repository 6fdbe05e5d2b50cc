"""A row's columns, from its decided case and the run's context: what is known before compiling
(and whether the case runs at all), and the timing, roofline and floor columns after."""

from __future__ import annotations

import math

import jax

from jaxgrads.measure.case import Case
from jaxgrads.measure.floor import Traffic, method_floor
from jaxgrads.measure.kernels import Kernel
from jaxgrads.measure.roofline import achieved
from jaxgrads.measure.timing import Timing
from jaxgrads.methods.sharded import AXIS
from jaxgrads.peers.torch import torch_threads
from jaxgrads.results.schema import blank_row
from jaxgrads.sweep.context import RunContext

__all__ = ["blank_case_row", "planned_row", "timing_columns"]


def blank_case_row(case: Case, ctx: RunContext) -> dict:
    return blank_row() | ctx.meta | case.columns()


def planned_row(case: Case, ctx: RunContext) -> tuple[dict, str | None]:
    """The row's columns known before compiling, and why the case is skipped (None: it runs)."""
    row = blank_case_row(case, ctx)
    ceilings = ctx.ceilings[case.dtype]
    if ceilings is not None:
        row |= ceilings.columns()
    n_wrt = math.prod(case.wrt_shape)
    row |= {
        "traffic_bytes": case.traffic.bytes,
        "traffic_read_bytes": case.traffic.read_bytes,
        "min_flops": case.traffic.flops,
        "jac_shape": "x".join(map(str, case.jac_shape)) or "1",
        "jac_bytes": case.jac_bytes,
        "wrt_elements": n_wrt,
        "out_elements": math.prod(case.out_shape) if case.derivative.order == 1 else n_wrt,
        "devices": case.devices,
        "mesh_shape": f"{AXIS}={case.devices}" if case.method.needs_mesh else "",
        "processes": jax.process_count(),
        "nnz": case.nnz,
        "output_format": case.output,
        "wrt_leaves": case.problem.extra.get("wrt_leaves", 1),
        "out_leaves": case.problem.extra.get("out_leaves", 1),
        "steps": case.steps,
        "basis": case.basis,
        "memory_bytes": case.memory,
    }
    budget, sweep = ctx.meta["memory_budget_bytes"], ctx.sweep
    if case.memory > budget:
        return row, f"needs ~{case.memory / 2**20:.0f} MiB, over the {budget / 2**20:.0f} MiB budget"
    if case.steps > sweep.max_steps:
        return row, f"{case.steps} sequential steps, over the --max-steps limit of {sweep.max_steps}"
    return row, None


def timing_columns(case: Case, kernel: Kernel, timing: Timing, ceilings, row: dict) -> dict:
    """The columns of a timed kernel: its times, how it compiled, its colors, roofline and floor."""
    columns = {
        "status": "ok",
        "compile_s": kernel.compile_s,
        "time_median_s": timing.median,
        "time_iqr_s": timing.iqr,
        "time_min_s": timing.min,
        "samples": len(timing.samples),
        "inner_loops": timing.inner_loops,
        "compile_kind": "xla" if kernel.executables else "first_call",  # a peer that compiles on first call
        "torch_threads": torch_threads(),
    }
    if kernel.prepared is not None:  # a prepared pattern: its colors and its preparation
        columns |= {"colors": kernel.prepared.count, "prep_s": kernel.prep_s}
    if ceilings is not None:
        columns |= achieved(row["flops"], row["bytes_accessed"], timing.median, ceilings)
        traffic = Traffic(
            row["traffic_read_bytes"], row["traffic_bytes"] - row["traffic_read_bytes"], row["min_flops"]
        )
        floor = method_floor(row["method"], traffic, ceilings, float(row["dispatch_floor_s"]))
        columns |= {
            "floor_s": floor.seconds,
            "floor_frac": floor.seconds / timing.median,
            "floor_level": floor.level,
        }
    return columns
