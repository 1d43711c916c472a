"""Meta-base protocol v3: the candidate rule, promotion, reuse of other rows, task order."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aixcell_automl.metabase import dense
from aixcell_automl.metabase.candidates import design, key, on_dataset
from tests.project_conf import SPACE

CONF = Path(__file__).resolve().parents[2] / "conf" / "base" / "parameters_metabase.yml"
PLAN = {"patch_size": 256, "batch_size": 8, "learning_rate": 0.001, "backbone": "resnet18",
        "flip": 0.5, "brightness_blur": 0.0, "grid_distortion": 0.0}


def _conf() -> dict:
    return yaml.safe_load(CONF.read_text())["metabase"]


def test_design_keeps_each_plan_once_then_fills_the_farthest_grid_points():
    other = {**PLAN, "patch_size": 64, "batch_size": 16}
    out = design([("a", PLAN), ("b", other), ("c", PLAN)], SPACE, n=4)
    assert [o["reason"] for o in out[:2]] == ["plan of a, c", "plan of b"]
    # both plans sit at learning rate 1e-3, ResNet-18; the farthest point from (256, 8) and
    # (64, 16) in the unit cube of levels: ResNet-50, patch 256, batch 32, learning rate 5e-4
    # (distance sqrt(1 + 0 + (2/3)^2 + 0.5^2) = 1.30; ties go to the grid's first point)
    assert key(out[2]) == ("resnet50", 256, 32, 0.0005)
    assert out[2]["reason"].endswith("(distance 1.302)")
    assert len({key(o) for o in out}) == 4


@pytest.mark.slow
@pytest.mark.shared_data
def test_committed_candidates_follow_the_rule(shared_datasets):
    from aixcell_automl.metabase.candidates import dataset_plans

    conf = _conf()
    plans = [(name, plan) for name, _, plan in
             dataset_plans([str(shared_datasets / d) for d in conf["v3_datasets"]])]
    expected = design(plans, SPACE, n=16)
    assert [key(c) for c in conf["candidates"]] == [key(c) for c in expected]
    assert [c["reason"] for c in conf["candidates"]] == [c["reason"] for c in expected]
    assert "coelho_nih3t3" not in conf["v3_datasets"] and len(conf["v3_datasets"]) == 14


def test_on_dataset_takes_the_plans_augmentations():
    cand = {"name": "c", "backbone": "resnet50", "patch_size": 64, "batch_size": 4,
            "learning_rate": 0.01}
    cfg = on_dataset(cand, {**PLAN, "brightness_blur": 0.5, "config_id": "x"})
    assert cfg["brightness_blur"] == 0.5 and cfg["backbone"] == "resnet50"
    assert cfg["config_id"] != on_dataset(cand, PLAN)["config_id"]
    assert "name" not in cfg


def test_promote_best_four_the_plan_and_one_seeded_draw():
    scores = {f"c{i}": 0.1 * i for i in range(1, 10)} | {"bad": None}
    up = dense.promote(scores, "c1", seed=[0, 1])
    assert up[:5] == ["c9", "c8", "c7", "c6", "c1"]
    assert up[5] in {"c2", "c3", "c4", "c5"} and len(up) == 6
    assert up == dense.promote(scores, "c1", seed=[0, 1])  # seeded
    # the plan among the best: the fifth best takes its place; a failed plan is never promoted
    assert dense.promote(scores, "c8", seed=[0, 1])[:5] == ["c9", "c8", "c7", "c6", "c5"]
    assert dense.promote(scores, "bad", seed=[0, 1])[:5] == ["c9", "c8", "c7", "c6", "c5"]


def _row(cid, fidelity, iou=0.5, protocol="v3", seed=0, h="00000001", **extra):
    return {"dataset_hash": h, "config_id": cid, "fidelity_pixels": fidelity, "val_score": iou,
            "status": "ok", "protocol": protocol, "seed": seed, **extra}


def test_reuse_only_where_every_protocol_setting_matches():
    v2 = _row("a", 2**25, protocol="v2", split_seed=0, early_stopping=False,
              eval_at=[2**k for k in range(21, 26)])
    assert not dense.reusable(v2, 0, 2**20)  # v2 evaluates from 2**21, and stops at 2**25
    same = {**v2, "fidelity_pixels": 2**24, "eval_at": dense.eval_at(2**24)}
    assert dense.reusable(same, 0, 2**20)
    assert not dense.reusable({**same, "seed": 1}, 0, 2**20)
    assert not dense.reusable({**same, "val_pixels_setting": 2**21}, 0, 2**20)
    assert not dense.reusable({**same, "early_stopping": True}, 0, 2**20)
    assert dense.reusable(_row("a", 2**24), 0, 2**20)
    assert not dense.reusable(_row("a", 2**24, seed=1), 0, 2**20)


def test_tasks_finish_the_dataset_furthest_along_then_continue_six_then_the_next(tmp_path):
    cands = _conf()["candidates"]
    plans = {"A": PLAN, "B": {**PLAN, "patch_size": 64, "batch_size": 16}}
    datasets = [("pA", "0000000a", plans["A"]), ("pB", "0000000b", plans["B"])]
    configs_b = dense.dataset_configs(cands, plans["B"])
    rows = [_row(c["config_id"], dense.FIRST, iou=0.01 * i, h="0000000b")
            for i, c in enumerate(configs_b[:3])]
    todo, left = dense.tasks(datasets, cands, rows, tmp_path, 0, 2**20)
    assert {t[0] for t in todo} == {"pB"} and len(todo) == 13
    assert all(t[2] == dense.FIRST and t[5] == "v3" and t[7] == "auto" for t in todo)
    assert left == 13 + 6 + 22  # B: 13 then 6 continuations; A: 16 + 6
    assert todo[0][6]["candidate"] == cands[3]["name"]
    rows += [_row(c["config_id"], dense.FIRST, iou=0.01 * i, h="0000000b")
             for i, c in enumerate(configs_b) if i >= 3]
    for c in configs_b:
        (tmp_path / "0000000b" / c["config_id"]).mkdir(parents=True)
    todo, _ = dense.tasks(datasets, cands, rows, tmp_path, 0, 2**20)
    # B's six continuations first, then A's first trials for a worker the continuations leave idle
    assert [(t[0], t[2]) for t in todo] == [("pB", dense.TOP)] * 6 + [("pA", dense.FIRST)] * 16
    ids = [t[1]["config_id"] for t in todo[:6]]
    plan_b = next(c["config_id"] for c in configs_b if key(c) == key(plans["B"]))
    assert {c["config_id"] for c in configs_b[-4:]} | {plan_b} < set(ids)  # scores rise with i
    kept = {d.name for d in (tmp_path / "0000000b").iterdir()}
    assert kept == set(ids)  # the ten that do not continue lose their checkpoints
    rows += [_row(i, dense.TOP, h="0000000b") for i in ids]
    todo, left = dense.tasks(datasets, cands, rows, tmp_path, 0, 2**20)
    assert {t[0] for t in todo} == {"pA"} and left == 22
    assert not (tmp_path / "0000000b").exists()  # a finished dataset's checkpoints go


@pytest.mark.slow
def test_collect_dense_writes_v3_rows_and_resumes_without_duplicates(demo_path, tmp_path,
                                                                     monkeypatch):
    from aixcell_automl.metabase import collect
    from aixcell_automl.metabase.store import read_rows
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with

    monkeypatch.setattr(dense, "FIRST", 2**16)
    monkeypatch.setattr(dense, "TOP", 2**17)
    cands = [{"name": "t1", "backbone": "tiny", "patch_size": 64, "batch_size": 4,
              "learning_rate": 0.001}]
    out = tmp_path / "mb.jsonl"
    kw = dict(checkpoints=tmp_path / "ck", executor="local", max_trials=1)
    with plugin_manager_with(TinyBackbone()):
        assert collect.collect_dense([str(demo_path)], out, cands, **kw) == 1
        assert collect.collect_dense([str(demo_path)], out, cands, **kw) == 1  # continuation
        assert collect.collect_dense([str(demo_path)], out, cands, **kw) == 0
    rows = read_rows(out)
    assert [(r["protocol"], r["fidelity_pixels"], r["candidate"]) for r in rows] == [
        ("v3", 2**16, "t1"), ("v3", 2**17, "t1")]
    from aixcell_automl.training.precision import resolve

    assert rows[0]["precision"] == resolve("auto")[0] and "machine_factor" in rows[0]
    assert rows[0]["curve"][-1][0] == 2**16 and rows[0]["eval_at"] == []
    assert rows[1]["steps"] == 2**17 // (4 * 64 * 64)  # continued, not restarted
