#!/usr/bin/env bash
# The quick sweep on a GPU, its table on stdout; then the TF32 effect: the same float32 Jacobians at
# the default matmul precision against highest.
# From a source tree where jax (CUDA), pandas and pytest-benchmark are installed:
#   bash bench/gpu_check.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
out=${1:-${OUT:-/tmp/jaxgrads-gpu}}
mkdir -p "$out"
$PY -c 'import jax; print("jax", jax.__version__, jax.devices())'
$PY -m jaxgrads run --quick --device gpu --dtypes float32 float64 \
  -o "$out/gpu-quick.csv" --overwrite --report "$out/gpu-quick.md"
cat "$out/gpu-quick.md"
for precision in default highest; do
  $PY -m jaxgrads run --device gpu --problems matvec quadratic --wrt x --methods jacrev analytic \
    --sizes 1024 4096 --matmul-precision "$precision" -o "$out/gpu-precision-$precision.csv" --overwrite >/dev/null
done
# the sharded methods on this machine's GPUs (one GPU: the one-device figures)
$PY -m jaxgrads run --device gpu --problems matvec --wrt A --methods jacrev_sharded jacrev analytic \
  --sizes 256 512 -o "$out/gpu-devices.csv" --overwrite --report "$out/gpu-devices.md" | tail -n 4
$PY - "$out" <<'PYEOF'
import sys
import pandas as pd
out = sys.argv[1]
frames = [pd.read_csv(f"{out}/gpu-precision-{p}.csv") for p in ("default", "highest")]
df = pd.concat(frames)[["matmul_precision", "problem", "method", "n", "time_median_s", "err_f64", "ok"]]
print("\nfloat32 at each matmul precision (err_f64: relative error against float64 on the host)")
try:
    print(df.to_markdown(index=False))
except ImportError:  # to_markdown needs tabulate
    print(df.to_string(index=False))
PYEOF
