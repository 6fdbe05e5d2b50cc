r"""The instruction tier of a sweep: every case's instructions per Jacobian call, counted under callgrind.

``jaxgrads run --instructions`` times the sweep as usual, then counts the rows it timed: the rows
whose native median is at most :data:`MAX_NATIVE_S` (valgrind emulates FMA instructions in software,
so XLA's matmul kernels run about a thousand times slower under it; costlier kernels are left
uncounted, and said so). The cases are dealt round-robin to one child process per CPU (counts do not
move with load, so the children share the machine freely), each started as
``valgrind --tool=callgrind --instr-atstart=no python -m jaxgrads.sweep.instructions SPEC`` and
pinned to its own CPU. A child receives its cases as the planner decided them (serialized:
:meth:`jaxgrads.measure.case.Case.to_dict`), builds each kernel exactly as the runner does
(:func:`jaxgrads.measure.kernels.compile_case`: the same chunk, devices and inputs, so a row's count
and its times come from one program), calls it once uninstrumented, then
counts (:meth:`jaxgrads.measure.callgrind.Callgrind.count`): one instrumented warm-up call, one
counted call ($c_1$ instructions), then $N = \mathrm{clip}(\lceil I_\text{target} / c_1 \rceil, 1,
N_\text{max})$ counted calls: a costly kernel gets one call (its count barely moves), a
dispatch-bound one many; ``instructions`` $= c_N / N$. The results file is then rewritten with the
counts (atomically: an interrupted count leaves the timed rows, and ``--resume`` counts the rest).

Every child also counts a compiled no-op the same way: ``noop_instructions``, the dispatch part of
every call, so that a dispatch-bound kernel can be told apart (``instructions / noop_instructions``
near 1). The rows record ``valgrind_version`` and ``isa_class`` (the CPU the process saw under
Valgrind): with jax and jaxlib, what must match for two counts to be compared.

Without valgrind (or on a CPU other than x86-64) the tier is skipped with one line and the sweep
runs as without ``--instructions``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from jaxgrads.errors import JaxgradsError, one_line

__all__ = ["COLUMNS", "count_instructions", "main"]

COLUMNS: tuple[str, ...] = (
    "instructions",
    "noop_instructions",
    "instr_calls",
    "valgrind_version",
    "isa_class",
)
TARGET_INSTRUCTIONS = 1e6  # instructions counted per kernel (N calls reach this; a costly kernel gets one)
MAX_CALLS = 50
NOOP_CALLS = 50
MAX_NATIVE_S = 1e-3  # rows timed slower than this natively are not counted (FMA is emulated: ~1000x)
MAX_VALGRIND_CALL_S = 10.0  # nor a case whose one uninstrumented call under valgrind takes longer


def add_instructions(out: Path, sweep, cases: Sequence) -> int:
    """Counts the timed rows of ``out`` that have no count yet and writes the file again with them.

    Returns the number of rows counted; a row tried and not counted gets why in its ``message``.
    """
    import pandas as pd

    from jaxgrads.results.files import atomic_write_text
    from jaxgrads.results.schema import row_key

    rows = pd.read_csv(out, dtype=str, keep_default_na=False)
    if "instructions" not in rows.columns:
        return 0
    wanted, slow = set(), 0
    for r in rows.to_dict("records"):
        if r["status"] != "ok" or r["instructions"]:
            continue
        if float(r["time_median_s"]) <= MAX_NATIVE_S:
            wanted.add(row_key(r))
        else:
            slow += 1
    if slow:
        print(
            f"instructions: {slow} timed rows over {MAX_NATIVE_S * 1e3:g} ms a call are not counted",
            file=sys.stderr,
        )
    todo = [c for c in cases if c.key in wanted]
    counts = count_instructions(sweep, todo, out.parent)
    if not counts:
        return 0
    counted = 0
    for i, r in enumerate(rows.to_dict("records")):
        columns = counts.get(row_key(r))
        if columns and "instructions" in columns:
            rows.loc[i, list(COLUMNS)] = [str(columns[c]) for c in COLUMNS]
            counted += 1
        elif columns:  # tried and not counted: the row says why (its count stays empty)
            note = f"instructions not counted: {columns['note']}"
            if note not in r["message"]:  # a resumed count tries the row again
                rows.loc[i, "message"] = f"{r['message']}; {note}" if r["message"] else note
    atomic_write_text(out, rows.to_csv(index=False))
    return counted


def _spec(sweep, cases: Sequence, out: Path, cpu: int | None) -> dict:
    """What a child needs: its cases as decided, where they run, and the process settings."""
    import jax

    from jaxgrads.problems.plugins import LOADED

    return {
        "device": sweep.device,
        "cases": [c.to_dict() for c in cases],
        "problems_from": list(LOADED),
        "x64": bool(jax.config.jax_enable_x64),
        "matmul_precision": str(jax.config.jax_default_matmul_precision or "highest"),
        "out": str(out),
        "cpu": cpu,
    }


def child_env(case, env: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment a case's callgrind child starts with: XLA single-threaded
    (:data:`~jaxgrads.measure.callgrind.CHILD_XLA_FLAGS`) and, for a case on a mesh of host
    devices, that many host devices (:func:`jaxgrads.compat.host_device_env`), whatever the release."""
    from jaxgrads.compat import host_device_env
    from jaxgrads.measure.callgrind import CHILD_XLA_FLAGS

    env = dict(os.environ if env is None else env)
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {CHILD_XLA_FLAGS}".strip()
    return host_device_env(case.devices, env) if case.platform == "cpu" and case.devices > 1 else env


def _deal(cases: Sequence, cpus: int) -> list[list]:
    """The cases in shards of one environment each (:func:`child_env`), at most ``cpus`` shards where
    the environments allow, round-robin within an environment."""
    groups: dict[int, list] = {}
    for c in cases:
        groups.setdefault(c.devices if c.platform == "cpu" else 1, []).append(c)
    share = max(1, cpus // len(groups))
    return [g[i::share] for g in groups.values() for i in range(min(share, len(g)))]


def count_instructions(sweep, cases: Sequence, workdir: Path | None = None) -> dict[tuple, dict]:
    """Counts the instructions of ``cases`` in callgrind children; returns their columns by case key,
    or ``{"note": why}`` for a case a child could not count (over the time limit, a failure).

    Everything is left out when valgrind is missing (one line on stderr, never an error).
    """
    from jaxgrads.measure.callgrind import callgrind_command, unavailable
    from jaxgrads.measure.machine import cpus_used

    why = unavailable()
    if why is not None:
        print(f"instructions: not counted: {why}", file=sys.stderr)
        return {}
    if not cases:
        return {}
    # every CPU of the machine, whatever this process is pinned to: counts do not depend on load
    cpus = list(range(os.cpu_count() or 1)) if hasattr(os, "sched_setaffinity") else [None] * cpus_used()
    shards = _deal(cases, len(cpus))
    start = time.perf_counter()
    print(
        f"instructions: counting {len(cases)} cases under callgrind in {len(shards)} processes ...",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="jaxgrads-callgrind-", dir=workdir) as tmp:
        folder = Path(tmp)
        children = []
        for i, shard in enumerate(shards):
            cpu = cpus[i % len(cpus)]
            spec_path = folder / f"spec{i}.json"
            spec_path.write_text(json.dumps(_spec(sweep, shard, folder / f"counts{i}.csv", cpu)))
            cmd = [*callgrind_command(folder), sys.executable, "-m", "jaxgrads.sweep.instructions",
                   str(spec_path)]  # fmt: skip
            log = open(folder / f"child{i}.log", "w")  # noqa: SIM115 (closed below)
            proc = subprocess.Popen(_pinned(cmd, cpu), env=child_env(shard[0]), stdout=log,
                                    stderr=subprocess.STDOUT)  # fmt: skip
            children.append((proc, log, i, shard))
        try:
            for proc, log, *_ in children:
                proc.wait()
                log.close()
        except BaseException:  # Ctrl-C: no child outlives the run
            for proc, log, *_ in children:
                proc.kill()
                proc.wait()
                log.close()
            raise
        counts: dict[tuple, dict] = {}
        for proc, _, i, shard in children:
            counts |= _read_counts(folder / f"counts{i}.csv")
            if proc.returncode != 0:
                lines = (folder / f"child{i}.log").read_text(errors="replace").strip().splitlines()
                last = lines[-1] if lines else f"exit status {proc.returncode}"
                print(f"instructions: callgrind process {i + 1} failed ({last}); "
                      "its remaining cases are not counted", file=sys.stderr)  # fmt: skip
                failed = f"its callgrind process failed: {one_line(last, 160)}"
                counts |= {c.key: {"note": failed} for c in shard if c.key not in counts}
    missed = [c for c in cases if "instructions" not in counts.get(c.key, {})]
    print(
        f"instructions: {len(cases) - len(missed)} of {len(cases)} cases counted in "
        f"{time.perf_counter() - start:.0f} s" + (f" (not counted: {missed[0].id} ...)" if missed else ""),
        file=sys.stderr,
    )
    return counts


def _pinned(cmd: list[str], cpu: int | None) -> list[str]:
    """``cmd`` pinned to ``cpu`` with taskset (valgrind and every thread of its guest), where it can be."""
    if cpu is None or shutil.which("taskset") is None:
        return cmd
    return ["taskset", "-c", str(cpu), *cmd]


def _read_counts(path: Path) -> dict[tuple, dict]:
    from jaxgrads.results.schema import KEY

    if not path.is_file():
        return {}
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            key = tuple(r[k] for k in KEY)
            if r.get("note"):
                print(f"instructions: {'-'.join(key)} not counted: {r['note']}", file=sys.stderr)
                out[key] = {"note": r["note"]}
                continue
            out[key] = {c: r[c] for c in COLUMNS}
    return out


def _count_case(case, cg, device) -> dict:
    """One case's columns: build, one uninstrumented call, then the counts (see the module doc)."""
    import jax

    from jaxgrads.measure.kernels import compile_case

    kernel = compile_case(case, device)  # the runner's program: the case's chunk, devices, inputs
    start = time.perf_counter()
    jax.block_until_ready(kernel())
    first = time.perf_counter() - start
    if first > MAX_VALGRIND_CALL_S:
        return {"note": f"one call took {first:.3g} s under valgrind, over {MAX_VALGRIND_CALL_S:g} s"}
    total, calls = cg.count(kernel, case.id, TARGET_INSTRUCTIONS, MAX_CALLS)
    return {"instructions": repr(total / calls), "instr_calls": calls}


def main(argv: Sequence[str] | None = None) -> int:
    """The child: counts the cases of the spec file ``argv[0]``, one CSV row each, as they finish."""
    spec = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    import jax

    from jaxgrads.compat import set_config

    set_config("jax_cpu_enable_async_dispatch", False)  # a release without it dispatches in order
    jax.config.update("jax_enable_x64", spec["x64"])
    jax.config.update("jax_default_matmul_precision", spec["matmul_precision"])
    from jaxgrads.measure.callgrind import Callgrind, guest_isa, valgrind_version
    from jaxgrads.measure.case import Case
    from jaxgrads.problems.plugins import load_problems
    from jaxgrads.results.schema import KEY
    from jaxgrads.validation import resolve_device

    load_problems(spec["problems_from"])
    cases = [Case.from_dict(c) for c in spec["cases"]]
    device = resolve_device(spec["device"])
    out = Path(spec["out"])
    cg = Callgrind(out.parent)
    x = jax.device_put(jax.numpy.zeros((), jax.numpy.float32), device)
    noop = jax.jit(lambda a: a + 0).lower(x).compile()
    jax.block_until_ready(noop(x))
    settings = {
        "noop_instructions": repr(cg.count(lambda: noop(x), "noop", 0, NOOP_CALLS)[0] / NOOP_CALLS),
        "valgrind_version": valgrind_version(),
        "isa_class": guest_isa(),
    }
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[*KEY, *COLUMNS, "note"], extrasaction="ignore")
        writer.writeheader()
        for case in cases:
            start = time.perf_counter()
            try:
                row = _count_case(case, cg, device)
            except JaxgradsError as exc:
                row = {"note": str(exc)}
            except Exception as exc:  # an XLA failure: the runner records it as an error row
                row = {"note": one_line(exc, 200)}
            writer.writerow(case.columns() | settings | row)
            f.flush()
            print(f"{case.id}: {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
