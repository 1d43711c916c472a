import json

import pytest

from aixcell_automl.metalearning.ranking import rank_for_target
from aixcell_automl.search.candidates import metabase_position
from tests.metalearning.test_evaluation import _synthetic_metabase
from tests.project_conf import SPACE

PARAMS = {"meta_model": "random_forest", "representation": "hp+hc+en", "target": "iou",
          "metric": "iou", "metabase_protocol": None, "seed": 0, "k": 4, "k_max": 50,
          "budget_minutes": 3, "strategy": None,
          "split": [{"up_to_log2": None, "strategy": "successive_halving", "k": None,
                     "why": "test"}]}


def test_rank_excludes_the_target_datasets_own_rows():
    rows, mf = _synthetic_metabase()
    target = {"dataset": "d1", "dataset_hash": "h1", **mf.loc["d1"].to_dict()}
    ranking, info = rank_for_target(target, rows, mf.reset_index(), SPACE, PARAMS)
    assert len(ranking) == 576 and info["excluded_datasets"] == ["d1"]
    assert info["metabase_rows"] == len(rows[rows["dataset"] != "d1"])
    assert info["budget_suggestion"] is None  # the synthetic rows come from no real device
    # a renamed copy of d1 (same content hash) is excluded as well
    target2 = {**target, "dataset": "my_copy"}
    _, info2 = rank_for_target(target2, rows, mf.reset_index(), SPACE, PARAMS)
    assert info2["excluded_datasets"] == ["d1", "my_copy"]


def test_rank_without_usable_rows_says_what_to_do():
    rows, mf = _synthetic_metabase(n_datasets=1)
    target = {"dataset": "d0", "dataset_hash": "h0", **mf.loc["d0"].to_dict()}
    from aixcell_automl.core.errors import UserError

    with pytest.raises(UserError, match="pipeline=metabase"):
        rank_for_target(target, rows, mf.reset_index(), SPACE, PARAMS)


def test_metabase_position():
    rows, _ = _synthetic_metabase(n_datasets=1, per=10)
    best = rows.loc[rows["val_score"].idxmax()]
    pos = metabase_position(rows, "d0", best["config_id"])
    assert pos["winner_percentile"] == 100.0 and pos["rows"] == 10


def test_halving_survivor_resumes_and_losers_checkpoints_are_removed(demo_trial_data, tmp_path,
                                                                    fake_clock):
    """Real training of the tiny backbone on a fake clock (a step takes 0.25 s): the halving
    machinery, not the model, is under test."""
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with
    from aixcell_automl.search.run import run_search
    from aixcell_automl.training.loop import Settings

    base = {"patch_size": 64, "batch_size": 4, "backbone": "tiny", "flip": 0.0,
            "brightness_blur": 0.0, "grid_distortion": 0.0}
    cands = [{**base, "config_id": "a", "learning_rate": 0.001},
             {**base, "config_id": "b", "learning_rate": 0.01}]
    settings = Settings(eval_every_pixels=4 * 4 * 64 * 64, val_pixels=8 * 64 * 64,
                        keep_in_memory=2, early_stopping=False)
    with plugin_manager_with(TinyBackbone()):
        trace = run_search(cands, demo_trial_data, tmp_path, 24, settings, SPACE)
    win = trace["winner"]
    state = json.loads((tmp_path / win / "state.json").read_text())
    first = [t for t in trace["rungs"][0]["trials"] if t["config_id"] == win][0]
    assert state["pixels_seen"] > first["pixels_seen"] > 0  # continued, not restarted
    evals = [h["eval"] for h in state["history"]]
    assert evals == list(range(1, len(evals) + 1))
    loser = "b" if win == "a" else "a"
    assert not (tmp_path / loser / "ckpt").exists() and (tmp_path / win / "ckpt").exists()
    # each slice ran for its time: rung 0 gives each 6 s (24 steps), rung 1 the winner 12 s more
    assert [r["seconds_per_trial"] for r in trace["rungs"]] == [6.0, 12.0]
    assert state["steps"] == 1 + 24 + 1 + 48  # plus the first step of each slice (overhead)
    # learning from use: every trained configuration becomes a meta-base row
    from aixcell_automl.search.run import halving_rows

    rows = halving_rows(trace, tmp_path, "demo", "hash")
    assert [r["config_id"] for r in rows] == ["a", "b"]
    assert all(r["fidelity"] == "halving" and r["fidelity_pixels"] == r["pixels_seen"] > 0
               for r in rows)
    # the trace resumes only its own search: same settings replay it, others are refused
    from aixcell_automl.core.errors import UserError

    assert run_search(cands, demo_trial_data, tmp_path, 24, settings, SPACE)["rungs"] == \
        trace["rungs"]
    with pytest.raises(UserError, match=r"another search's trace \(budget_seconds 24.0 there, "
                                        r"48.0 now\)"):
        run_search(cands, demo_trial_data, tmp_path, 48, settings, SPACE)
    with pytest.raises(UserError, match="candidate_ids"):
        run_search(cands[:1], demo_trial_data, tmp_path, 24, settings, SPACE)


def test_budget_suggestion_uses_measured_speed_and_dataset_size():
    import pandas as pd

    from aixcell_automl.search.budget import budget_note, suggest_budget
    from aixcell_automl.search.halving import winner_share

    cfg = {"backbone": "resnet18", "patch_size": 64, "batch_size": 8}
    row = {"status": "ok", "hp_backbone": "resnet18", "hp_patch_size": 64, "hp_batch_size": 8}
    rows = pd.DataFrame([
        {**row, "hardware": "cpu:2x", "pixels_seen": 2**20, "train_seconds": 3.0,
         "overhead_seconds": 1.0},  # 2^19 px/s once building and tracing are taken out
        {**row, "hardware": "gpu:1xH100", "pixels_seen": 2**24, "train_seconds": 2.0},
        {**row, "hardware": "cpu:2x", "status": "failed", "pixels_seen": 0, "train_seconds": 0.0},
        {**row, "hardware": "cpu:2x", "hp_patch_size": 256, "pixels_seen": 2**18,
         "train_seconds": 1.0}])  # another patch size: only used when no exact match
    small = {"hc_n_images": 10, "hc_mean_image_shape": 100}  # 1e5 px < the fidelity
    s = suggest_budget([cfg] * 4, rows, small, 2**23, "cpu:16x")
    assert s["pixels_per_second"] == 2**19 and s["measured_on"] == "cpu:2x"
    assert s["budget_seconds"] == pytest.approx(16 / winner_share(4))
    big = {"hc_n_images": 100, "hc_mean_image_shape": 1024}  # one pass: 2^20 * 100 px
    assert suggest_budget([cfg] * 4, rows, big, 2**23, "cpu:2x")["budget_seconds"] == \
        pytest.approx(200 / winner_share(4))
    other = {**cfg, "patch_size": 128}  # same backbone, no exact row: median of both cpu rows
    assert suggest_budget([other], rows, small, 2**23, "cpu:2x")["pixels_per_second"] == \
        pytest.approx((2**19 + 2**18) / 2)
    assert suggest_budget([cfg], rows, small, 2**23, "gpu:1xA100")["pixels_per_second"] == 2**23
    assert suggest_budget([cfg], rows, small, 2**23, "tpu:1") is None  # no rows of that kind
    assert "0.5 min" in budget_note(s) and budget_note(None) == ""


def _plan_for(config):
    from aixcell_automl.core.search_space import config_id

    cfg = {k: v for k, v in config.items() if k != "config_id"}
    return {"configuration": {**cfg, "config_id": config_id(cfg)}}


def test_the_plan_enters_halving_and_wins_when_it_is_best():
    from aixcell_automl.search.candidates import candidates_with_plan
    from aixcell_automl.search.halving import successive_halving

    rows, mf = _synthetic_metabase()
    target = {"dataset": "d1", "dataset_hash": "h1", **mf.loc["d1"].to_dict()}
    ranking, _ = rank_for_target(target, rows, mf.reset_index(), SPACE, PARAMS)
    low = ranking.iloc[400].to_dict()  # a configuration the meta-model ranks low
    plan = _plan_for({k: low[k] for k in SPACE})
    cands = candidates_with_plan(ranking, plan, 4)
    ids = [c["config_id"] for c in cands]
    assert ids[-1] == plan["configuration"]["config_id"] and len(ids) == 4
    assert all("fidelity_pixels" not in c and "rank" not in c for c in cands)

    def key(c):
        return c["backbone"], c["patch_size"], c["learning_rate"]

    # the others: the best-ranked configurations, skipping only near-copies (same backbone,
    # patch and learning rate) of the plan or of one taken before
    assert len({key(c) for c in cands}) == 4
    last = ranking.index[ranking["config_id"] == ids[2]][0]
    for row in ranking.loc[:last].to_dict("records"):
        assert row["config_id"] in ids or key(row) in {key(c) for c in cands}
    # a plan among the top k is not repeated
    top = _plan_for({k: ranking.iloc[0][k] for k in SPACE})
    with_top = [c["config_id"] for c in candidates_with_plan(ranking, top, 4)]
    assert with_top[0] == ranking["config_id"].iloc[0] and len(set(with_top)) == 4

    def stub_rung(jobs):  # the plan is best on validation, the others in rank order below it
        return [{"status": "paused", "best_score": 0.9 if c["config_id"] == ids[-1]
                 else 0.5 - 0.01 * ids.index(c["config_id"])} for c, _ in jobs]

    trace = successive_halving(cands, 60.0, stub_rung)
    assert trace["winner"] == plan["configuration"]["config_id"]
    assert [len(r["trials"]) for r in trace["rungs"]] == [4, 2, 1]
    first = {t["config_id"]: t["rank"] for t in trace["rungs"][0]["trials"]}
    assert first[ids[-1]] == 4  # recorded at its place among the candidates


def test_choose_k_gives_every_first_rung_trial_two_megapixels():
    import numpy as np

    from aixcell_automl.search.budget import choose_k
    from aixcell_automl.search.halving import slice_seconds

    speeds = np.array([40e3, 50e3, 60e3])  # px/s; median 50 kpx/s
    k, reason = choose_k(600, speeds)
    assert slice_seconds(600, k)[0] * 50e3 >= 2**21 > slice_seconds(600, k + 1)[0] * 50e3
    assert k == 4 and "k = 4" in reason and "2^21" in reason
    assert choose_k(60, speeds)[0] == 1
    assert choose_k(600, None) == (1, "no measured speed on this kind of device: k = 1 "
                                      "(the plan alone)")


def test_the_split_follows_the_budget_and_the_plan_trains_alone_where_the_table_says():
    import numpy as np

    from aixcell_automl.search.budget import choose_k, choose_split

    split = [{"up_to_log2": 24, "strategy": "plan_only", "k": 1, "why": "no split pays"},
             {"up_to_log2": 25, "strategy": "equal_split", "k": 2, "why": "b"},
             {"up_to_log2": None, "strategy": "successive_halving", "k": None, "why": "c"}]
    params = {"k": None, "strategy": None, "k_max": 50, "split": split, "min_slice_seconds": 0}
    speeds = np.array([40e3, 50e3, 60e3])  # median 50 kpx/s
    # 300 s x 50 kpx/s = 1.5e7 px = 2^23.8; 600 s: 2^24.8; 1200 s: 2^25.8
    strategy, k, reason = choose_split(300, speeds, params)
    assert (strategy, k) == ("plan_only", 1)
    assert "2^23.8 training pixels" in reason and "row for up to 2^24 px (no split pays)" in reason
    assert choose_split(600, speeds, params)[:2] == ("equal_split", 2)
    strategy, k, reason = choose_split(1200, speeds, params)
    assert (strategy, k) == ("successive_halving", choose_k(1200, speeds)[0]) and k > 2
    assert "2^21" in reason  # k: null in the row: choose_k's rule, said so
    assert choose_split(300, speeds, {**params, "k": 4})[:2] == ("plan_only", 1)  # one trains
    assert choose_split(1200, speeds, {**params, "strategy": "plan_only"})[:2] == ("plan_only", 1)
    assert choose_split(600, speeds, {**params, "k": 4})[:2] == ("equal_split", 4)
    assert choose_split(300, speeds, {**params, "strategy": "random_halving"})[0] == \
        "random_halving"
    # a row's k whose first slice is below search.min_slice_seconds is lowered; search.k is not
    screen = [{"up_to_log2": None, "strategy": "screen_then_train", "k": 4, "why": "d"}]
    short = {**params, "split": screen, "min_slice_seconds": 15}
    strategy, k, reason = choose_split(150, speeds, short)  # 150 / 4 / 4 = 9.4 s; k = 2: 18.8
    assert (strategy, k) == ("screen_then_train", 2)
    assert "k = 4, lowered to 2" in reason and "min_slice_seconds = 15 s" in reason
    assert choose_split(240, speeds, short)[1] == 4  # 240 / 4 / 4 = 15 s
    assert choose_split(150, speeds, {**short, "k": 4})[1] == 4
    assert choose_split(50, speeds, short)[1] == 1  # 50 / 4 / 2 < 15: the plan alone
    strategy, k, reason = choose_split(300, None, params)  # no speed: the last row
    assert (strategy, k) == ("successive_halving", 1) and "last row" in reason
    from aixcell_automl.core.errors import UserError

    for bad, message in [([], "has no row"), ([{**split[0], "why": None, "x": 1}], "row 1 has"),
                         ([{**split[0], "strategy": "nope"}], "'nope' is not registered")]:
        with pytest.raises(UserError, match=message):
            choose_split(300, speeds, {**params, "split": bad})


def test_budget_aware_ranking_scores_each_configuration_at_its_own_fidelity(monkeypatch):
    import numpy as np
    import pandas as pd

    rows, mf = _synthetic_metabase()
    # two fidelities; at the long one the large patches win. Speeds: patch 256 trains 4x faster
    # than patch 64 (pixels per second), measured on this machine's kind of device.
    fast = rows["hp_patch_size"] / 64.0
    two = pd.concat([
        rows.assign(val_score=0.6 - 0.001 * rows["hp_patch_size"], fidelity_pixels=2**23),
        rows.assign(val_score=0.3 + 0.001 * rows["hp_patch_size"], fidelity_pixels=2**25)],
        ignore_index=True)
    two = two.assign(hardware="cpu:2xtest", pixels_seen=two["fidelity_pixels"],
                     train_seconds=two["fidelity_pixels"] / (2e4 * pd.concat([fast, fast],
                                                                            ignore_index=True)))
    monkeypatch.setattr("aixcell_automl.training.hardware.hardware", lambda: "cpu:2xtest")
    target = {"dataset": "d1", "dataset_hash": "h1", **mf.loc["d1"].to_dict()}
    params = {**PARAMS, "k": None, "budget_minutes": 10}
    ranking, info = rank_for_target(target, two, mf.reset_index(), SPACE, params)
    assert info["fidelities"] == [2**23, 2**25] and info["k"] >= 1 and info["k_reason"]
    by_patch = ranking.groupby("patch_size")["fidelity_pixels"].median()
    assert by_patch[64] < by_patch[256]  # faster configurations reach more pixels
    assert ranking["fidelity_pixels"].min() >= 2**23 and ranking["fidelity_pixels"].max() <= 2**25
    assert info["expected_winner_pixels"] == ranking.iloc[0]["fidelity_pixels"]
    assert np.isfinite(ranking["predicted_score"]).all()


def test_a_search_winner_no_better_than_a_constant_is_not_installed(demo_path):
    from aixcell_automl.core.dataset import load_dataset, make_split
    from aixcell_automl.core.errors import UserError
    from aixcell_automl.pipelines.search.nodes import finalize

    ds = load_dataset(demo_path)
    split = make_split(ds, {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0})
    import pandas as pd

    ranking = pd.DataFrame([{"config_id": "c", "rank": 1}])
    trace = {"winner": "c", "metric": "iou", "val_pixels": 2**16, "run_root": "nowhere",
             "rungs": [{"trials": [{"config_id": "c", "score": 0.0}]}]}
    with pytest.raises(UserError, match="model not installed"):
        finalize(ds, split, ranking, trace, None, pd.DataFrame())
