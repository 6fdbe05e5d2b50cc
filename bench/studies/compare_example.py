"""docs/compare.md: ``jaxgrads.compare`` on the layers of ``bench/examples/layers.py`` and the models of
``bench/examples/models.py`` (parameters as pytrees, a batch), as a user calls it; an equinox model
where equinox is installed (the ``models`` extra).

    .venv/bin/python bench/studies/compare_example.py

Every number in the page is the call's own output on this machine.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "examples"))

import layers  # noqa: E402
import models  # noqa: E402

import jaxgrads as jg  # noqa: E402
from jaxgrads.results.labels import table  # noqa: E402

COLUMNS = ["method", "wrt", "status", "ok", "time_median_s", "compile_s", "peak_bytes", "err_f64",
           "jac_shape"]  # fmt: skip


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _section(title: str, call: str, result, note: str = "") -> str:
    rows = [[_cell(r[c]) for c in COLUMNS] for r in result.table.to_dict("records")]
    overhead = result.seconds["wall"] - result.seconds["compile"] - result.seconds["timing"]
    return (f"## {title}\n\n{note}```python\n{call}\n```\n\n{table(COLUMNS, rows)}\n\n"
            f"Recommendation:\n\n```\n{result.recommendation}\n```\n\nThe call took "
            f"{result.seconds['wall']:.2f} s: {result.seconds['compile']:.2f} s compiling, "
            f"{result.seconds['timing']:.2f} s timing, {overhead:.2f} s the rest.\n")  # fmt: skip


def _equinox() -> str:
    if importlib.util.find_spec("equinox") is None:
        return ("## An equinox model\n\nNot measured here: equinox is not installed (`pip install "
                "jaxgrads[models]`).\n")  # fmt: skip
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    model = eqx.nn.MLP(16, 10, 32, 2, key=jax.random.PRNGKey(0))
    x = jnp.linspace(-1.0, 1.0, 16)

    def apply(model, x):
        return model(x)

    result = jg.compare(apply, model, x, jacobians=True)
    note = ("An `eqx.nn.MLP(16, 10, 32, 2)`: its activation functions are leaves of the pytree that are not "
            "arrays, held static as `equinox.filter_jacrev` holds them (and `None` in the Jacobian's "
            "pytree).\n\n")  # fmt: skip
    call = "def apply(model, x):\n    return model(x)\n\njg.compare(apply, model, x)"
    return _section("An equinox model: the Jacobian in its parameters", call, result, note)


def main() -> None:
    parts = []
    for title, f, args, argnums in (
        ("An MLP block, d = 64: the Jacobian in x", layers.mlp_block, layers.mlp_args(), 0),
        ("An attention head, 16 tokens, d = 32, k = 8: the Jacobian in Wq", layers.attention_head,
         layers.attention_args(), 1),
    ):  # fmt: skip
        result = jg.compare(f, *args, argnums=argnums)
        maker = f"layers.{f.__name__.split('_')[0]}_args()"
        parts.append(_section(title, f"jg.compare(layers.{f.__name__}, *{maker}, argnums={argnums})", result))
    first = result.table.iloc[0]
    params, batch = models.loss_args()
    result = jg.compare(models.loss, params, batch, methods=["grad", "jacrev", "jacfwd", "jacrev_chunked",
                        "map_vjp", "hessian_fwd_rev", "hessian_rev_rev"], jacobians=True)  # fmt: skip
    grads = result.jacobians["params"]
    shapes = ", ".join(f"`{k}.{n}`: {tuple(v.shape)}"
                       for k in sorted(grads) for n, v in sorted(grads[k].items()))  # fmt: skip
    note = ("Parameters as a dict of layers, `{\"layer0\": {\"W\": ..., \"b\": ...}, \"layer1\": ...}`, "
            "and the "
            "batch a tuple `(x, labels)`: the loss's gradient and its Hessian in every parameter at once. "
            "`m` and `n` are the total element counts, `wrt_leaves` 4. With `jacobians=True` the "
            f"recommended method's gradient comes back as the params' own pytree: {shapes}.\n\n")  # fmt: skip
    parts.append(_section("A model's loss, parameters a pytree: gradient and Hessian", "params, batch = "
                          "models.loss_args()\njg.compare(models.loss, params, batch, methods=[...], "
                          "jacobians=True)", result, note))  # fmt: skip
    params, x = models.logits_args()
    result = jg.compare(models.logits, params, x)
    note = "The logits (8 examples x 10 classes) in every parameter: an 80 x 874 Jacobian, cut in blocks.\n\n"
    parts.append(_section("The logits' Jacobian in the parameters", "jg.compare(models.logits, params, x)",
                          result, note))  # fmt: skip
    result = jg.compare(models.logits, params, x, argnums=1, batch_axis=0)
    note = ("Each example's logits in its own input, `(8, 10, 16)`, as `jax.vmap(jax.jacrev(...))` "
            "gives them: five ways, checked against the diagonal blocks of the whole batch's float64 "
            "`jacrev` (exact whether or not the examples interact; the colored and vmapped forms assume "
            "they do not, and fail their rows where they do).\n\n")  # fmt: skip
    parts.append(_section("Per-example Jacobians over a batch", "jg.compare(models.logits, params, x, "
                          "argnums=1, batch_axis=0)", result, note))  # fmt: skip
    parts.append(_equinox())
    text = f"""# Your own function: `jaxgrads.compare`

`jg.compare(f, *args, argnums=0)` measures the Jacobian of any JAX function at your arguments with
every method that applies (and the Hessian for a scalar output), each checked against float64
autodiff, and returns the table (the results CSV's columns) and a recommendation. Arguments and
outputs are pytrees as `jax.jacrev` takes them (dicts, lists, tuples, NamedTuples, registered
dataclasses, equinox modules; non-array leaves held static), `argnums` an int or a tuple,
`batch_axis=` gives per-example Jacobians, `has_aux=True` is JAX's, `jacobians=True` returns the
recommended method's Jacobian as `jax.jacrev`'s pytree. A pytree's Jacobian is checked block by block
(each output leaf in each argument leaf), and a failing row names the block. Where the fastest
methods tie (the slower one's best sample is no slower than the fastest's median), the
recommendation names the simplest of them; a BCOO method's line says what `.todense()` costs. From
the shell: `jaxgrads run --function FILE.py:FN --args-from FILE.py:MAKE_ARGS [--argnums I ...]
[--batch-axis AXIS] [--has-aux]` writes the same CSV.

Measured by `.venv/bin/python bench/studies/compare_example.py` on {first["cpu_model"]}
({first["backend"]}), jax {first["jax_version"]}, {dt.date.today().isoformat()}; the functions are in
`bench/examples/layers.py` and `bench/examples/models.py`. Each call after a process's first reuses
its probes of the machine, so "the rest" is the references, the accuracy checks and writing.

""" + "\n".join(parts)
    out = ROOT / "docs" / "compare.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
