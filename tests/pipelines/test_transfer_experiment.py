import shutil

import numpy as np
import pytest
import yaml

from aixcell_automl.core.dataset import load_dataset
from aixcell_automl.training.trial_data import pooled_trial_data

CONFIG = {"patch_size": 64, "batch_size": 4, "learning_rate": 0.001, "backbone": "tiny",
          "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}
FAST = {"eval_every_pixels": 4 * 4 * 64 * 64, "val_pixels": 8 * 64 * 64,
        "early_stopping": {"delta": 0.0, "patience": 1000}, "seed": 0}


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

    pre = {**FAST, "name": "mix", "sets": {"mix": ["demo", "relabelled"]},
           "datasets_root": str(datasets), "channels": None, "config": CONFIG,
           "max_pixels": 2 * FAST["eval_every_pixels"], "run_root": str(tmp_path / "pre")}
    (model, info), state = pretrain_model(pre)
    assert info["num_classes"] == 2 and set(info["pretrained_on"]) == {"demo", "relabelled"}
    assert state["pixels_seen"] == pre["max_pixels"]
    save_model(model, tmp_path / "mix", info)

    exp = {**FAST, "datasets_root": str(datasets), "targets": ["target"], "config": CONFIG,
           "starts": {"scratch": None, "mix": str(tmp_path / "mix")},
           "max_pixels": 3 * FAST["eval_every_pixels"], "run_root": str(tmp_path / "runs"),
           "seeds": [0, 1]}
    with pytest.raises(ValueError, match="also targets"):
        run_experiment({**exp, "targets": ["demo"]})
    with pytest.raises(ValueError, match="also targets"):  # a renamed copy is caught by content
        run_experiment({**exp, "targets": ["copy"]})
    with pytest.raises(FileNotFoundError, match="pipeline=pretrain"):
        run_experiment({**exp, "starts": {"nuclei": str(tmp_path / "absent")}})
    curves = run_experiment(exp)
    runs = curves["results"]["target"]
    assert [r["seed"] for r in runs["scratch"]] == [0, 1]
    assert runs["scratch"][0]["new_layers"] == [] and runs["scratch"][0]["init_weights"] is None
    assert runs["mix"][1]["new_layers"] == ["tiny_conv"]  # 2 pre-trained classes, 3 in target
    assert runs["scratch"][0]["history"] != runs["scratch"][1]["history"]  # seeds differ
    table = summarise(curves)
    assert list(table["start"]) == ["scratch", "scratch", "mix", "mix"]
    scratch = table.iloc[0]
    assert scratch["best_iou"] == pytest.approx(max(h["val_iou"]
                                                    for h in runs["scratch"][0]["history"]))
    bar = 0.95 * np.mean([r["best_iou"] for r in runs["scratch"]])
    first = next((h["epoch"] for h in runs["scratch"][0]["history"] if h["val_iou"] >= bar), None)
    reach = scratch["epochs_to_95pct_scratch_best"]
    assert reach == first if first is not None else np.isnan(reach)
    assert np.isnan(scratch["all_layers_from_eval"])
    report = write_report(table, curves)
    assert "target, mix: best IoU" in report and "seeds [0, 1]" in report
    fig = plot_curves(curves)
    assert [ax.get_title() for ax in fig.axes] == ["target"]
    means = [line for line in fig.axes[0].get_lines() if line.get_linewidth() == 2]
    assert [line.get_label() for line in means] == ["scratch", "mix"]
    for line in means:  # the thick line is the mean of the seeds' validation curves
        seeds = runs[line.get_label()]
        n = min(len(r["history"]) for r in seeds)
        np.testing.assert_allclose(line.get_ydata(), np.mean(
            [[h["val_iou"] for h in r["history"][:n]] for r in seeds], axis=0))
