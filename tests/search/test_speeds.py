"""Speeds comparable across machines: rows normalised by their machine factor."""

from __future__ import annotations

import pandas as pd
import pytest

from aixcell_automl.search.budget import config_speeds, normalised_speeds, trusted

CFG = {"backbone": "resnet18", "patch_size": 64, "batch_size": 8}


def _row(pps: float, factor: float | None, share: float = 0.95, **hp) -> dict:
    # 100 s in all, of which 10 s building/tracing and 10 s evaluating: 80 s of training
    return {"status": "ok", "hardware": "cpu:2xx86_64", "train_seconds": 100.0,
            "overhead_seconds": 10.0, "eval_seconds": 10.0, "pixels_seen": pps * 80,
            "machine_factor": factor, "cpu_share": share, "hp_backbone": "resnet18",
            "hp_patch_size": 64, "hp_batch_size": 8, **hp}


def test_two_machines_3x_apart_give_one_normalised_speed():
    rows = pd.DataFrame([_row(1e5, 1.0), _row(3e5, 3.0), _row(3.3e5, 3.0)])
    assert normalised_speeds(rows).tolist() == pytest.approx([1e5, 1e5, 1.1e5])
    # on a machine of factor 2: twice the nominal speed (median of 1e5, 1e5, 1.1e5)
    assert config_speeds([CFG], rows, "cpu:2xx86_64", machine_factor=2.0).tolist() == [2e5]


def test_rows_without_a_factor_count_only_when_no_row_has_one():
    old = pd.DataFrame([_row(5e5, None), _row(5e5, None)])
    assert config_speeds([CFG], old, "cpu:4xarm", machine_factor=2.0).tolist() == [5e5]
    mixed = pd.concat([old, pd.DataFrame([_row(3e5, 3.0)])], ignore_index=True)
    assert config_speeds([CFG], mixed, "cpu:2xx86_64", machine_factor=1.0).tolist() == [1e5]
    assert config_speeds([CFG], mixed, "gpu:1xH100", machine_factor=1.0) is None


def test_rows_that_shared_the_cores_do_not_count():
    # a row trained beside another job (CPU share 0.4) ran at half speed: it is left out while
    # a trusted row exists, so the estimate stays the alone speed
    rows = pd.DataFrame([_row(1e5, 1.0), _row(0.5e5, 1.0, share=0.4)])
    assert trusted(rows).tolist() == [True, False]
    assert config_speeds([CFG], rows, "cpu:2xx86_64", machine_factor=1.0).tolist() == [1e5]
    # only untrusted rows (shared cores, or no factor): the raw speeds, as before factors
    shared = pd.DataFrame([_row(0.5e5, 1.0, share=0.4), _row(2e5, None)])
    assert config_speeds([CFG], shared, "cpu:2xx86_64", machine_factor=3.0).tolist() == [1.25e5]
    # a GPU row needs no CPU share
    assert trusted(pd.DataFrame([_row(1e6, 1.0, share=0.1, hardware="gpu:1xH100")])).all()
