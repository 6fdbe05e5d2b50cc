"""JAX against PyTorch, and what chunking buys on memory: the figures docs/peers.md quotes.

1. For ``matvec`` (w.r.t. x and A), ``quadratic`` and ``linear_loss`` (w.r.t. x) at n = 64, 256,
   1024, 2048, float32, one sweep of every JAX and every PyTorch method side by side in this
   process (element-by-element walks capped at 1024 steps): time of the best JAX method / time of
   the best PyTorch method.
2. For ``matvec`` w.r.t. A: the largest n whose unchunked ``jacrev`` fits in 8 GiB by XLA's own peak
   (``memory_analysis``), and there the peak and time of ``jacrev`` and ``jacrev_chunked``.

    .venv/bin/python bench/studies/peers.py [--no-readme]     (needs the [torch] extra)
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

from figures import publish  # noqa: E402

import jaxgrads as jg  # noqa: E402
from jaxgrads import sweep as runner  # noqa: E402
from jaxgrads.measure.machine import cpu_model  # noqa: E402
from jaxgrads.measure.timing import time_callable  # noqa: E402
from jaxgrads.measure.xla import cost_and_memory  # noqa: E402
from jaxgrads.report.markdown import peer_table  # noqa: E402
from jaxgrads.results.labels import format_seconds  # noqa: E402
from jaxgrads.results.schema import read_results  # noqa: E402

SIZES = ((64, 64), (256, 256), (1024, 1024), (2048, 2048))
TARGETS = (("matvec", ("x", "A")), ("quadratic", ("x",)), ("linear_loss", ("x",)))
LIMIT = 8 * 2**30
CANDIDATES = (256, 512, 768, 1024, 1152, 1280, 1536)
CHUNKS = (16, 128)
FWD_N = 128
# the one-element-at-a-time walks (loop_vjp, map_*, torch_loop) are never the fastest at these sizes,
# and linear_loss's map_jvp at n = 2048 would take minutes per call: cap their steps
MAX_STEPS = 1024
# forward mode at n = 2048 pushes a 2048- (or 8192-) vector basis through the function: seconds to
# minutes per call; such a method cannot be the fastest, so one call over this skips it
MAX_CALL_S = 1.0


def peers() -> str:
    tables, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (problem, wrts) in enumerate(TARGETS):
            out = Path(tmp) / f"peers{i}.csv"
            sweep = runner.Sweep(
                problems=(problem,),
                wrt=wrts,
                methods=("jax", "torch"),
                sizes=SIZES,
                device="cpu",
                max_steps=MAX_STEPS,
                max_call_s=MAX_CALL_S,
            )
            runner.run_sweep(sweep, out)
            df = read_results(out)
            df = df[df["method"] != "jacfwd_chunked"]
            tables.append(peer_table(df))
            skipped = df[df["status"] == "skipped"]
            notes.extend(
                f"{r['problem']}/{r['wrt']} n={r['n']} {r['method']}: {r['message']}"
                for _, r in skipped.iterrows()
            )
    lines = tables[0].splitlines()
    for t in tables[1:]:
        lines += [ln for ln in t.splitlines() if not ln.startswith(("| problem", "|---"))]
    if notes:
        lines += ["", "Skipped (not timed; never the fastest):", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def peak(kernel) -> float:
    return cost_and_memory(kernel.executables)["peak_bytes"]


def _memory_table(method: str, n: int, chunks) -> list[str]:
    rows = []
    for name, chunk in [(method, None)] + [(f"{method}_chunked", c) for c in chunks]:
        k = jg.build_kernel("matvec", "A", name, n, "float32", chunk_size=chunk)
        t = time_callable(k, samples=3, min_sample_s=0.01)
        label = name + (f" (chunk {chunk})" if chunk else "")
        rows.append(f"| {label} | {peak(k) / 2**30:.4g} GiB | {format_seconds(t.median)} |")
        del k
    return rows


def memory() -> str:
    largest = None
    for n in CANDIDATES:
        k = jg.build_kernel("matvec", "A", "jacrev", n, "float32")
        if peak(k) <= LIMIT:
            largest = n
        del k
    header = ["| method | peak (XLA memory_analysis) | median time (3 samples) |", "|---|---|---|"]
    return "\n".join(
        [
            f"matvec w.r.t. A, jacrev at n = {largest}, the largest of {CANDIDATES} whose unchunked "
            "peak fits 8 GiB. The m×m×n Jacobian itself is the peak; the basis jacrev materializes "
            "is only m×m:",
            "",
            *header,
            *_memory_table("jacrev", largest, CHUNKS),
            "",
            f"Where the basis dominates, chunking pays: jacfwd on A at n = {FWD_N} materializes an "
            "(mn)×(mn) identity:",
            "",
            *header,
            *_memory_table("jacfwd", FWD_N, CHUNKS),
        ]
    )


def main(argv: list[str]) -> int:
    start = time.perf_counter()
    text = "\n".join(
        [
            f"Measured by `bench/studies/peers.py` on {cpu_model()}, {platform.node()}, "
            f"{time.strftime('%Y-%m-%d')}, "
            "float32, every JAX and PyTorch method side by side in one process:",
            "",
            peers(),
            "",
            memory(),
            "",
            f"({time.perf_counter() - start:.0f} s in all.)",
        ]
    )
    publish("peers", text, readme="--no-readme" not in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
