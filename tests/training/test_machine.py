"""The machine factor: measured once per machine and precision, then read from the cache."""

from __future__ import annotations

import pytest

from aixcell_automl.training import machine


@pytest.fixture
def fake_machine(monkeypatch, tmp_path):
    """A machine whose reference workload runs 200 kpx/s in float32 and 340 kpx/s in
    bfloat16; returns the precisions measured, in order."""
    monkeypatch.delenv("AIXCELL_AUTOML_MACHINE_FACTOR", raising=False)
    monkeypatch.setenv("AIXCELL_AUTOML_MACHINE_CACHE", str(tmp_path / "machine.json"))
    measured: list[str] = []

    def reference_speed(precision: str = "float32") -> float:
        measured.append(precision)
        return {"float32": 2e5, "bfloat16": 3.4e5}[precision]

    monkeypatch.setattr(machine, "reference_speed", reference_speed)
    monkeypatch.setattr(machine, "load_average", lambda: 0.3)  # idle
    return measured


def test_the_factor_is_measured_once_per_precision(fake_machine):
    assert machine.machine_factor(precision="float32")["machine_factor"] == 2.0
    assert machine.machine_factor(precision="bfloat16")["machine_factor"] == 3.4
    assert machine.machine_factor(precision="float32")["machine_factor"] == 2.0
    assert fake_machine == ["float32", "bfloat16"]  # the second float32 call read the cache
    assert machine.cached("bfloat16")["signature"].endswith(" | bfloat16")
    assert f" | step {machine.STEP_VERSION}" in machine.cached("float32")["signature"]
    assert machine.cached("float16") is None
    assert machine.machine_factor(False, "float16") is None  # not measured when told not to
    assert machine.recorded_factor("bfloat16") == 3.4 and machine.recorded_factor("float16") is None
    assert fake_machine == ["float32", "bfloat16"]


def test_without_a_precision_the_factor_is_that_of_auto(fake_machine, monkeypatch):
    monkeypatch.setattr(machine, "default_precision", lambda: "bfloat16")
    assert machine.machine_factor()["machine_factor"] == 3.4
    assert fake_machine == ["bfloat16"]


def test_a_faster_training_step_is_measured_again(fake_machine, monkeypatch):
    assert machine.machine_factor(precision="float32")["machine_factor"] == 2.0
    monkeypatch.setattr(machine, "STEP_VERSION", machine.STEP_VERSION + 1)
    assert machine.cached("float32") is None  # the old step's factor no longer describes it
    machine.machine_factor(precision="float32")
    assert fake_machine == ["float32", "float32"]


def test_a_factor_measured_on_a_busy_machine_is_used_but_not_cached(fake_machine, monkeypatch,
                                                                    caplog):
    monkeypatch.setattr(machine.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(machine, "load_average", lambda: 3.1)  # another job on both cores
    assert machine.machine_factor(precision="float32")["machine_factor"] == 2.0
    assert machine.cached("float32") is None
    assert "load average of 3.1 on 2 cores" in caplog.text
    monkeypatch.setattr(machine, "load_average", lambda: 1.0)  # this process alone
    machine.machine_factor(precision="float32")
    assert machine.cached("float32")["machine_factor"] == 2.0
    assert fake_machine == ["float32", "float32"]
