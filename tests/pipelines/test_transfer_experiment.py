import shutil

import numpy as np
import pytest
import yaml

from aixcell_automl.core.dataset import load_dataset
from aixcell_automl.training.trial_data import pooled_trial_data

CONFIG = {"patch_size": 64, "batch_size": 4, "learning_rate": 0.001, "backbone": "tiny",
          "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}
FAST = {"eval_every_pixels": 4 * 4 * 64 * 64, "val_pixels": 8 * 64 * 64,
        "early_stopping": {"delta": 0.0, "patience": 1000}, "seed": 0, "init_weights": None,
        "precision": "float32"}


@pytest.fixture(scope="module")
def datasets(demo_path, tmp_path_factory):
    """The demo set under three names ('relabelled' has other class names) and another draw of
    it, 'target', with other images."""
    from aixcell_automl.core.demo_data import write_demo_dataset

    root = tmp_path_factory.mktemp("sets")
    write_demo_dataset(root / "target", n_images=8, size=128, seed=2)
    for name in ("demo", "relabelled", "copy", "target"):
        if name != "target":
            shutil.copytree(demo_path, root / name)
        meta_file = root / name / "dataset.yaml"
        meta = yaml.safe_load(meta_file.read_text())
        meta["name"] = name
        if name == "relabelled":
            meta["class_names"] = ["bg", "cell", "nucleus"]
        meta_file.write_text(yaml.safe_dump(meta))
    return root


def test_pooled_data_keeps_shared_classes_and_binarises_mixed_ones(datasets):
    demo, other = load_dataset(datasets / "demo"), load_dataset(datasets / "relabelled")
    same = pooled_trial_data([demo, load_dataset(datasets / "target")])
    assert same.num_classes == 3 and same.class_names == demo.class_names
    assert {s.split("/")[0] for s in same.train.stems} == {"demo", "target"}
    mixed = pooled_trial_data([demo, other], channels=1)
    assert mixed.class_names == ["background", "foreground"]
    assert max(int(m.max()) for m in mixed.train.masks) == 1
    assert mixed.train.channels == 1
    n = len(demo.stems)
    assert len(mixed.train.stems) + len(mixed.val.stems) == 2 * n - 2  # each keeps a test image


@pytest.fixture
def tiny_backbone():
    """The experiment's bookkeeping is under test, not the model: the two-layer ``tiny``
    backbone trains in a second (transfer between U-Nets: tests/training/test_transfer.py)."""
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with

    with plugin_manager_with(TinyBackbone()):
        yield


def test_pretrain_then_transfer_experiment_end_to_end(datasets, tmp_path, tiny_backbone):
    from aixcell_automl.pipelines.pretrain.nodes import pretrain_model
    from aixcell_automl.pipelines.transfer_experiment.nodes import (
        plot_curves,
        run_experiment,
        summarise,
        write_report,
    )
    from aixcell_automl.training.model import save_model

    pre = {**FAST, "name": "mix", "sets": {"mix": ["demo", "relabelled"]}, "channels": None,
           "config": CONFIG, "max_pixels": 2 * FAST["eval_every_pixels"]}
    (model, info), state = pretrain_model(datasets, tmp_path / "pre", pre)
    assert info["num_classes"] == 2 and set(info["pretrained_on"]) == {"demo", "relabelled"}
    assert state["pixels_seen"] == pre["max_pixels"]
    pretrained = tmp_path / "models"
    save_model(model, pretrained / "mix", info)

    exp = {**FAST, "targets": ["target"], "config": CONFIG,
           "starts": {"scratch": None, "mix": "mix"},
           "max_pixels": 3 * FAST["eval_every_pixels"], "seeds": [0, 1]}

    def experiment(params):
        return run_experiment(datasets, pretrained, tmp_path / "runs", params)

    with pytest.raises(ValueError, match="also targets"):
        experiment({**exp, "targets": ["demo"]})
    with pytest.raises(ValueError, match="also targets"):  # a renamed copy is caught by content
        experiment({**exp, "targets": ["copy"]})
    with pytest.raises(FileNotFoundError, match="pipeline=pretrain"):
        experiment({**exp, "starts": {"nuclei": "absent"}})
    curves = experiment(exp)
    runs = curves["results"]["target"]
    assert [r["seed"] for r in runs["scratch"]] == [0, 1]
    assert runs["scratch"][0]["new_layers"] == [] and runs["scratch"][0]["init_weights"] is None
    assert runs["mix"][1]["new_layers"] == ["tiny_conv"]  # 2 pre-trained classes, 3 in target
    assert runs["scratch"][0]["history"] != runs["scratch"][1]["history"]  # seeds differ
    for r in runs["scratch"] + runs["mix"]:  # every run trained its pixels, evaluated on them
        assert r["pixels_seen"] == exp["max_pixels"] and r["stopped_by"] == "pixels"
        assert r["best_score"] == max(h["val_score"] for h in r["history"])
    # the tables, report and figure of these runs (their values: the hand-made test below)
    table = summarise(curves)
    assert list(table["start"]) == ["scratch", "scratch", "mix", "mix"]
    assert np.isnan(table.iloc[0]["all_layers_from_eval"])
    report = write_report(table, curves)
    assert "target, mix: best IoU" in report and "seeds [0, 1]" in report
    fig = plot_curves(curves)
    assert [ax.get_title() for ax in fig.axes] == ["target"]
    means = [line for line in fig.axes[0].get_lines() if line.get_linewidth() == 2]
    assert [line.get_label() for line in means] == ["scratch", "mix"]


def _run(seed, ious, best=None, init=None, new_layers=(), phase_start=0):
    return {"seed": seed, "best_score": max(ious) if best is None else best, "init_weights": init,
            "new_layers": list(new_layers), "phase_start": phase_start, "train_seconds": 10.0,
            "history": [{"epoch": e, "val_score": v} for e, v in enumerate(ious, 1)]}


# target t: scratch bests 0.5 and 0.7, mean 0.6, so the common bar is 0.95 * 0.6 = 0.57;
# target u: scratch bests 0.40 and 0.42, bar 0.95 * 0.41 = 0.3895
HAND_MADE = {
    "config": {"backbone": "tiny"}, "max_pixels": 1000, "seeds": [0, 1], "hardware": "cpu",
    "starts": {"scratch": None, "mix": "/models/mix"},
    "results": {
        "t": {"scratch": [_run(0, [0.2, 0.5, 0.4]), _run(1, [0.3, 0.6, 0.7])],
              "mix": [_run(0, [0.6, 0.64, 0.62], init="/models/mix", new_layers=["head"],
                           phase_start=1),
                      _run(1, [0.4, 0.72], init="/models/mix", new_layers=["head"],
                           phase_start=1)]},
        "u": {"scratch": [_run(0, [0.40]), _run(1, [0.42])],
              "mix": [_run(0, [0.60], init="/models/mix"), _run(1, [0.62], init="/models/mix")]},
    }}


def test_summary_report_and_figure_of_hand_made_curves():
    from aixcell_automl.pipelines.transfer_experiment.nodes import (
        plot_curves,
        summarise,
        write_report,
    )

    table = summarise(HAND_MADE)
    t = table[table["target"] == "t"]
    assert list(t["start"]) == ["scratch", "scratch", "mix", "mix"]
    assert list(t["best_score"]) == [0.5, 0.7, 0.64, 0.72]
    assert list(t["last_score"]) == [0.4, 0.7, 0.62, 0.72] and list(t["epochs"]) == [3, 3, 3, 2]
    # first epoch at >= 0.57: never (0.2, 0.5, 0.4); 0.6 at 2; 0.6 at 1; 0.72 at 2
    np.testing.assert_array_equal(t["epochs_to_95pct_scratch_best"], [np.nan, 2, 1, 2])
    # first epoch at >= 95 % of the run's own best: 0.475 -> 2; 0.665 -> 3; 0.608 -> 2;
    # 0.684 -> 2
    assert list(t["epochs_to_95pct_own_best"]) == [2, 3, 2, 2]
    # a transferred run releases all layers at the evaluation after phase_start
    np.testing.assert_array_equal(t["all_layers_from_eval"], [np.nan, np.nan, 2, 2])
    assert list(t["new_layers"]) == [0, 0, 1, 1]
    u = table[table["target"] == "u"]
    assert list(u["epochs_to_95pct_scratch_best"]) == [1, 1, 1, 1]  # 0.40, 0.42 >= 0.3895

    report = write_report(table, HAND_MADE)
    # t: mix mean (0.64 + 0.72) / 2 = 0.68 vs 0.6, +0.08; seed std (ddof 1): scratch
    # sqrt(2 * 0.1**2) = 0.141, mix 0.057: the difference is within the larger one. Epochs to
    # the bar: mix (1 + 2) / 2 = 1.5, scratch only seed 1 reached it, at 2.
    assert ("- t, mix: best IoU 0.680 vs 0.600 from scratch (+0.080, within seed noise); 95 % "
            "of the scratch best reached by 2/2 seeds (scratch 1/2), at epoch 1.50 vs 2.00 on "
            "average.") in report
    # u: 0.61 vs 0.41, +0.2 > std 0.014 of both
    assert ("- u, mix: best IoU 0.610 vs 0.410 from scratch (+0.200, higher); 95 % of the "
            "scratch best reached by 2/2 seeds (scratch 2/2), at epoch 1.00 vs 1.00 on "
            "average.") in report

    fig = plot_curves(HAND_MADE)
    assert [ax.get_title() for ax in fig.axes] == ["t", "u"]
    lines = fig.axes[0].get_lines()
    means = {line.get_label(): line for line in lines if line.get_linewidth() == 2}
    # the thick line is the seeds' mean over the epochs both have: scratch (0.2 + 0.3) / 2,
    # (0.5 + 0.6) / 2, (0.4 + 0.7) / 2; mix (0.6 + 0.4) / 2, (0.64 + 0.72) / 2
    np.testing.assert_allclose(means["scratch"].get_ydata(), [0.25, 0.55, 0.55])
    np.testing.assert_allclose(means["scratch"].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(means["mix"].get_ydata(), [0.5, 0.68])
    np.testing.assert_allclose(means["mix"].get_xdata(), [1, 2])
    # a dot where the frozen layers were released (evaluation phase_start + 1 = epoch 2), only
    # for transferred runs with new layers: none in u
    dots = [(line.get_xdata()[0], line.get_ydata()[0]) for line in lines
            if line.get_marker() == "o"]
    assert dots == [(2, 0.64), (2, 0.72)]
    assert not [line for line in fig.axes[1].get_lines() if line.get_marker() == "o"]
