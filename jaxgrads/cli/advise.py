"""``jaxgrads advise``: every method's time and peak memory predicted for your function, before any
is measured (:func:`jaxgrads.advise`)."""

from __future__ import annotations

from jaxgrads.cli.common_args import add_function, function_args
from jaxgrads.cli.parsing import with_examples

__all__ = ["add", "run"]

EPILOG = """examples:
  jaxgrads advise --function bench/examples/models.py:loss --args-from bench/examples/models.py:loss_args
  jaxgrads advise --function bench/examples/layers.py:attention_head \\
      --args-from bench/examples/layers.py:attention_args --argnums 1 --memory-budget 1000000
"""


def add(sub) -> None:
    p = with_examples(sub, "advise", "predict each method's time and memory for your function", EPILOG)
    add_function(p, required=True)
    p.add_argument("--methods", nargs="+", metavar="M",
                   help="the methods to predict (default: every one that applies)")
    p.add_argument("--dtype", help="float32, float64 or bfloat16 (default: the differentiated leaves')")
    p.add_argument("--device", default="cpu", help="cpu, gpu or auto (default cpu)")
    p.add_argument("--memory-budget", type=int, metavar="BYTES", help="the budget a chunk must fit")
    p.add_argument("--csv", action="store_true", help="print the prediction table as CSV")


def run(args) -> int:
    import jax

    from jaxgrads.function import advise

    jax.config.update("jax_enable_x64", True)
    f, made, argnums = function_args(args)
    advice = advise(f, *made, argnums=argnums, batch_axis=args.batch_axis, has_aux=args.has_aux,
                    methods=args.methods, dtype=args.dtype, device=args.device,
                    memory_budget=args.memory_budget)  # fmt: skip
    print(advice.table.to_csv(index=False) if args.csv else repr(advice))
    print(f"advised in {advice.seconds:.2f} s")
    return 0
