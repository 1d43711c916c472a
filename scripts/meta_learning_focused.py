"""A focused meta-learning study: the search's default and the thesis's model against every
baseline, on one meta-base protocol, without the full 176-combination grid.

    AIXCELL_AUTOML_NO_ENTRYPOINTS=1 .venv/bin/python scripts/meta_learning_focused.py v1 out/

Writes ``study.csv``, ``summary.csv`` and ``summary.md`` to the output folder and prints the
wall time and the number of rows used.
"""

import json
import sys
import time
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from aixcell_automl.metabase.store import read_rows
from aixcell_automl.pipelines.meta_learning.nodes import run_study, study_rows, summarise

protocol, out = sys.argv[1], Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
space = OmegaConf.to_container(OmegaConf.load("conf/base/parameters.yml"))["search_space"]
rows = pd.DataFrame(read_rows("data/03_primary/metabase.jsonl"))
mf = pd.read_csv("data/04_feature/meta_features.csv")
params = {"models": ["lightgbm_lambdarank", "random_forest"],
          "representations": ["hp+hc+en+ug+rad_pca+en_rad", "hp+hc+en"],
          "targets": ["iou"], "seeds": 20, "min_rows_per_dataset": 10, "protocol": protocol,
          "fidelity_pixels": None, "n_jobs": 1}
t = time.time()
study = run_study(rows, mf, space, params)
summary, _, md = summarise(study)
study.to_csv(out / "study.csv", index=False)
summary.to_csv(out / "summary.csv", index=False)
(out / "summary.md").write_text(md)
print(json.dumps({"seconds": round(time.time() - t, 1),
                  "rows": len(study_rows(rows, params)), "protocol": protocol}))
