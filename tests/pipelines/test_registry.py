import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {"search", "train", "predict", "metabase", "meta_features", "meta_learning", "pretrain",
            "transfer_experiment", "evaluate"}


def test_every_pipeline_is_registered_and_search_is_the_default():
    from kedro.framework.project import configure_project

    configure_project("aixcell_automl")
    from aixcell_automl.pipeline_registry import register_pipelines

    pipes = register_pipelines()
    assert set(pipes) >= EXPECTED
    assert pipes["__default__"] is pipes["search"]
    search_nodes = {n.name for n in pipes["search"].nodes}
    assert {"rank_configurations", "successive_halving", "write_report"} <= search_nodes


@pytest.mark.slow
def test_kedro_viz_build_writes_a_static_site():
    kedro = Path(sys.executable).with_name("kedro")
    subprocess.run([str(kedro), "viz", "build"], cwd=REPO, check=True, capture_output=True,
                   timeout=600)
    assert (REPO / "build" / "index.html").exists()
    main = json.loads((REPO / "build" / "api" / "main").read_text())
    names = {p["id"] for p in main["pipelines"]}
    assert names >= EXPECTED
