"""Every kernel against its closed form, modes against each other, and no recompilation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import DTYPES, JACOBIAN_TARGETS, KERNEL_CASES, SIZES, covering, skip_without_backend, target_id

import jaxgrads as jg
from jaxgrads.measure.tolerance import abs_scale, check_close, rtol


def _reduction_length(inputs):
    return max(max(a.shape, default=1) for a in inputs.values())


def assert_matches_closed_form(kernel):
    """The kernel's Jacobian within the dtype's tolerance of the float64 closed form."""
    d = kernel.derivative
    inputs64 = {k: v.astype(np.float64) for k, v in kernel.inputs.items()}
    desired = d.closed_form(np, **inputs64)
    actual = kernel.host_jacobian(kernel())
    assert actual.shape == desired.shape, kernel.id
    tol = rtol(kernel.dtype, _reduction_length(kernel.inputs))
    ok, worst = check_close(actual, desired, abs_scale(d.closed_form, kernel.inputs), tol)
    assert ok, f"{kernel.id}: worst |err|/scale {worst:.3g} > rtol {tol:.3g}"


@pytest.mark.parametrize(("case", "size", "dtype"), covering(KERNEL_CASES, SIZES, DTYPES, ids=target_id))
def test_kernel_matches_closed_form(case, size, dtype):
    problem, wrt, method = case
    skip_without_backend(method)
    assert_matches_closed_form(jg.build_kernel(problem, wrt, method, size, dtype, batch=size.batch))


@pytest.mark.parametrize("case", [c for c in KERNEL_CASES if c[2] == "analytic"], ids=target_id)
def test_bfloat16_kernels_run_within_bfloat16_tolerance(case):
    problem, wrt, _ = case
    for method in ("analytic", "jacrev", "hessian_fwd_rev"):
        if method in jg.applicable_methods(jg.get_problem(problem), wrt):
            kernel = jg.build_kernel(problem, wrt, method, (3, 5), "bfloat16", batch=4)
            assert kernel().dtype == jnp.bfloat16
            assert_matches_closed_form(kernel)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", JACOBIAN_TARGETS, ids=target_id)
def test_jacfwd_equals_jacrev(target, dtype):
    problem, wrt = target
    fwd = jg.build_kernel(problem, wrt, "jacfwd", (7, 2), dtype, batch=4)
    rev = jg.build_kernel(problem, wrt, "jacrev", (7, 2), dtype, batch=4)
    tol = rtol(dtype, _reduction_length(fwd.inputs))
    scale = abs_scale(fwd.derivative.closed_form, fwd.inputs)
    ok, worst = check_close(np.asarray(fwd()), np.asarray(rev()), scale, tol)
    assert ok, f"jacfwd vs jacrev {problem}/{wrt}: {worst:.3g} > {tol:.3g}"


def test_hessian_modes_agree_exactly_on_quadratic():
    # A + A^T involves one addition per entry: every mode must give identical bits
    results = [
        np.asarray(jg.build_kernel("quadratic", "xx", m, 6, "float64")())
        for m in ("hessian_fwd_rev", "hessian_rev_rev", "hessian_fwd_fwd", "analytic")
    ]
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


class CompileCounter:
    """Counts XLA backend compilations through jax.monitoring while active."""

    EVENT = "/jax/core/compile/backend_compile_duration"

    def __init__(self):
        self.count = 0

    def _listener(self, event, duration, **kwargs):
        if event == self.EVENT:
            self.count += 1

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self._listener)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self._listener)


@pytest.mark.parametrize("method", jg.applicable_methods(jg.get_problem("quadratic"), "x"))
def test_second_call_does_not_recompile(method):
    skip_without_backend(method)
    kernel = jg.build_kernel("quadratic", "x", method, 5, "float32")
    first = kernel.host_jacobian(jax.block_until_ready(kernel()))
    with CompileCounter() as counter:
        second = kernel.host_jacobian(jax.block_until_ready(kernel()))
    assert counter.count == 0
    np.testing.assert_array_equal(first, second)


def test_compile_counter_sees_a_compilation():
    # guards the test above against a listener that never fires
    with CompileCounter() as counter:
        jg.build_kernel("inner", "x", "jacrev", 9, "float32")
    assert counter.count >= 1


def test_loop_vjp_runs_one_step_per_output_element():
    kernel = jg.build_kernel("matvec", "A", "loop_vjp", (7, 2), "float32")
    assert [count for _, count in kernel.executables] == [1, 7]
    assert kernel.jac_shape == (7, 7, 2)


def test_kernel_reports_shape_bytes_and_id():
    kernel = jg.build_kernel("quadratic", "x", "jacrev", 1024, "float32")
    assert kernel.id == "quadratic-x-jacrev-1024-float32"
    assert kernel.jac_shape == (1024,)
    assert kernel.jac_bytes == 4096
    assert kernel.compile_s > 0
    assert all(a.devices() == {kernel.device} for a in kernel.args)


@pytest.mark.parametrize("method", ["jacrev_chunked", "jacfwd_chunked"])
@pytest.mark.parametrize("chunk", [1, 2, 3, 5])
def test_chunked_methods_with_a_remainder_chunk(method, chunk):
    # basis of 7 (outputs) and 14 (inputs of A): chunks that do not divide it leave a remainder
    kernel = jg.build_kernel("matvec", "A", method, (7, 2), "float64", chunk_size=chunk)
    assert kernel.chunk_size == chunk
    assert_matches_closed_form(kernel)


def test_chunk_larger_than_the_basis_is_clamped():
    kernel = jg.build_kernel("matvec", "x", "jacrev_chunked", (7, 2), "float32", chunk_size=1000)
    assert kernel.chunk_size == 7
    assert kernel.id == "matvec-x-jacrev_chunked-7x2-float32-c7"


@pytest.mark.parametrize("chunk", [0, -3])
def test_bad_chunk_size(chunk):
    with pytest.raises(jg.JaxgradsError, match="chunk size must be a positive integer"):
        jg.build_kernel("matvec", "x", "jacrev_chunked", 4, chunk_size=chunk)


def test_torch_methods_without_torch_name_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(jg.JaxgradsError, match=r"pip install 'jaxgrads\[torch\]'"):
        jg.build_kernel("matvec", "x", "torch_jacrev", 4)
