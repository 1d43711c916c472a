#!/usr/bin/env bash
# The speed issue's GPU check (#36), one prepared run: install the GPU build, print the training
# throughput per precision x patch x backbone, then a 10-minute search on a shared dataset.
#   OUT=/tmp/gpu bash scripts/gpu_check.sh [dataset]      (from the repository root)
# Writes $OUT/throughput.md, $OUT/search.log and $OUT/search_summary.json; record the figures
# in docs/performance.md with the date and the GPU's name.
set -euo pipefail
DATASET="${1:-coelho_u2os}"
DATASETS_ROOT="${DATASETS_ROOT:-../shared/datasets}"
OUT="${OUT:-/tmp/gpu_check}"
PY=.venv/bin/python
mkdir -p "$OUT"
[ -x "$PY" ] || make install
nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv | tee "$OUT/gpu.txt"
# the CPU build sees no GPU: add the CUDA libraries TensorFlow's GPU build needs
if ! "$PY" -c "import tensorflow as tf, sys; sys.exit(not tf.config.list_physical_devices('GPU'))"
then
  .venv/bin/uv pip install --python "$PY" "tensorflow[and-cuda]==$("$PY" -c \
    'import tensorflow as tf; print(tf.__version__)')"
fi
"$PY" -c "import tensorflow as tf; print('GPUs:', tf.config.list_physical_devices('GPU'))"
timeout 300 "$PY" benchmarks/train_throughput.py --dataset "$DATASETS_ROOT/$DATASET" \
  --precisions float32,float16,bfloat16 --steps 20 --chunk 32 | tee "$OUT/throughput.md"
timeout 900 .venv/bin/kedro run --pipeline=search --params \
  "dataset.path=$DATASETS_ROOT/$DATASET,search.budget_minutes=10,search.precision=auto" \
  2>&1 | tee "$OUT/search.log" | tail -20
run=$(ls -td data/08_reporting/search/*/ | head -1)
cp "$run"/metrics.json "$OUT/search_summary.json" 2>/dev/null || ls "$run"
