"""A case is decided once: the planner's Case is what runs (its chunk compiled, its devices used),
what the instruction child rebuilds, and what the memory estimate judges; the code around it keeps
one direction of imports and one job per module."""

import ast
import json
import math
import re
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import jax
import pandas as pd
import pytest

import jaxgrads
from jaxgrads.measure.case import Case, decide
from jaxgrads.measure.kernels import compile_case
from jaxgrads.methods import METHODS, applicable_methods
from jaxgrads.problems import list_problems
from jaxgrads.sweep import Sweep, plan, run_sweep
from jaxgrads.sweep import instructions as instr
from jaxgrads.sweep.rows import planned_row

PACKAGE = Path(jaxgrads.__file__).parent
CPU = jax.devices("cpu")[0]


def _trip_counts(kernel) -> list[int]:
    """The trip counts of the while loops XLA compiled (lax.map's scan over chunks)."""
    text = kernel.executables[0][0].as_text()
    return [int(n) for n in re.findall(r'known_trip_count"\s*:\s*\{\s*"n"\s*:\s*"(\d+)"', text)]


def test_a_chunked_row_runs_the_program_its_chunk_size_names(tmp_path):
    sweep = Sweep(problems=("matvec",), wrt=("A",), methods=("jacfwd_chunked", "jacrev_chunked"),
                  sizes=((32, 32),), chunk_sizes=(1, 8, 64), samples=2, min_sample_s=0.001,
                  device="cpu")  # fmt: skip
    cases = plan(sweep)
    fwd = [c for c in cases if c.method.name == "jacfwd_chunked"]
    assert [c.chunk_size for c in fwd] == [1, 8, 64]
    for case in cases:  # what XLA compiled: one step per chunk of the basis
        steps = _trip_counts(compile_case(case, CPU))
        assert case.steps == math.ceil(case.basis / case.chunk_size)
        assert steps == ([case.steps] if case.steps > 1 else []), case.id
    out = run_sweep(sweep, tmp_path / "r.csv")
    df = pd.read_csv(out, keep_default_na=False).set_index(["method", "chunk_size"])
    temp = df.loc["jacfwd_chunked", "temp_bytes"].astype(int)
    assert temp.nunique() == 3, temp  # three programs, not the default chunk three times
    for case in fwd:  # the row's XLA metrics are the program its chunk names
        compiled = compile_case(case, CPU).executables[0][0]
        assert temp[case.chunk_size] == compiled.memory_analysis().temp_size_in_bytes


def test_the_instruction_child_counts_the_case_the_runner_timed(monkeypatch, tmp_path):
    sweep = Sweep(problems=("matvec",), wrt=("A",), methods=("jacrev_chunked", "jacfwd_sharded"),
                  sizes=((8, 8),), chunk_sizes=(4,), device="cpu")  # fmt: skip
    cases = plan(sweep)
    spec = json.loads(json.dumps(instr._spec(sweep, cases, tmp_path / "c.csv", None)))
    rebuilt = [Case.from_dict(c) for c in spec["cases"]]
    assert rebuilt == cases
    compiled = []

    def spy(case, device, **kw):
        compiled.append(case)
        raise RuntimeError("stop after building")

    monkeypatch.setattr("jaxgrads.measure.kernels.compile_case", spy)
    for case in rebuilt:
        with pytest.raises(RuntimeError):
            instr._count_case(case, None, CPU)
    assert compiled == cases  # the chunk and the devices the runner compiled, not a re-derivation


def _every_kind_of_case() -> list[Case]:
    out = []
    for problem in list_problems():
        for d in problem.derivatives:
            for name in applicable_methods(problem, d.name):
                size = problem.canonical(jaxgrads.Size(6, 4, 3))
                out.append(decide(problem, d, METHODS[name], size, "float32", chunk_size=5, devices=2))
    return out


@pytest.mark.parametrize("case", _every_kind_of_case(), ids=lambda c: c.id)
def test_a_case_survives_its_round_trip_to_a_child_field_by_field(case):
    again = Case.from_dict(json.loads(json.dumps(case.to_dict())))
    for f in fields(Case):
        assert getattr(again, f.name) == getattr(case, f.name), f.name
    assert type(again.traffic.flops) is float
    assert all(type(s) is tuple for s in (again.jac_shape, again.args))


def test_a_case_that_cannot_be_traced_is_decided_with_its_error():
    broken = jaxgrads.Problem(
        name="traced_float", fn=lambda xp, x: float(x.sum()) * x, args=("x",),
        make_inputs=jaxgrads.gaussian_inputs(lambda s: {"x": (s.n,)}),
        derivatives=(jaxgrads.Derivative("x", None),), dims=("n",), scalar_output=False,
    )  # fmt: skip
    jaxgrads.register(broken)
    try:
        method, size = METHODS["jacrev_chunked"], jaxgrads.Size(0, 4, 0)
        case = decide(broken, broken.derivatives[0], method, size, "float32")
        assert case.error.startswith("traced_float: its function raised ConcretizationTypeError"), case.error
        assert "\n" not in case.error
        assert Case.from_dict(case.to_dict()) == case
    finally:
        jaxgrads.unregister("traced_float")


COLORED_DENSE = [("bilinear", "A"), ("quadratic", "A"), ("linear_loss", "W")]


@pytest.mark.parametrize(("problem", "wrt"), COLORED_DENSE)
def test_the_estimate_skips_forward_coloring_of_a_dense_512_target(problem, wrt):
    sweep = Sweep(problems=(problem,), wrt=(wrt,), methods=("jacfwd_colored", "jacfwd_colored_bcoo",
                  "jacrev_colored"), sizes=((512, 512),), batches=(8,))  # fmt: skip
    ctx = SimpleNamespace(sweep=sweep, meta={"memory_budget_bytes": 24 * 2**30},
                          ceilings={"float32": None})  # fmt: skip
    verdicts = {c.method.name: planned_row(c, ctx)[1] for c in plan(sweep)}
    for name in ("jacfwd_colored", "jacfwd_colored_bcoo"):  # one color per column: 262144 seeds
        assert re.fullmatch(r"needs ~\d+ MiB, over the 24576 MiB budget", verdicts[name]), verdicts[name]
        assert int(re.search(r"\d+", verdicts[name]).group()) * 2**20 > 262144**2 * 4
    assert verdicts["jacrev_colored"] is None  # one color: it runs


def _imports(path: Path) -> set[str]:
    """The jaxgrads modules ``path`` imports, at the top or inside a function."""
    tree, found = ast.parse(path.read_text()), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("jaxgrads")}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_package_imports_one_way_without_cycles():
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    # a package's __init__ is not an edge to what it re-exports from its own modules
    graph = {m: {i for i in deps if not i.startswith(m + ".")} for m, deps in graph.items()}
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_method_registry_knows_no_peer():
    for path in (PACKAGE / "methods").glob("*.py"):
        assert not {i for i in _imports(path) if i.startswith("jaxgrads.peers")}, path.name


def test_no_module_is_over_300_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 300}  # fmt: skip
    assert long == {}


TRAITS = {"needs", "kind", "mode", "output", "basis", "steps", "backend"}


def test_the_measuring_layers_test_no_family_or_method_name():
    """sweep/, measure/ and report/ read a method's traits (kind, roles, basis, ...), never its
    family or its name; the presets (sweep/config.py) are where names are declared."""
    names = set(METHODS) | {m.family for m in METHODS.values()}
    for folder in ("sweep", "measure", "report"):
        for path in (PACKAGE / folder).glob("*.py"):
            if path.name == "config.py":
                continue
            tree = ast.parse(path.read_text())
            docs = {id(n.body[0].value) for n in ast.walk(tree)
                    if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                    and isinstance(n.body[0], ast.Expr)}  # fmt: skip
            for node in ast.walk(tree):
                family = isinstance(node, ast.Attribute) and node.attr == "family"
                assert not family, f"{path.name}:{node.lineno} reads .family"
                sides = (node.left, *node.comparators) if isinstance(node, ast.Compare) else ()
                if any(isinstance(side, ast.Attribute) and side.attr in TRAITS for side in sides):
                    continue  # a trait's value (needs == "closed_form"), not a family or a name
                for side in sides:
                    if isinstance(side, ast.Constant) and id(side) not in docs:
                        assert side.value not in names, f"{path.name}:{node.lineno} tests {side.value!r}"
