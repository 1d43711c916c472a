"""Shared fixtures. Real datasets are read from ../shared/datasets (override with
AIXCELL_SHARED_DATASETS); the synthetic demo set is generated into a temp folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("AIXCELL_AUTOML_NO_ENTRYPOINTS", "1")  # core tests: built-ins only
# a loaded test run never measures the machine factor, nor caches it (training/machine.py)
os.environ.setdefault("AIXCELL_AUTOML_MACHINE_FACTOR", "1.0")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = Path(os.environ.get("AIXCELL_SHARED_DATASETS",
                                      REPO.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory) -> Path:
    from aixcell_automl.core.demo_data import write_demo_dataset

    return write_demo_dataset(tmp_path_factory.mktemp("demo") / "demo", n_images=8, size=128,
                              seed=1)


@pytest.fixture(scope="session")
def demo_trial_data(demo_path):
    from aixcell_automl.core.dataset import load_dataset, split_dataset
    from aixcell_automl.training.trial_data import make_trial_data

    ds = load_dataset(demo_path)
    return make_trial_data(ds, split_dataset(ds, seed=0), seed=0)


@pytest.fixture
def fake_clock(monkeypatch):
    """The training clock, one 0.25-s tick per optimisation step
    (:func:`aixcell_automl.plugins.testing.fake_training_clock`)."""
    from aixcell_automl.plugins.testing import fake_training_clock

    return fake_training_clock(monkeypatch)


@pytest.fixture
def search_bars(monkeypatch) -> list:
    """The search's progress bars, recorded (``total``, ``n``) in place of tqdm's."""
    from aixcell_automl.search import run as search

    bars = []

    class Bar:  # records what tqdm is given
        def __init__(self, total, initial=0, **kw):
            self.total, self.n = total, initial
            bars.append(self)

        def update(self, n=1):
            self.n += n

        def set_postfix_str(self, s):
            pass

        def close(self):
            pass

    monkeypatch.setattr(search, "tqdm", Bar)
    return bars
