import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {"search", "train", "predict", "metabase", "meta_features", "meta_learning", "pretrain",
            "transfer_experiment", "evaluate", "export", "replay"}


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
def test_kedro_viz_build_writes_a_static_site(tmp_path):
    """Built in a copy of the project frame (``kedro viz build`` writes ``build/`` into the
    working directory and has no option for another place), so the repository stays clean."""
    import os

    (tmp_path / "src").mkdir()  # the package itself is installed (editable)
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (tmp_path / "conf").symlink_to(REPO / "conf")
    kedro = Path(sys.executable).with_name("kedro")
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    subprocess.run([str(kedro), "viz", "build"], cwd=tmp_path, check=True, capture_output=True,
                   timeout=600, env=env)
    assert (tmp_path / "build" / "index.html").exists()
    main = json.loads((tmp_path / "build" / "api" / "main").read_text())
    names = {p["id"] for p in main["pipelines"]}
    assert names >= EXPECTED
