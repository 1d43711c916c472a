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
# start from the rows we have, so no configuration is trained twice; take the plan from its end
[ -f data/03_primary/metabase_gpu.jsonl ] || cp data/03_primary/metabase.jsonl data/03_primary/metabase_gpu.jsonl
"$PY" -m aixcell_automl metabase --reverse --datasets-root "$DATASETS_ROOT" \
  --datasets coelho_u2os,wbc1_blood,isbi2012_em,glioma_he,dsb2018_stage1test,bbbc010_worms,isbi14_cervical_synth,monusac_he,sperm_parsing,drosophila_vnc_em \
  --per-dataset 40 --minutes "$MINUTES" --out data/03_primary/metabase_gpu.jsonl
"$PY" -m aixcell_automl metabase-merge data/03_primary/metabase_gpu.jsonl
