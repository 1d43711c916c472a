"""docs/tutorial.md's commands run as written, on a small shared dataset.

The tutorial's ``python -m aixcell_automl ...`` and ``kedro run ...`` lines are taken from its
``bash`` blocks and run through ``bash`` with its shell variables set to small values: ``DATA``
is a temporary folder whose ``images/`` and ``masks/`` link to a shared dataset (nothing is
copied; ``init-dataset`` writes ``dataset.yaml`` there), ``NEW`` a folder of links to some of its
images, ``BUDGET`` 1.5 minutes of training (less left the plan's model below the constant
predictor on a loaded 2-core machine, so it was not installed) and ``K`` 1 (the plan alone).
Kedro runs in a temporary project folder (links to this project's ``pyproject.toml`` and
``conf/``, a copy of the committed meta-base and meta-feature table), so every output lands
under ``tmp_path``, not in ``data/``.
The export and train lines are left out (minutes each; ``tests/export`` covers export).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TUTORIAL = REPO / "docs" / "tutorial.md"
DATASET = "baby_yeast_bf"   # 14 small 5-channel crops: the smallest shared set to search on
# minutes each: train is an alternative the tutorial names, export is covered by tests/export
SKIP = ("--pipeline=export", "--pipeline=train")


def tutorial_commands() -> list[str]:
    """The tutorial's CLI lines, in order (continuation lines joined)."""
    text = TUTORIAL.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith(("python -m aixcell_automl", "kedro run")):
                lines.append(line)
    return lines


def test_the_tutorial_names_its_steps():
    commands = tutorial_commands()
    for step in ("init-dataset", "validate", "--pipeline=search", "--pipeline=predict",
                 "--pipeline=export"):
        assert any(step in c for c in commands), step


@pytest.fixture
def project(tmp_path) -> Path:
    """A Kedro project folder that is this project by links, with its own ``data/``."""
    proj = tmp_path / "project"
    (proj / "src").mkdir(parents=True)  # Kedro wants the source folder; the package is installed
    (proj / "pyproject.toml").symlink_to(REPO / "pyproject.toml")
    (proj / "conf").symlink_to(REPO / "conf")
    for rel in ("data/03_primary/metabase.jsonl", "data/04_feature/meta_features.csv"):
        (proj / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, proj / rel)
    return proj


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.timeout(900)
def test_tutorial_commands_run(shared_datasets, project, tmp_path):
    source = shared_datasets / DATASET
    data = tmp_path / "data" / DATASET
    data.mkdir(parents=True)
    for sub in ("images", "masks"):
        (data / sub).symlink_to(source / sub)
    new = tmp_path / "new_images"
    new.mkdir()
    for image in sorted((source / "images").iterdir())[:3]:
        (new / image.name).symlink_to(image)

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DATA": str(data), "NEW": str(new), "BUDGET": "1.5", "K": "1",
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "AIXCELL_AUTOML_NO_ENTRYPOINTS": "1", "KEDRO_DISABLE_TELEMETRY": "true"}
    commands = [c for c in tutorial_commands() if not any(s in c for s in SKIP)]
    assert len(commands) >= 4
    for command in commands:
        done = subprocess.run(["bash", "-c", command], cwd=project, env=env, text=True,
                              capture_output=True, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    assert (data / "dataset.yaml").is_file()
    reports = list((project / "data" / "08_reporting" / "search").glob("*/report.html"))
    assert len(reports) == 1
    assert (project / "data" / "06_models" / "model" / "model.json").is_file()
    predictions = project / "data" / "07_model_output" / "predictions"
    assert sorted(p.stem for p in (predictions / "masks").iterdir()) == sorted(
        p.stem for p in new.iterdir())
    assert (predictions / "objects.csv").is_file()
