from pathlib import Path

import pandas as pd
import pytest

from aixcell_automl.core.search_space import build_space, enumerate_configs
from aixcell_automl.metabase.clean import remove_outliers
from aixcell_automl.metabase.ladder import ladder_position, ladder_start, ladder_tasks, promote
from aixcell_automl.metabase.store import append_row, done_keys, merge, read_rows
from tests.project_conf import SPACE


def _row(i, dataset="d", t=10.0, iou=0.5):
    return {"dataset": dataset, "dataset_hash": "h" + dataset, "config_id": f"c{i}",
            "fidelity_pixels": 1, "train_seconds": t, "val_score": iou, "status": "ok"}


def test_append_and_read_roundtrip_and_partial_line(tmp_path):
    path = tmp_path / "mb.jsonl"
    append_row(path, _row(1))
    with open(path, "a") as f:
        f.write('{"dataset": "d", "config_')  # a write cut short by a crash
    append_row(path, _row(2))
    rows = read_rows(path)
    assert [r["config_id"] for r in rows] == ["c1", "c2"]
    assert done_keys(rows) == {("hd", "c1", 1, "v1"), ("hd", "c2", 1, "v1")}


def test_merge_appends_only_new_keys_in_source_order_and_skips_a_partial_line(tmp_path):
    dest, a, b = tmp_path / "mb.jsonl", tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for r in (_row(1), _row(2)):
        append_row(dest, r)
    for r in (_row(2, iou=0.1), _row(3), {**_row(2), "fidelity_pixels": 2}):
        append_row(a, r)
    with open(a, "a") as f:
        f.write('{"dataset": "d", "dataset_hash": "hd", "config_id": "c9"')  # cut short
    for r in (_row(3, iou=0.9), _row(4), {**_row(1), "protocol": "v3"}):
        append_row(b, r)
    before = dest.read_text()
    # new keys (dataset hash, configuration, fidelity, protocol): from a c3 and c2 at fidelity 2
    # (c2 at fidelity 1 is there); from b c4 and c1 of protocol v3 (c3 came from a)
    assert merge([a, b], dest) == 4
    text = dest.read_text()
    assert text.startswith(before)  # appended, nothing rewritten
    rows = read_rows(dest)
    assert len(rows) == len(text.splitlines()) == 6  # every line a complete row
    assert [(r["config_id"], r["fidelity_pixels"], r.get("protocol", "v1")) for r in rows] == [
        ("c1", 1, "v1"), ("c2", 1, "v1"), ("c3", 1, "v1"), ("c2", 2, "v1"), ("c4", 1, "v1"),
        ("c1", 1, "v3")]
    # the first row of a key wins
    assert rows[1]["val_score"] == 0.5 and rows[2]["val_score"] == 0.5
    assert "c9" not in {r["config_id"] for r in rows}
    assert merge([a, b], dest) == 0 and dest.read_text() == text  # merging again adds nothing


def test_a_real_trial_gives_its_metabase_row(demo_path, tmp_path, monkeypatch):
    """``run_trial`` with the two-layer ``tiny`` backbone for 2**21 training pixels, protocol v3
    (evaluated at every power of two from 2**20)."""
    import tempfile

    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.metabase.trial import run_trial
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with

    config = {"patch_size": 64, "batch_size": 4, "learning_rate": 0.01, "backbone": "tiny",
              "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0, "config_id": "tiny-1"}
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where a trial without run_dir trains
    with plugin_manager_with(TinyBackbone()):
        row = run_trial(str(demo_path), config, 2**21, seed=3, protocol="v3",
                        extra={"source": "test"}, precision="float32")
    ds = load_dataset(demo_path)
    assert (row["dataset"], row["dataset_hash"]) == (ds.name, ds.content_hash())
    assert row["config_id"] == "tiny-1" and row["hp_backbone"] == "tiny"
    assert row["hp_learning_rate"] == 0.01 and row["seed"] == 3 and row["source"] == "test"
    assert row["status"] == "ok" and row["reason"] is None
    assert row["protocol"] == "v3" and row["precision"] == "float32"
    assert row["fidelity_pixels"] == row["pixels_seen"] == 2**21
    assert row["eval_at"] == [2**20, 2**21]  # v3 starts at 2**20; v2 would start at 2**21
    assert [pixels for pixels, _ in row["curve"]] == [2**20, 2**21]
    assert row["val_score"] == max(iou for _, iou in row["curve"])  # best so far
    assert row["final_score"] == row["curve"][-1][1]
    assert row["steps"] == 2**21 // (4 * 64 * 64) == 128  # pixels / (batch * patch^2)
    assert row["patches_seen"] == 128 * 4 and row["early_stopping"] is False
    assert not list(scratch.glob("trial_*"))  # its temporary training folder is removed


def test_promote_takes_the_best_then_a_seeded_draw_and_never_a_failed_trial():
    scores = {"a": 0.9, "b": 0.8, "c": None, "d": 0.1, "e": 0.2, "f": 0.3}
    up = promote(scores, 2, 2, seed=[0, 1])
    assert up[:2] == ["a", "b"] and len(up) == 4 and "c" not in up
    assert set(up[2:]) <= {"d", "e", "f"}
    assert promote(scores, 2, 2, seed=[0, 1]) == up  # seeded
    draws = {tuple(promote(scores, 2, 2, seed=[s, 1])[2:]) for s in range(20)}
    assert len(draws) > 1  # the draw is random, not "the next best"


def _ladder_rows(first, scores, fidelity, dhash="h"):
    return {(c["config_id"], fidelity): {"val_score": scores[c["config_id"]], "status": "ok"}
            for c in first}


def test_ladder_position_walks_up_the_rungs():
    configs = enumerate_configs(build_space(SPACE, with_plugins=False))
    ladder = ((6, 100, 2), (3, 400, 1), (2, 800, 0))
    first = ladder_start(configs, "0000abcd", 0, ladder)
    assert len(first) == 6 and len({c["config_id"] for c in first}) == 6
    rung, members, todo = ladder_position(first, {}, [0], ladder)
    assert rung == 0 and todo == first
    scores = {c["config_id"]: i / 10 for i, c in enumerate(first)}  # the last is best
    rows = _ladder_rows(first[:5], scores, 100)
    assert ladder_position(first, rows, [0], ladder)[2] == first[5:]
    rows.update(_ladder_rows(first[5:], scores, 100))
    rung, members, todo = ladder_position(first, rows, [0], ladder)
    ids = [c["config_id"] for c in members]
    assert rung == 1 and len(members) == 3 and todo == members
    assert {first[5]["config_id"], first[4]["config_id"]} <= set(ids)  # best 2 + 1 drawn
    rows.update(_ladder_rows(members, scores, 400))
    rung, top, todo = ladder_position(first, rows, [0], ladder)
    assert rung == 2 and len(top) == 2 and first[5] in top and set(
        c["config_id"] for c in top) <= set(ids)
    rows.update(_ladder_rows(top, scores, 800))
    assert ladder_position(first, rows, [0], ladder) == (3, [], [])


def test_ladder_tasks_finish_a_started_ladder_first_and_prune_checkpoints(tmp_path):
    configs = enumerate_configs(build_space(SPACE, with_plugins=False))
    ladder = ((2, 100, 1), (1, 400, 0))
    hashes = {"a": "000000aa", "b": "000000bb"}
    tasks, left = ladder_tasks(["a", "b"], configs, [], hashes, tmp_path, 0, ladder)
    assert [t[0] for t in tasks] == ["a", "a"] and left == 6
    rows = [{"dataset_hash": hashes["a"], "config_id": t[1]["config_id"], "fidelity_pixels": 100,
             "val_score": v, "status": "ok", "protocol": "v2", "source": "ladder"}
            for t, v in zip(tasks, (0.2, 0.7), strict=True)]
    for t in tasks:  # checkpoints the two rung-0 trials left
        Path(t[4]).mkdir(parents=True)
    # "b" has a row of another protocol: it does not count, "a" has started, so "a" goes on
    old = {"dataset_hash": hashes["b"], "config_id": "x", "fidelity_pixels": 100, "val_score": 1,
           "status": "ok"}
    nxt, left = ladder_tasks(["a", "b"], configs, [*rows, old], hashes, tmp_path, 0, ladder)
    assert [(t[0], t[1]["config_id"], t[2]) for t in nxt] == [("a", tasks[1][1]["config_id"],
                                                               400)]
    # one row of "b"'s sample (e.g. a configuration another seed's ladder drew too) does not
    # make "b" the ladder to go on with: "a" is further along
    shared = {**rows[0], "dataset_hash": hashes["b"],
              "config_id": ladder_start(configs, hashes["b"], 0, ladder)[0]["config_id"]}
    assert ladder_tasks(["a", "b"], configs, [*rows, shared], hashes, tmp_path, 0, ladder
                        )[0] == nxt
    assert left == 4 and not Path(tasks[0][4]).exists() and Path(tasks[1][4]).exists()
    rows.append({**rows[1], "fidelity_pixels": 400})
    nxt, left = ladder_tasks(["a", "b"], configs, rows, hashes, tmp_path, 0, ladder)
    assert [t[0] for t in nxt] == ["b", "b"] and left == 3
    assert not (tmp_path / hashes["a"][:16]).exists()  # a finished ladder keeps nothing


def test_a_second_seed_runs_a_second_ladder_beside_a_finished_one(tmp_path):
    configs = enumerate_configs(build_space(SPACE, with_plugins=False))
    ladder = ((2, 100, 1), (1, 400, 0))
    hashes = {"a": "000000aa", "b": "000000bb"}

    def complete(seed, rows):
        while tasks := ladder_tasks(["a", "b"], configs, rows, hashes, tmp_path, seed, ladder)[0]:
            rows = rows + [{"dataset_hash": hashes[t[0]], "config_id": t[1]["config_id"],
                            "fidelity_pixels": t[2], "val_score": 0.5, "status": "ok",
                            "protocol": "v2", "source": "ladder", "seed": t[3]} for t in tasks]
        return rows

    rows = complete(0, [])
    assert len(rows) == 6
    tasks, left = ladder_tasks(["a", "b"], configs, rows, hashes, tmp_path, 1, ladder)
    assert [t[0] for t in tasks] == ["a", "a"] and left == 6 and {t[3] for t in tasks} == {1}
    assert [t[1] for t in tasks] == ladder_start(configs, hashes["a"], 1, ladder)
    both = complete(1, rows)
    assert len(both) == 12 and len({(r["config_id"], r["fidelity_pixels"]) for r in both}) == 12


def test_outlier_removal_drops_iou_outliers_per_fidelity_but_not_slow_configurations():
    rows = [_row(i, t=10 + (i % 3), iou=0.5 + 0.01 * (i % 5)) for i in range(40)]
    rows.append(_row(98, t=500.0))  # slow by design: kept
    rows.append(_row(99, iou=0.0))  # collapsed: |z| > 4 within its dataset and fidelity
    rows += [{**_row(i, iou=0.0 if i else 0.9), "fidelity_pixels": 2} for i in range(3)]
    df = pd.DataFrame(rows)
    clean = remove_outliers(df)
    assert "c99" not in set(clean["config_id"]) and "c98" in set(clean["config_id"])
    assert len(clean) == 44 and len(df) == 45  # the 3 rows at fidelity 2 are a group of their own


def test_time_limit_stops_before_starting_another_trial(demo_path, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.core.search_space import enumerate_configs
    from aixcell_automl.metabase import collect

    started, clock = [], [1000.0]  # a fake clock: each trial takes 20 s of it

    def fake_trial(path, config, fidelity, seed, run_dir):  # a real one: see above
        started.append(config["config_id"])
        clock[0] += 20
        return {"dataset": "demo", "dataset_hash": dhash,
                "config_id": config["config_id"], "fidelity_pixels": fidelity,
                "protocol": "v2", "status": "ok", "val_score": 0.5, "train_seconds": 20}

    dhash = load_dataset(demo_path, check_pixels=False).content_hash()
    monkeypatch.setattr(collect, "run_trial", fake_trial)
    monkeypatch.setattr(collect, "time", SimpleNamespace(time=lambda: clock[0]))
    n = collect.collect([str(demo_path)], tmp_path / "mb.jsonl", enumerate_configs(SPACE),
                         checkpoints=tmp_path / "ck", max_minutes=1, executor="local")
    assert n == len(started) == len(read_rows(tmp_path / "mb.jsonl"))
    assert n == 3  # trials start at 0, 20 and 40 s of a 60 s limit; none at 60 s, not all 21


def test_cli_configs_runs_exactly_the_named_configurations(monkeypatch, tmp_path):
    from aixcell_automl import __main__ as cli
    from aixcell_automl.metabase import collect

    seen = {}
    monkeypatch.setattr(collect, "collect_named", lambda paths, out, configs, **kw: seen.update(
        ids=[c["config_id"] for c in configs], fidelity=kw["fidelity_pixels"]))
    ids = [c["config_id"] for c in enumerate_configs(build_space(SPACE, with_plugins=False))[:2]]
    padded = f"{ids[0]}, {ids[1]},{ids[0]}"  # spaces and repeats are forgiven
    assert cli.main(["metabase", "--datasets", "x", "--configs", padded]) == 0
    assert sorted(seen["ids"]) == sorted(ids) and seen["fidelity"] == 2**23
    with pytest.raises(SystemExit, match="unknown configuration id\\(s\\): nope$"):
        cli.main(["metabase", "--datasets", "x", "--configs", f"{ids[0]},nope"])


def test_parse_ladder():
    from aixcell_automl.metabase.ladder import LADDER, parse_ladder

    assert parse_ladder("12@23:4,6@25:2,3@26") == LADDER
