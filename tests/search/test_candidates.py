"""The search's candidates: no near-copies beside the plan."""

from __future__ import annotations

import pandas as pd

from aixcell_automl.search.candidates import (
    candidates_and_reserve,
    candidates_with_plan,
    distinct_rows,
)


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


def test_the_reserve_follows_the_k_candidates_and_never_displaces_the_plan():
    ranking = pd.DataFrame([_cfg(f"c{i}", patch=(64, 128, 256)[i % 3], lr=(1e-2, 1e-3)[i // 3])
                            for i in range(6)] + [_cfg("plan", backbone="resnet50")])
    ranking["rank"] = range(1, len(ranking) + 1)  # the plan ranked last, 7th
    plan = {"configuration": _cfg("plan", backbone="resnet50")}
    chosen, reserve, _ = candidates_and_reserve(ranking, plan, 3, 4, pd.DataFrame(),
                                                pd.DataFrame(), {}, {"candidates": "ranking"})
    assert [c["config_id"] for c in chosen] == ["c0", "c1", "plan"]
    assert [c["config_id"] for c in reserve] == ["c2", "c3", "c4", "c5"]  # the next, not the plan
    assert candidates_and_reserve(ranking, plan, 3, 0, pd.DataFrame(), pd.DataFrame(), {},
                                  {"candidates": "ranking"})[:2] == (chosen, [])
    alone, reserve, why = candidates_and_reserve(ranking, plan, 1, 2, pd.DataFrame(),
                                                 pd.DataFrame(), {}, {"candidates": "ranking"})
    assert [c["config_id"] for c in alone] == ["plan"]  # k = 1: the plan alone, the reserve next
    assert [c["config_id"] for c in reserve] == ["c0", "c1"]
    assert why == "the plan alone; the reserve: the ranking's top k - 1"


# a dense (v3) meta-base: candidates p (every dataset's plan), a, b, c; scores at 2^24
M24 = 2**24
HP = {"p": ("resnet18", 256, 8, 0.001), "a": ("resnet50", 64, 16, 0.001),
      "b": ("resnet18", 128, 8, 0.01), "c": ("resnet18", 64, 16, 0.0005)}
SCORES = {"D1": {"p": .5, "a": .9, "b": .6, "c": .55},
          "D2": {"p": .5, "a": .85, "b": .6, "c": .5},
          "D3": {"p": .8, "a": .3, "b": .6, "c": .82},
          "T": {"p": .1, "a": .1, "b": .9, "c": .1},   # the searched dataset: never learned from
          "D4": {"p": .2, "a": .9}}                     # incomplete: left out


def _dense_metabase():
    rows = [{"protocol": "v3", "dataset": d, "dataset_hash": f"h{d}", "candidate": c,
             "status": "ok", "curve": [[2**20, s / 2], [M24, s]], "fidelity_pixels": M24,
             "pixels_per_second": 1e5, "machine_factor": 1.0,
             **dict(zip(("hp_backbone", "hp_patch_size", "hp_batch_size", "hp_learning_rate"),
                        HP[c], strict=True)),
             "hp_flip": 0.0, "hp_brightness_blur": 0.0, "hp_grid_distortion": 0.0}
            for d, scores in SCORES.items() for c, s in scores.items()]
    # plan rules: 600 px images -> patch 256, batch 8; 20 images -> ResNet-18; grey
    mf = pd.DataFrame([{"dataset": d, "hc_mean_image_shape": 600, "hc_n_images": 20,
                        "hc_is_rgb": 0} for d in SCORES])
    return pd.DataFrame(rows), mf


PLAN = {"configuration": {"config_id": "plan", "backbone": "resnet18", "patch_size": 256,
                          "batch_size": 8, "learning_rate": 0.001, "flip": 0.5,
                          "brightness_blur": 0.0, "grid_distortion": 0.0}}
TARGET = {"dataset": "T", "dataset_hash": "hT"}


def test_portfolio_is_learned_on_the_other_complete_datasets_with_their_plans_in_the_set():
    from aixcell_automl.search.candidates import portfolio_candidates

    metabase, mf = _dense_metabase()
    got, why = portfolio_candidates(metabase, mf, PLAN, 3, TARGET, min_datasets=3)
    # with p in every set: a lowers the mean regret over D1-D3 most (0, 0, .02), then c (D3)
    assert [(c["backbone"], c["patch_size"], c["learning_rate"]) for c in got] == [
        ("resnet18", 256, 0.001), ("resnet50", 64, 0.001), ("resnet18", 64, 0.0005)]
    assert got[0] == PLAN["configuration"]
    assert all(c["flip"] == 0.5 for c in got[1:])  # the searched dataset's augmentations
    assert "a, c" in why and "3 datasets" in why
    # T's rows (b would fix T) are never learned from, also under another name
    copy = {"T": "T-copy"}
    renamed = metabase.assign(dataset=metabase["dataset"].replace(copy))
    assert portfolio_candidates(renamed, mf.assign(dataset=mf["dataset"].replace(copy)), PLAN, 3,
                                TARGET, 3)[0] == got
    with_t = portfolio_candidates(metabase, mf, PLAN, 3, {**TARGET, "dataset": "U",
                                                          "dataset_hash": "hU"}, 3)[0]
    assert with_t[1]["patch_size"] == 128  # learned from T too, b comes first
    params = {"candidates": "portfolio", "portfolio_min_datasets": 3}
    chosen, reserve, why = candidates_and_reserve(pd.DataFrame(), PLAN, 2, 1, metabase, mf,
                                                  TARGET, params)
    assert [c["backbone"] for c in chosen + reserve] == ["resnet18", "resnet50", "resnet18"]
    assert why == "the plan and the portfolio a, learned on 3 datasets"  # not the reserve's c
    assert candidates_and_reserve(pd.DataFrame(), PLAN, 1, 2, metabase, mf, TARGET, params)[2] \
        == "the plan alone; the reserve: the portfolio a, c, learned on 3 datasets"


def test_too_few_complete_datasets_fall_back_to_the_ranking_and_say_why():
    from aixcell_automl.search.candidates import choose_candidates

    metabase, mf = _dense_metabase()
    ranking = pd.DataFrame([_cfg("r1", backbone="resnet50"), _cfg("r2", lr=1e-2)])
    ranking["rank"] = [1, 2]
    params = {"candidates": "portfolio", "portfolio_min_datasets": 4}
    got, why = choose_candidates(ranking, PLAN, 3, metabase, mf, TARGET, params)
    assert [c["config_id"] for c in got] == ["r1", "r2", "plan"]
    assert "3 other dataset(s)" in why and "portfolio_min_datasets=4" in why
    got, _ = choose_candidates(ranking, PLAN, 3, metabase, mf, TARGET,
                               {**params, "portfolio_min_datasets": 3})
    assert got[1]["backbone"] == "resnet50" and got[1]["patch_size"] == 64
