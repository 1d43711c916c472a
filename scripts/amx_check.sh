#!/usr/bin/env bash
# The speed issue's AMX check (#36), one prepared run on a CPU with AMX-BF16 (pause any collector
# first): float32 against mixed bfloat16 throughput per patch x backbone, side by side, then the
# IoU parity table (each dataset's plan to 2^25 training pixels in float32 and auto, 2 seeds).
#   OUT=/tmp/amx bash scripts/amx_check.sh       (from the repository root)
# Writes $OUT/cpu.txt, $OUT/throughput.md and $OUT/parity.md; record them in
# docs/performance.md with the date and the CPU model.
set -euo pipefail
OUT="${OUT:-/tmp/amx_check}"
PY=.venv/bin/python
mkdir -p "$OUT"
[ -x "$PY" ] || make install
grep -m1 "model name" /proc/cpuinfo | tee "$OUT/cpu.txt"
if ! grep -q -w amx_bf16 /proc/cpuinfo; then
  echo "this CPU has no AMX-BF16: precision auto trains float32 here, nothing to compare" >&2
  exit 1
fi
timeout 1800 "$PY" benchmarks/train_throughput.py --backbones resnet18,resnet50 \
  --patches 64,128,256 --precisions float32,bfloat16 --steps 8 | tee "$OUT/throughput.md"
timeout 3600 "$PY" benchmarks/precision_parity.py | tee "$OUT/parity.md"
