import json
from dataclasses import replace

import numpy as np
import pytest

from aixcell_automl.training.loop import Budget, Settings, _early_stop, train_trial

CFG = {"config_id": "t", "patch_size": 64, "batch_size": 4, "learning_rate": 0.001,
       "backbone": "resnet18", "flip": 0.5, "brightness_blur": 0.0, "grid_distortion": 0.0}
FAST = Settings(eval_every_pixels=8 * 4 * 64 * 64, val_pixels=16 * 64 * 64)


@pytest.mark.slow
def test_training_learns_and_resume_continues_history(demo_trial_data, tmp_path):
    run = tmp_path / "run"
    s1 = train_trial(CFG, demo_trial_data, run, Budget(pixels=3 * FAST.eval_every_pixels), FAST)
    assert s1["status"] == "finished" and s1["stopped_by"] == "pixels"
    assert [h["eval"] for h in s1["history"]] == [1, 2, 3]
    assert s1["steps"] == 24 and s1["pixels_seen"] == 24 * 4 * 64 * 64
    # a later call with a larger budget resumes: same trial, history and counters continue
    state = json.loads((run / "state.json").read_text())
    state["status"] = "paused"
    (run / "state.json").write_text(json.dumps(state))
    s2 = train_trial(CFG, demo_trial_data, run, Budget(pixels=5 * FAST.eval_every_pixels), FAST)
    assert [h["eval"] for h in s2["history"]] == [1, 2, 3, 4, 5]
    assert [h["steps"] for h in s2["history"]] == [8, 16, 24, 32, 40]
    assert s2["history"][:3] == s1["history"]
    assert s2["best_score"] == max(h["val_score"] for h in s2["history"])
    assert s2["best_score"] > 0.3  # the demo nuclei/cytoplasm are learnable within 160 patches
    assert (run / "best.weights.h5").exists()


def test_time_budget_ends_the_slice_on_a_fake_clock(demo_trial_data, tmp_path, fake_clock):
    """The slice clock starts after the first step (building, restoring and tracing are
    overhead); then the slice trains until its seconds are used up, checked before each batch."""
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with

    with plugin_manager_with(TinyBackbone()):
        s = train_trial({**CFG, "backbone": "tiny"}, demo_trial_data, tmp_path / "r",
                        Budget(seconds=2.1), FAST)
        assert s["status"] == "paused" and s["stopped_by"] == "seconds"
        assert s["steps"] == 1 + 9  # 9 x 0.25 s is the first multiple of a step >= 2.1 s
        assert s["overhead_seconds"] == 0.25 and s["train_seconds"] == 2.5
        again = train_trial({**CFG, "backbone": "tiny"}, demo_trial_data, tmp_path / "r",
                            Budget(seconds=1.0), FAST)  # the next slice continues
    assert again["steps"] == 10 + 1 + 4 and again["train_seconds"] == 2.5 + 1.25
    assert again["overhead_seconds"] == 0.5


def test_a_killed_trial_resumes_from_its_last_timed_checkpoint(demo_trial_data, tmp_path,
                                                               fake_clock, monkeypatch, caplog):
    """Between far-apart evaluations a long trial still saves every ``checkpoint_every_seconds``:
    killed mid-way, it continues from the last save instead of from its last evaluation."""
    import logging

    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with
    from aixcell_automl.training import loop as training

    step_pixels = 4 * 64 * 64
    settings = replace(FAST, eval_at=(40 * step_pixels,), checkpoint_every_seconds=1.0)
    cfg, run, steps, kill_at = {**CFG, "backbone": "tiny"}, tmp_path / "r", [], [11]
    timed = training.make_train_step

    def killed_at_step_11(*args):
        step = timed(*args)

        def run_step(x, y):
            steps.append(1)
            if len(steps) == kill_at[0]:
                raise SystemExit("kill -9")  # not an Exception: the trial does not record it
            return step(x, y)

        return run_step

    with plugin_manager_with(TinyBackbone()):
        monkeypatch.setattr(training, "make_train_step", killed_at_step_11)
        with pytest.raises(SystemExit):
            train_trial(cfg, demo_trial_data, run, Budget(pixels=40 * step_pixels), settings)
        saved = json.loads((run / "state.json").read_text())
        # 0.25 s per step, a save every 1.0 s: after steps 4 and 8; step 11 never ran
        assert saved["steps"] == 8 and saved["history"] == [] and saved["since_eval"] > 0
        steps.clear()
        kill_at[0] = None
        with caplog.at_level(logging.INFO, logger="aixcell_automl.training.loop"):
            done = train_trial(cfg, demo_trial_data, run, Budget(pixels=40 * step_pixels),
                               settings)
    assert "resuming t at epoch" in caplog.text  # weights and optimizer came from the save
    assert len(steps) == 40 - 8 and done["steps"] == 40 and done["status"] == "finished"
    assert [h["steps"] for h in done["history"]] == [40] and done["since_eval"] == 0


def test_failure_is_a_result(demo_trial_data, tmp_path):
    bad = {**CFG, "backbone": "no_such_backbone"}
    s = train_trial(bad, demo_trial_data, tmp_path / "f", Budget(pixels=1), FAST)
    assert s["status"] == "failed" and "no_such_backbone" in s["reason"]
    # a failed trial stays failed (the caller goes on, nothing is retried silently)
    again = train_trial(bad, demo_trial_data, tmp_path / "f", Budget(pixels=1), FAST)
    assert again["status"] == "failed"


def test_early_stopping_rule():
    flat = [{"val_score": v} for v in [0.2, 0.5, 0.6, 0.62, 0.6, 0.61, 0.63, 0.6, 0.64, 0.62, 0.6]]
    assert not _early_stop(flat[:9], delta=0.05, patience=8)
    assert _early_stop(flat[:11], delta=0.05, patience=8)  # best rose 0.04 over the last 8
    rising = [{"val_score": v} for v in np.linspace(0.1, 0.9, 12)]
    assert not _early_stop(rising, delta=0.05, patience=8)


KILL_SCRIPT = """
import sys
from aixcell_automl.core.dataset import load_dataset, split_dataset
from aixcell_automl.training.loop import Budget, Settings, train_trial
from aixcell_automl.training.trial_data import make_trial_data
ds = load_dataset(sys.argv[1])
data = make_trial_data(ds, split_dataset(ds, seed=0), seed=0)
cfg = {"config_id": "k", "patch_size": 64, "batch_size": 4, "learning_rate": 0.001,
       "backbone": "resnet18", "flip": 0.5, "brightness_blur": 0.0, "grid_distortion": 0.0}
s = Settings(eval_every_pixels=4 * 4 * 64 * 64, val_pixels=8 * 64 * 64)
train_trial(cfg, data, sys.argv[2], Budget(pixels=int(sys.argv[3])), s)
"""


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_continues_the_history(demo_path, tmp_path):
    """The child SIGKILLs itself at its 10th step (tests/test_faults.py's prelude): after the
    evaluations at steps 4 and 8 on any machine, however fast or loaded."""
    import signal
    import subprocess
    import sys

    from tests.test_faults import ENV, KILL_PRELUDE

    run = tmp_path / "killed"
    total = 6 * 4 * 4 * 64 * 64  # 6 evaluations, every 4 steps
    cmd = [sys.executable, "-c", KILL_PRELUDE + KILL_SCRIPT, str(demo_path), str(run), str(total)]
    killed = subprocess.run(cmd, env={**ENV, "KILL_AT_STEP": "10"}, capture_output=True,
                            text=True, timeout=900)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    before = json.loads((run / "state.json").read_text())
    assert len(before["history"]) == 2 and before["status"] == "running"
    subprocess.run(cmd, env=ENV, check=True, capture_output=True, timeout=900)
    after = json.loads((run / "state.json").read_text())
    assert after["status"] == "finished" and after["pixels_seen"] == total
    assert after["history"][:len(before["history"])] == before["history"]
    assert [h["eval"] for h in after["history"]] == list(range(1, 7))
    assert [h["steps"] for h in after["history"]] == [4 * i for i in range(1, 7)]


def test_the_settings_metric_scores_validation_and_is_recorded(demo_trial_data, tmp_path):
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with

    cfg = {**CFG, "backbone": "tiny"}
    budget = Budget(pixels=FAST.eval_every_pixels)
    with plugin_manager_with(TinyBackbone()):
        with pytest.raises(KeyError, match="no metric named 'f2'"):  # not a failed trial
            train_trial(cfg, demo_trial_data, tmp_path / "x", budget, replace(FAST, metric="f2"))
        s = train_trial(cfg, demo_trial_data, tmp_path / "d", budget, replace(FAST, metric="dice"))
        assert s["metric"] == "dice" and s["status"] == "finished"
        iou = train_trial(cfg, demo_trial_data, tmp_path / "i", budget, FAST)
        assert iou["metric"] == "iou"
        # the same seed trains the same model: Dice >= IoU per class, > where imperfect
        assert s["history"][0]["val_score"] > iou["history"][0]["val_score"]
        with pytest.raises(ValueError, match="was scored by 'dice'; cannot continue it with "
                                             "metric 'iou'"):
            train_trial(cfg, demo_trial_data, tmp_path / "d", Budget(pixels=2 * budget.pixels),
                        FAST)
        state = json.loads((tmp_path / "i" / "state.json").read_text())
        del state["metric"]  # a state written before metrics were plugins was scored by IoU
        (tmp_path / "i" / "state.json").write_text(json.dumps(state))
        again = train_trial(cfg, demo_trial_data, tmp_path / "i", Budget(pixels=2 * budget.pixels),
                            FAST)
        assert again["metric"] == "iou" and len(again["history"]) == 2
