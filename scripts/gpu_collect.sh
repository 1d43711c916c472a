#!/usr/bin/env bash
# Collect meta-base rows on a machine with a GPU for MINUTES minutes, then merge them.
#   bash scripts/gpu_collect.sh 12            (run from the repository root)
# Rows go to data/03_primary/metabase_gpu.jsonl (same schema, hardware recorded as gpu:...) and
# are appended to data/03_primary/metabase.jsonl without duplicates. Re-running resumes.
set -euo pipefail
MINUTES="${1:-12}"
DATASETS_ROOT="${DATASETS_ROOT:-../shared/datasets}"
PY="${PY:-.venv/bin/python}"
[ -x "$PY" ] || make install
nvidia-smi --query-gpu=name,memory.total --format=csv || true
"$PY" - <<'PY'
from aixcell_automl._env import tensorflow
tf, _, _ = tensorflow()
print("TensorFlow sees GPUs:", tf.config.list_physical_devices("GPU"))
PY
# Start from the rows we have, so no trial is run twice. The GPU climbs the ladders of the datasets
# whose ladder has not started yet, from the end of the list (a CPU collector works from the
# start); its rows keep hardware "gpu:..." and are merged without duplicates.
[ -f data/03_primary/metabase_gpu.jsonl ] || cp data/03_primary/metabase.jsonl data/03_primary/metabase_gpu.jsonl
ALL=coelho_u2os,wbc1_blood,isbi2012_em,glioma_he,dsb2018_stage1test,bbbc010_worms,isbi14_cervical_synth,monusac_he,sperm_parsing,drosophila_vnc_em
TODO=$("$PY" - "$ALL" <<'PY'
import sys
from aixcell_automl.metabase.store import PROTOCOL, protocol_of, read_rows
started = {r["dataset"] for r in read_rows("data/03_primary/metabase.jsonl")
           if protocol_of(r) == PROTOCOL and r.get("source") == "ladder"}
print(",".join(d for d in reversed(sys.argv[1].split(",")) if d not in started))
PY
)
echo "GPU ladders for: $TODO"
[ -n "$TODO" ] || { echo "every ladder has started; nothing for the GPU"; exit 0; }
"$PY" -m aixcell_automl metabase --datasets-root "$DATASETS_ROOT" --datasets "$TODO" \
  --minutes "$MINUTES" --out data/03_primary/metabase_gpu.jsonl \
  --checkpoints data/03_primary/metabase_checkpoints_gpu
"$PY" -m aixcell_automl metabase-merge data/03_primary/metabase_gpu.jsonl
