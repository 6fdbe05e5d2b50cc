"""Models as JAX code holds them, for ``jaxgrads.compare`` and ``jaxgrads run --function``: parameters
as pytrees (a dict of layers; the list of ``(W, b)`` tuples of JAX's own MNIST example), a batch as a
tuple, several arguments.

    jaxgrads run --function bench/examples/models.py:loss \\
        --args-from bench/examples/models.py:loss_args                       # d loss / d params
    jaxgrads run --function bench/examples/models.py:logits \\
        --args-from bench/examples/models.py:logits_args --argnums 1 --batch-axis 0
                                                                             # per-example d logits / d x

The ``*_args`` functions return the arguments (a tuple: one entry per argument, each any pytree),
seeded, float32.
"""

import jax
import jax.numpy as jnp
import numpy as np


def init_params(sizes=(16, 32, 10), seed: int = 0) -> dict:
    """``{"layer0": {"W": (16, 32), "b": (32,)}, "layer1": {...}}``: a dict of layers."""
    rng = np.random.default_rng(seed)
    return {
        f"layer{i}": {"W": (rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32),
                      "b": np.zeros(n, np.float32)}
        for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
    }  # fmt: skip


def logits(params: dict, x):
    """An MLP: tanh hidden layers, a linear last layer; x: (batch, 16) -> (batch, 10)."""
    layers = [params[k] for k in sorted(params)]
    for layer in layers[:-1]:
        x = jnp.tanh(x @ layer["W"] + layer["b"][None])
    return x @ layers[-1]["W"] + layers[-1]["b"][None]


def loss(params: dict, batch):
    """Cross-entropy of the MLP's logits; batch: (x, one-hot labels)."""
    x, y = batch
    return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits(params, x)) * y, axis=1))


def logits_args(batch: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed + 1)
    return init_params(seed=seed), rng.standard_normal((batch, 16)).astype(np.float32)


def loss_args(batch: int = 8, seed: int = 0):
    params, x = logits_args(batch, seed)
    labels = np.eye(10, dtype=np.float32)[np.arange(batch) % 10]
    return params, (x, labels)


def mnist_predict(params, inputs):
    """JAX's MNIST example's ``predict``: params a list of ``(W, b)`` tuples, relu layers."""
    activations = inputs
    for w, b in params[:-1]:
        activations = jax.nn.relu(activations @ w + b[None])
    final_w, final_b = params[-1]
    out = activations @ final_w + final_b[None]
    return out - jax.nn.logsumexp(out, axis=1, keepdims=True)


def mnist_loss(params, batch):
    """JAX's MNIST example's ``loss(params, batch)``, batch = (inputs, targets)."""
    inputs, targets = batch
    return -jnp.mean(jnp.sum(mnist_predict(params, inputs) * targets, axis=1))


def mnist_args(sizes=(64, 32, 10), batch: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    params = [((rng.standard_normal((m, n)) * 0.1).astype(np.float32), (rng.standard_normal(n) * 0.1).astype(
        np.float32)) for m, n in zip(sizes[:-1], sizes[1:], strict=True)]  # fmt: skip
    inputs = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    targets = np.eye(sizes[-1], dtype=np.float32)[np.arange(batch) % sizes[-1]]
    return params, (inputs, targets)
