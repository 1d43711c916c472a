"""The search's candidates: no near-copies beside the plan."""

from __future__ import annotations

import pandas as pd

from aixcell_automl.search.candidates import candidates_with_plan, distinct_rows


def _cfg(cid, backbone="resnet18", patch=64, lr=5e-4, batch=16, flip=0.5):
    return {"config_id": cid, "backbone": backbone, "patch_size": patch, "learning_rate": lr,
            "batch_size": batch, "flip": flip}


def test_near_copies_of_the_plan_and_of_each_other_are_skipped():
    ranking = pd.DataFrame([
        _cfg("a"), _cfg("a_batch8", batch=8), _cfg("a_noflip", flip=0.0),  # copies of a
        _cfg("plan_copy", patch=256, lr=1e-3, batch=32),                    # copy of the plan
        _cfg("b", backbone="resnet50"), _cfg("c", lr=1e-2), _cfg("d", patch=128)])
    ranking["rank"] = range(1, len(ranking) + 1)
    plan = {"configuration": _cfg("plan", patch=256, lr=1e-3, batch=8)}
    assert list(distinct_rows(ranking, 3, [plan["configuration"]])["config_id"]) == [
        "a", "b", "c"]
    ids = [c["config_id"] for c in candidates_with_plan(ranking, plan, 4)]
    assert ids == ["a", "b", "c", "plan"]  # the plan (outside the ranking) last
