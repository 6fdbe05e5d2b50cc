"""Layers in plain JAX, for ``jaxgrads.compare`` and ``jaxgrads run --function``:

    jaxgrads run --function bench/examples/layers.py:mlp_block \\
        --args-from bench/examples/layers.py:mlp_args
    jaxgrads run --function bench/examples/layers.py:attention_head \\
        --args-from bench/examples/layers.py:attention_args --argnums 1

An MLP block (a residual two-layer perceptron with a GELU) and one attention head, at sizes a
notebook runs in seconds. Their arguments come from the ``*_args`` functions (seeded, float32).
"""

import jax
import jax.numpy as jnp
import numpy as np


def mlp_block(x, W1, b1, W2, b2):
    """x + W2 gelu(W1 x + b1) + b2, x: (d,), W1: (4d, d), W2: (d, 4d)."""
    return x + W2 @ jax.nn.gelu(W1 @ x + b1) + b2


def mlp_args(d: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    return tuple(a.astype(np.float32) for a in (
        rng.standard_normal(d), rng.standard_normal((4 * d, d)) / np.sqrt(d), np.zeros(4 * d),
        rng.standard_normal((d, 4 * d)) / np.sqrt(4 * d), np.zeros(d),
    ))  # fmt: skip


def attention_head(x, Wq, Wk, Wv):
    """softmax((x Wq)(x Wk)^T / sqrt(k)) (x Wv), x: (tokens, d), W*: (d, k)."""
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    return jax.nn.softmax(q @ k.T / jnp.sqrt(q.shape[-1]), axis=-1) @ v


def attention_args(tokens: int = 16, d: int = 32, k: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((tokens, d))
    weights = [rng.standard_normal((d, k)) / np.sqrt(d) for _ in range(3)]
    return tuple(a.astype(np.float32) for a in (x, *weights))
