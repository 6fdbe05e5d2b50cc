"""Case tables shared by the tests: ids derive from them."""

import pytest

import jaxgrads as jg

DTYPES = ("float32", "float64")
# size 1, then odd rectangular shapes both ways round; batch 4 for the linear layer
SIZES = (jg.Size(1, 1, 1), jg.Size(3, 5, 4), jg.Size(7, 2, 4))

TARGETS = [(p.name, d.name) for p in jg.list_problems() for d in p.derivatives]
JACOBIAN_TARGETS = [(p.name, d.name) for p in jg.list_problems() for d in p.derivatives if d.order == 1]
KERNEL_CASES = [
    (problem, wrt, method)
    for problem, wrt in TARGETS
    for method in jg.applicable_methods(jg.get_problem(problem), wrt)
]


def covering(case_list, *axes, ids=None):
    """``case_list`` × every axis, as pytest params: a covering share runs in ``make test`` and the
    rest is marked ``slow`` (``make test-all``). Case i runs its i-th combination of the axes (sizes
    and dtypes in turn), so the quick tier still builds every kernel once and sees every size and
    dtype; the long tier builds them all."""
    import itertools

    combos = list(itertools.product(*axes))
    params = []
    for i, case in enumerate(case_list):
        for j, combo in enumerate(combos):
            marks = () if j == i % len(combos) else (pytest.mark.slow,)
            parts = (size_id(c) if isinstance(c, jg.Size) else str(c) for c in combo)
            label = "-".join([ids(case) if ids else str(case), *parts])
            params.append(pytest.param(case, *combo, marks=marks, id=label))
    return params


def target_id(case):
    return "-".join(case)


def size_id(size):
    return f"{size.m}x{size.n}-b{size.batch}"


def skip_without_backend(method: str) -> None:
    """Skips the calling test when ``method`` needs a peer (PyTorch, asdex) that is not installed."""
    if jg.get_method(method).backend == "torch":
        pytest.importorskip("torch", reason="the torch_* methods need the [torch] extra")
    if jg.get_method(method).backend == "asdex":
        pytest.importorskip("asdex", reason="the asdex_* methods need the [sparse] extra")
