"""Functions of the kinds users bring to ``jaxgrads.compare`` and ``jaxgrads.advise``, each with its
arguments: the advice study's corpus (``bench/studies/advise.py``, docs/advice.md), beside
``layers.py`` and ``models.py``.

:data:`CORPUS` lists ``(name, f, make_args, options)``: ``options`` are compare's (``argnums``,
``batch_axis``). Every maker is seeded and float32; the sizes keep one ``compare`` call within seconds.
"""

import jax
import jax.numpy as jnp
import layers
import models
import numpy as np
from jax import lax


def _rng(seed: int = 0):
    return np.random.default_rng(seed)


def rk4(y0, A):
    """dy/dt = tanh(A y) integrated by 20 steps of RK4 under ``lax.scan``, h = 0.05; y0: (32,)."""
    h = 0.05

    def field(y):
        return jnp.tanh(A @ y)

    def step(y, _):
        k1 = field(y)
        k2 = field(y + h / 2 * k1)
        k3 = field(y + h / 2 * k2)
        k4 = field(y + h * k3)
        return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

    return lax.scan(step, y0, None, length=20)[0]


def rk4_args(n: int = 32):
    r = _rng(1)
    y0, A = r.standard_normal(n), r.standard_normal((n, n)) / np.sqrt(n)
    return y0.astype(np.float32), A.astype(np.float32)


def conv1d(signal, kernel):
    """A 1-D 'same' convolution (``lax.conv_general_dilated``), then tanh; signal: (1024,)."""
    out = lax.conv_general_dilated(signal[None, None], kernel[None, None], (1,), "SAME")
    return jnp.tanh(out[0, 0])


def conv1d_args(n: int = 1024, k: int = 9):
    r = _rng(2)
    return r.standard_normal(n).astype(np.float32), (r.standard_normal(k) / 3).astype(np.float32)


def softplus_scale(x):
    """An elementwise map: x softplus(x); x: (4096,). A diagonal Jacobian."""
    return x * jax.nn.softplus(x)


def softplus_args(n: int = 4096):
    return (_rng(3).standard_normal(n).astype(np.float32),)


def row_logsumexp(X):
    """A reduction: each row's logsumexp; X: (32, 64) -> (32,)."""
    return jax.nn.logsumexp(X, axis=1)


def logsumexp_args():
    return (_rng(4).standard_normal((32, 64)).astype(np.float32),)


def layer_norm(x, gamma):
    """Layer normalization over each row's 64 features; x: (16, 64)."""
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + 1e-5) * gamma[None]


def layer_norm_args():
    r = _rng(5)
    return r.standard_normal((16, 64)).astype(np.float32), (1 + r.standard_normal(64) / 10).astype(np.float32)


def least_squares(x, A, b):
    """A vmapped objective: mean over 8 problems of ||A_i x - b_i||^2 / 2; x: (48,)."""
    return jnp.mean(jax.vmap(lambda Ai, bi: 0.5 * jnp.sum((Ai @ x - bi) ** 2))(A, b))


def least_squares_args(n: int = 48):
    r = _rng(6)
    return (r.standard_normal(n).astype(np.float32), (r.standard_normal((8, 64, n)) / 8).astype(np.float32),
            r.standard_normal((8, 64)).astype(np.float32))  # fmt: skip


def small_loss_args():
    """The models' loss with an 8-16-4 MLP: a Hessian of 196 parameters stays cheap."""
    params = models.init_params((8, 16, 4))
    r = _rng(7)
    x = r.standard_normal((8, 8)).astype(np.float32)
    return params, (x, np.eye(4, dtype=np.float32)[np.arange(8) % 4])


def small_logits(params, x):
    return models.logits(params, x)


def small_logits_args():
    return small_loss_args()[0], _rng(8).standard_normal((6, 8)).astype(np.float32)


def mnist_loss_args():
    """JAX's MNIST example's loss at a 16-8-4 network (its Hessian stays cheap)."""
    return models.mnist_args(sizes=(16, 8, 4))


def mnist_predict_args():
    params, (inputs, _) = models.mnist_args()
    return params, inputs


CORPUS = (
    ("mlp_block/x", layers.mlp_block, layers.mlp_args, {}),
    ("attention/Wq", layers.attention_head, layers.attention_args, {"argnums": 1}),
    ("mlp_logits/params", models.logits, models.logits_args, {}),
    ("mlp_loss/params", models.loss, small_loss_args, {}),
    ("mnist_predict/inputs", models.mnist_predict, mnist_predict_args, {"argnums": 1}),
    ("mnist_loss/params", models.mnist_loss, mnist_loss_args, {}),
    ("rk4_scan/y0", rk4, rk4_args, {}),
    ("conv1d/signal", conv1d, conv1d_args, {}),
    ("softplus/x", softplus_scale, softplus_args, {}),
    ("logsumexp/X", row_logsumexp, logsumexp_args, {}),
    ("layer_norm/x", layer_norm, layer_norm_args, {}),
    ("least_squares/x", least_squares, least_squares_args, {}),
    ("per_example_logits/x", small_logits, small_logits_args, {"argnums": 1, "batch_axis": 0}),
)
