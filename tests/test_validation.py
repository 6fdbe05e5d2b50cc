"""Bad input to the API: one-line JaxgradsError (a ValueError) naming the valid choices."""

import pytest

import jaxgrads as jg
from jaxgrads.validation import parse_size


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"problem": "cubic"}, r"unknown problem 'cubic'; valid: inner, matvec, bilinear"),
        ({"wrt": "z"}, r"unknown wrt for problem 'quadratic' 'z'; valid: x, A, xx"),
        ({"method": "jacmid"}, r"unknown method 'jacmid'; valid: jacfwd, jacrev, grad"),
        ({"method": "linear_transpose"}, r"does not apply to quadratic/x; applicable: jacfwd"),
        ({"size": 0}, r"size must be a positive integer, got 0"),
        ({"size": -3}, r"size must be a positive integer, got -3"),
        ({"size": 2.5}, r"size must be a positive integer, got 2.5"),
        ({"size": "12x"}, r"invalid size '12x': expected a positive integer N or MxN"),
        ({"size": "x5"}, r"invalid size 'x5'"),
        ({"size": "1e3"}, r"invalid size '1e3'"),
        ({"batch": 0}, r"batch must be a positive integer, got 0"),
        ({"dtype": "float16"}, r"unknown dtype 'float16'; valid: float32, float64, bfloat16"),
        ({"dtype": "int32"}, r"unknown dtype 'int32'"),
        ({"device": "tpu"}, r"unknown device 'tpu'; valid: cpu, gpu, auto"),
    ],
)
def test_bad_input_names_what_is_valid(kwargs, message):
    args = {"problem": "quadratic", "wrt": "x", "method": "jacrev", "size": 4} | kwargs
    with pytest.raises(jg.JaxgradsError, match=message) as info:
        jg.build_kernel(**args)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


@pytest.mark.usefixtures("no_x64")
def test_float64_without_x64_is_refused():
    with pytest.raises(jg.JaxgradsError, match=r"float64 needs JAX's x64 mode.*float32, bfloat16"):
        jg.build_kernel("quadratic", "x", "jacrev", 4, "float64")


def test_gpu_without_gpu_is_refused():
    import jax

    if jax.devices()[0].platform == "gpu":
        pytest.skip("a GPU is present")
    with pytest.raises(jg.JaxgradsError, match=r"--device gpu: JAX sees no GPU"):
        jg.build_kernel("quadratic", "x", "jacrev", 4, device="gpu")


@pytest.mark.parametrize(("text", "mn"), [("1024", (1024, 1024)), ("4096x64", (4096, 64)), ("1", (1, 1))])
def test_parse_size(text, mn):
    assert parse_size(text) == mn


def test_missing_inputs_named():
    with pytest.raises(jg.JaxgradsError, match=r"inputs for matvec lack \['x'\]"):
        jg.build_kernel("matvec", "x", "jacrev", 2, inputs={"A": [[1.0]]})
