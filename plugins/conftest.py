"""Fixtures for the plugins' tests (tests/conftest.py does not reach plugins/)."""

from __future__ import annotations

import os

import pytest

# a loaded test run never measures the machine factor, nor caches it (training/machine.py)
os.environ.setdefault("AIXCELL_AUTOML_MACHINE_FACTOR", "1.0")


@pytest.fixture
def fake_clock(monkeypatch):
    """The training clock, one 0.25-s tick per optimisation step
    (:func:`aixcell_automl.plugins.testing.fake_training_clock`)."""
    from aixcell_automl.plugins.testing import fake_training_clock

    return fake_training_clock(monkeypatch)


@pytest.fixture(scope="session")
def conf():
    """The project's parameters (conf/base/parameters*.yml, top-level sections), so a test
    passes a node every key it reads and overrides only what it is about."""
    from pathlib import Path

    import yaml

    base = Path(__file__).resolve().parents[1] / "conf" / "base"
    out = {}
    for f in sorted(base.glob("parameters*.yml")):
        out.update(yaml.safe_load(f.read_text()) or {})
    return out
