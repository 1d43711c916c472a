"""Fixtures for the plugins' tests (tests/conftest.py does not reach plugins/)."""

from __future__ import annotations

import types

import pytest


@pytest.fixture
def fake_clock(monkeypatch):
    """The training clock advanced by ``clock.step`` seconds (0.25) per optimisation step and by
    nothing else (as in tests/conftest.py): a slice of ``s`` seconds is ``1 + s / step`` steps
    on any machine, so no assertion depends on its speed."""
    from aixcell_automl.training import loop as training

    clock = types.SimpleNamespace(now=0.0, step=0.25)
    fake = types.SimpleNamespace(now=lambda: clock.now, paused=0.0)
    monkeypatch.setattr(training, "clock", lambda: fake)
    real = training.make_train_step

    def make_train_step(*args):
        step = real(*args)

        def timed(x, y):
            clock.now += clock.step
            return step(x, y)

        return timed

    monkeypatch.setattr(training, "make_train_step", make_train_step)
    return clock


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
