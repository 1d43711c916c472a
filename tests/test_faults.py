"""Fault tests: the meta-base collector and the search, SIGKILLed at random points and resumed,
end as an uninterrupted run would (issue 18). Each job is killed twice, at points drawn from a
seeded generator as "at the n-th optimisation step of this process": the child kills itself
there (KILL_PRELUDE), so every kill happens mid-run on any machine, however fast; then it runs
to the end. The search counts its budget on a fake clock (0.25 s per step), so its trials train
the same steps everywhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.project_conf import SPACE

ENV = {**os.environ, "AIXCELL_AUTOML_NO_ENTRYPOINTS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}

# run first in every child: SIGKILL this process at the $KILL_AT_STEP-th optimisation step
# (before it runs); with $FAKE_CLOCK, the training clock advances 0.25 s per step and by
# nothing else
KILL_PRELUDE = """
import os, signal, types
from aixcell_automl.training import loop as _loop
_real, _n, _now = _loop.make_train_step, [0], [0.0]
_kill = int(os.environ.get("KILL_AT_STEP", "0"))
if os.environ.get("FAKE_CLOCK"):
    _fake = types.SimpleNamespace(now=lambda: _now[0], paused=0.0)
    _loop.clock = lambda: _fake
def _make_train_step(*args):
    step = _real(*args)
    def counted(x, y):
        _n[0] += 1
        _now[0] += 0.25
        if _n[0] == _kill:
            os.kill(os.getpid(), signal.SIGKILL)
        return step(x, y)
    return counted
_loop.make_train_step = _make_train_step
"""


def _killed_then_finished(cmd: list[str], kill_steps: list[int], env: dict | None = None,
                          after: Callable[[], None] = lambda: None) -> None:
    """Run ``cmd`` once per kill point: it SIGKILLs itself at that optimisation step (each
    point lies before the end of any run of it; asserted); then run it to the end. ``after()``
    is called after each killed run."""
    for step in kill_steps:
        proc = subprocess.run(cmd, env={**ENV, **(env or {}), "KILL_AT_STEP": str(step)},
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == -signal.SIGKILL, (step, proc.returncode, proc.stderr[-3000:])
        after()
    done = subprocess.run(cmd, env={**ENV, **(env or {})}, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


def test_progress_bar_counts_the_trials_a_resumed_search_replays(tmp_path, monkeypatch,
                                                                 search_bars):
    from aixcell_automl.search import run as search

    monkeypatch.setattr(search, "train_trial", lambda cfg, *a: {
        "status": "paused", "best_score": {"a": 0.5, "b": 0.4, "c": 0.3}[cfg["config_id"]]})
    monkeypatch.setattr(search, "release_models", lambda: None)
    cands = [{"config_id": c, "backbone": "resnet18", "patch_size": 64} for c in "abc"]
    rung0 = [{"rung": 0, "config_id": c, "rank": i + 1, "score": s, "status": "paused"}
             for i, (c, s) in enumerate(zip("abc", (0.5, 0.4, 0.3), strict=True))]
    (tmp_path / "trace.json").write_text(json.dumps({"rungs": [
        {"rung": 0, "seconds_per_trial": 1.0, "trials": rung0}]}))  # killed in rung 1
    from aixcell_automl.training.loop import Settings

    trace = search.run_search(cands, None, tmp_path, 6.0, Settings(), SPACE)
    assert (search_bars[0].total, search_bars[0].n) == (4, 4)  # 3 replayed + the one run now
    assert trace["winner"] == "a"


@pytest.mark.parametrize(("strategy", "k", "total"), [
    ("plan_only", 1, 1), ("equal_split", 3, 3), ("forecast_halving", 3, 4)])
def test_progress_bar_knows_each_built_in_strategys_trial_count(strategy, k, total, tmp_path,
                                                                 monkeypatch, search_bars):
    from aixcell_automl.search import run as search
    from aixcell_automl.training.loop import Settings

    monkeypatch.setattr(search, "train_trial", lambda cfg, *a: {
        "status": "paused", "best_score": {"a": 0.5, "b": 0.4, "c": 0.3}[cfg["config_id"]]})
    monkeypatch.setattr(search, "release_models", lambda: None)
    cands = [{"config_id": c, "backbone": "resnet18", "patch_size": 64} for c in "abc"][:k]
    search.run_search(cands, None, tmp_path, 6.0, Settings(), SPACE, strategy=strategy, k=k,
                      plan=cands[0])
    assert (search_bars[0].total, search_bars[0].n) == (total, total)


LADDER = "2@15:1,1@19"  # 2 configurations, then the better one; tiny fidelities


def cheap_seed(dataset: Path) -> int:
    """A collection seed whose sampled configurations are quick to build and step (ResNet-18,
    2^17 pixels a batch: one step passes rung 0, the top rung takes 3 more); any seed would be
    correct."""
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.core.search_space import build_space, enumerate_configs
    from aixcell_automl.metabase.ladder import ladder_start, parse_ladder

    h, configs = load_dataset(dataset).content_hash(), enumerate_configs(build_space(SPACE))
    return next(s for s in range(10_000) if all(
        c["backbone"] == "resnet18" and c["batch_size"] * c["patch_size"]**2 == 2**17
        for c in ladder_start(configs, h, s, parse_ladder(LADDER))))


@pytest.mark.slow
def test_collector_killed_at_random_points_ends_with_the_ladders_rows_once(demo_path, tmp_path):
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.core.search_space import build_space, enumerate_configs
    from aixcell_automl.metabase.ladder import ladder_start, parse_ladder
    from aixcell_automl.metabase.store import read_rows

    seed = cheap_seed(demo_path)
    run_cli = KILL_PRELUDE + (
        "import runpy, sys\nsys.argv[0] = 'aixcell_automl'\n"
        "runpy.run_module('aixcell_automl', run_name='__main__', alter_sys=True)\n")
    cmd = [sys.executable, "-c", run_cli, "metabase", "--datasets-root",
           str(demo_path.parent), "--datasets", demo_path.name, "--executor", "local",
           "--ladder", LADDER, "--seed", str(seed), "--out", str(tmp_path / "killed.jsonl"),
           "--checkpoints", str(tmp_path / "killed_ckpt")]
    # one run killed twice at random steps, then finished. The ladder is 1 + 1 + 3 steps; a
    # resumed run has at least the top rung's 3 left, so steps 1..2 always fall mid-run
    out, seen = tmp_path / "killed.jsonl", []
    kill_steps = [int(n) for n in np.random.default_rng(0).integers(1, 3, 2)]
    _killed_then_finished(cmd, kill_steps, after=lambda: seen.append(read_rows(out)))
    rows = read_rows(out)
    # the ladder's rows, each once: rung 0's two sampled configurations at 2^15, then the
    # better of them (ties by id) at 2^19; training is deterministic, so a resumed trial
    # scores what an uninterrupted one would
    first = ladder_start(enumerate_configs(build_space(SPACE)),
                         load_dataset(demo_path).content_hash(), seed, parse_ladder(LADDER))
    rung0 = {r["config_id"]: r["val_score"] for r in rows if r["fidelity_pixels"] == 2**15}
    best = min(rung0, key=lambda cid: (-rung0[cid], cid))
    assert Counter((r["config_id"], r["fidelity_pixels"]) for r in rows) == Counter(
        [(c["config_id"], 2**15) for c in first] + [(best, 2**19)])
    assert all(rows[:len(s)] == s for s in seen)  # rows on disk are never rewritten
    for r in rows:
        assert r["status"] == "ok" and r["source"] == "ladder" and r["protocol"] == "v2"
        assert r["early_stopping"] is False and 0 <= r["val_score"] <= 1 and r["curve"]
        assert r["versions"]["tensorflow"] and r["hardware"].startswith(("cpu", "gpu"))
        assert r["cpu_model"] and isinstance(r["cpu_model"], str)
        assert r["pixels_per_second"] > 0 and r["val_pixels"] > 0
    # a promoted configuration continued from its checkpoint: its curve extends the lower row's
    # (a restart from scratch would have a curve of its own), and where the lower row had not
    # reached this fidelity yet it trained and evaluated again (the top rung)
    by_key = {(r["config_id"], r["fidelity_pixels"]): r for r in rows}
    for (cid, fid), r in by_key.items():
        assert r["pixels_seen"] >= fid
        lower = [by_key[c, f] for c, f in by_key if c == cid and f < fid]
        if lower:
            prev = max(lower, key=lambda x: x["fidelity_pixels"])
            assert r["curve"][:len(prev["curve"])] == prev["curve"]
            if prev["pixels_seen"] < fid:
                assert len(r["curve"]) > len(prev["curve"])
    assert max(r["pixels_seen"] for r in rows) > 2 ** 17  # the top rung trained on
    assert not any((tmp_path / "killed_ckpt").rglob("*.index"))  # ladder done


SEARCH = KILL_PRELUDE + """
import sys
from pathlib import Path
from aixcell_automl.core.dataset import load_dataset, split_dataset
from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with
from aixcell_automl.search.run import run_search
from aixcell_automl.training.loop import Settings
from aixcell_automl.training.trial_data import make_trial_data
ds = load_dataset(sys.argv[1])
data = make_trial_data(ds, split_dataset(ds, seed=0), seed=0)
base = {"patch_size": 64, "batch_size": 4, "backbone": "tiny", "flip": 0.0,
        "brightness_blur": 0.0, "grid_distortion": 0.0}
cands = [{**base, "config_id": f"lr{lr}", "learning_rate": lr} for lr in (0.001, 0.01)]
with plugin_manager_with(TinyBackbone()):  # the search's bookkeeping is under test
    run_search(cands, data, Path(sys.argv[2]), 4.0,
               Settings(eval_every_pixels=4 * 4 * 64 * 64, val_pixels=8 * 64 * 64,
                        keep_in_memory=2),
               {**{k: [v] for k, v in base.items()}, "learning_rate": [0.001, 0.01]})
"""


@pytest.mark.slow
def test_search_killed_at_random_points_records_every_rung_and_trial_once(demo_path, tmp_path):
    from aixcell_automl.search.halving import survivors_per_rung

    rng = np.random.default_rng(0)
    root = tmp_path / "search"
    # 4 s on the fake clock, k = 2: rung 0 is 1 + 4 steps per configuration, rung 1 is 1 + 8;
    # every run, resumed or not, has rung 1's 9 steps left, so steps 1..8 fall mid-run
    kill_steps = [int(n) for n in rng.integers(1, 9, 2)]
    _killed_then_finished([sys.executable, "-c", SEARCH, str(demo_path), str(root)],
                          kill_steps, {"FAKE_CLOCK": "1"})
    trace = json.loads((root / "trace.json").read_text())
    assert [len(r["trials"]) for r in trace["rungs"]] == survivors_per_rung(2) == [2, 1]
    keys = Counter((t["rung"], t["config_id"]) for r in trace["rungs"] for t in r["trials"])
    assert set(keys.values()) == {1}
    assert {t["config_id"] for t in trace["rungs"][0]["trials"]} == {"lr0.001", "lr0.01"}
    best = max(trace["rungs"][0]["trials"], key=lambda t: (t["score"], -t["rank"]))
    assert trace["rungs"][1]["trials"][0]["config_id"] == best["config_id"]
    assert trace["winner"] == best["config_id"]
    assert [r["seconds_per_trial"] for r in trace["rungs"]] == [1.0, 2.0]
