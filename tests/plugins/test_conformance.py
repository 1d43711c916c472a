"""check_plugin: the built-ins pass it, and it fails each kind of broken promise."""

import numpy as np
import pytest

from aixcell_automl import hookimpl
from aixcell_automl.plugins.builtin import (
    augmentations,
    backbones,
    metafeatures,
    metamodels,
    metrics,
    postprocessors,
    strategies,
)
from aixcell_automl.plugins.specs import (
    Augmentation,
    Backbone,
    MetaFeatureExtractor,
    MetaModel,
    Metric,
)
from aixcell_automl.plugins.testing import check_plugin, plugin_manager_with
from tests.project_conf import SPACE


@pytest.mark.parametrize("plugin", [augmentations, metafeatures, metamodels, metrics,
                                    postprocessors, strategies])
def test_builtins_pass_the_conformance_check(plugin):
    check_plugin(plugin)


@pytest.mark.slow
def test_every_builtin_backbone_builds_and_trains_one_step(monkeypatch):
    from aixcell_automl.plugins import testing

    checked = []
    real = testing.check_backbone
    monkeypatch.setattr(testing, "check_backbone", lambda bb: (checked.append(bb.name),
                                                               real(bb)))
    check_plugin(backbones, build_models=True)
    assert checked == ["resnet18", "resnet50"]


def _plugin(hook: str, records: list, space: dict | None = None):
    class P:
        pass

    setattr(P, hook, hookimpl(lambda self: records, specname=hook))
    if space:
        P.extend_search_space = hookimpl(lambda self: space, specname="extend_search_space")
    return P()


class _Constant:
    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.full(len(X), 0.5)


class _Memorising:
    """Returns the training targets in training order, whatever rows it is asked about."""

    def fit(self, X, y):
        self.y = np.asarray(y)
        return self

    def predict(self, X):
        return self.y[:len(X)]


class _Reversed:
    def fit(self, X, y):
        return self

    def predict(self, X):
        return -X[:, 0]


@pytest.mark.parametrize("model, why", [(_Constant, "predictions are constant"),
                                        (_Memorising, "do not follow the rows"),
                                        (_Reversed, "ranking ignores its inputs")])
def test_a_meta_model_whose_ranking_ignores_its_inputs_fails(model, why):
    with pytest.raises(AssertionError, match=why):
        check_plugin(_plugin("register_metamodels", [MetaModel("bad", lambda seed: model())]))


def test_a_metric_that_is_not_a_per_class_score_fails():
    def error_rate(cm):  # 1 - IoU: lower is better, 0 for a perfect prediction
        tp = np.diag(cm).astype(float)
        with np.errstate(invalid="ignore"):
            return 1 - tp / (cm.sum(0) + cm.sum(1) - tp)

    with pytest.raises(AssertionError, match="perfect confusion matrix"):
        check_plugin(_plugin("register_metrics", [Metric("err", error_rate, "error")]))


def test_extractor_features_must_carry_the_declared_prefix():
    def extract(ds):
        return {"tex_a": 1.0, "b": 2.0}

    with pytest.raises(AssertionError, match="without the declared prefix 'tex_'"):
        check_plugin(_plugin("register_metafeature_extractors",
                             [MetaFeatureExtractor("t", extract, "tex_")]))


@pytest.mark.parametrize("prefix, why", [("hc_x_", "overlaps 'hc_'"), ("sim_", "rad_sim"),
                                         ("en_", "clashes with the derived family 'en'"),
                                         ("tex", "identifier followed by '_'")])
def test_extractor_prefixes_may_not_overlap_or_take_derived_names(prefix, why):
    ex = MetaFeatureExtractor("t", lambda ds: {f"{prefix}a": 1.0}, prefix)
    with pytest.raises(AssertionError, match=why):
        check_plugin(_plugin("register_metafeature_extractors", [ex]))


def test_backbone_and_augmentation_hooks_must_agree_by_name():
    bb = Backbone("mini", lambda c, n: None)
    with pytest.raises(AssertionError, match="backbone 'mini' is registered but not in the"):
        check_plugin(_plugin("register_backbones", [bb]))
    with pytest.raises(AssertionError, match="'maxi' .*plugin .* is not registered; registered "
                                             "backbones: .*'mini'"):
        check_plugin(_plugin("register_backbones", [bb], {"backbone": ["maxi"]}))
    aug = Augmentation("flop", augmentations._flip)
    with pytest.raises(AssertionError, match="'flop' is registered but is no search-space"):
        check_plugin(_plugin("register_augmentations", [aug]))
    with pytest.raises(AssertionError, match="dimension 'flap' .* nor a registered augmentation"):
        check_plugin(_plugin("register_augmentations", [aug], {"flop": [0.5], "flap": [0.5]}))
    check_plugin(_plugin("register_augmentations", [aug], {"flop": [0.0, 0.5]}))


def test_the_search_space_names_only_registered_backbones_and_augmentations():
    from aixcell_automl.core.search_space import build_space

    with pytest.raises(ValueError, match=r"backbone 'resnet34' \(from the configured "
                                         r"search_space.*registered backbones: \['resnet18', "
                                         r"'resnet50'\]"):
        build_space({**SPACE, "backbone": ["resnet18", "resnet34"]})
    with pytest.raises(ValueError, match="dimension 'fliip' .* registered augmentations: "
                                         r"\['brightness_blur', 'flip', 'grid_distortion'\]"):
        build_space({**SPACE, "fliip": [0.5]})
    flop = Augmentation("flop", augmentations._flip)
    with plugin_manager_with(_plugin("register_augmentations", [flop], {"flop": [0.0, 0.5]})):
        assert build_space(SPACE)["flop"] == [0.0, 0.5]


def test_a_strategy_that_overspends_or_picks_a_worse_winner_fails():
    from aixcell_automl.plugins.specs import SearchStrategy

    def greedy(ctx):  # trains every candidate for the whole budget
        states = ctx.run_rung([(c, ctx.budget_seconds) for c in ctx.candidates])
        return {"rungs": [{"rung": 0, "trials": [{"config_id": c["config_id"]}
                                                 for c in ctx.candidates]}],
                "winner": ctx.candidates[0]["config_id"], "states": states}

    def first(ctx):  # within budget, but names the first candidate whatever the scores
        ctx.run_rung([(c, 1.0) for c in ctx.candidates])
        return {"rungs": [{"rung": 0, "trials": [{"config_id": c["config_id"]}
                                                 for c in ctx.candidates]}],
                "winner": ctx.candidates[0]["config_id"]}

    class Bad:
        def __init__(self, run):
            self.run = run

        @hookimpl
        def register_search_strategies(self):
            return [SearchStrategy("bad", self.run)]

    with pytest.raises(AssertionError, match="trained 240.0 s of a 60 s budget"):
        check_plugin(Bad(greedy))
    with pytest.raises(AssertionError, match="the best configuration it trained"):
        check_plugin(Bad(first))
