"""The vectorized JAX methods: one compiled program over a whole basis of tangents or cotangents."""

import jax

from jaxgrads.methods.common import ad, basis, columns_to_jacobian, partial_fn
from jaxgrads.methods.registry import Method

__all__ = ["VECTORIZED"]


def _linearize(problem, derivative):
    """One linearization, then the linear map vmapped over the whole input basis."""

    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        y, f_jvp = jax.linearize(f, w)
        cols = jax.vmap(f_jvp)(basis(w.size, w.shape, w.dtype))
        return columns_to_jacobian(cols, y.shape, w.shape)

    return jac


def _linear_transpose(problem, derivative):
    """The transposed linear map, vmapped over the output basis: rows of J directly."""

    def jac(inputs):
        f, w = partial_fn(problem, derivative, inputs)
        y = jax.eval_shape(f, w)
        f_t = jax.linear_transpose(f, w)
        rows = jax.vmap(lambda ct: f_t(ct)[0])(basis(y.size, y.shape, y.dtype))
        return rows.reshape((*y.shape, *w.shape))

    return jac


VECTORIZED: tuple[Method, ...] = (
    Method("jacfwd", 1, ad(jax.jacfwd), basis="in", mode="forward", roles={"forward"},
           doc="jax.jacfwd: vmap of JVPs over the input basis"),
    Method("jacrev", 1, ad(jax.jacrev), basis="out", mode="reverse", roles={"reverse", "reference"},
           doc="jax.jacrev: vmap of VJPs over the output basis"),
    Method("grad", 1, ad(jax.grad), scalar_only=True, mode="reverse",
           doc="jax.grad: one VJP (scalar output)"),
    Method("linearize", 1, _linearize, basis="in", mode="forward",
           doc="jax.linearize once, vmap the linear map"),
    Method("linear_transpose", 1, _linear_transpose, linear_only=True, basis="out", mode="reverse",
           doc="jax.linear_transpose of f (linear in the argument), vmap over outputs"),
)  # fmt: skip
