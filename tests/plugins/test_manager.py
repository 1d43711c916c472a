from importlib import metadata

import pytest

from aixcell_automl import hookimpl
from aixcell_automl.plugins import manager, registry
from aixcell_automl.plugins.builtin import augmentations, backbones, metamodels, postprocessors
from aixcell_automl.plugins.specs import MetaModel
from aixcell_automl.plugins.testing import check_plugin, plugin_manager_with


def test_builtins_register_through_the_hooks():
    assert set(registry.backbones()) == {"resnet18", "resnet50"}
    assert set(registry.augmentations()) == {"flip", "brightness_blur", "grid_distortion"}
    assert set(registry.metafeature_extractors()) == {"handcrafted", "user_given", "radiomics"}
    assert {"random_forest", "lambdamart", "lightgbm_lambdarank"} <= set(registry.metamodels())
    names = {r["name"] for r in manager.list_plugins()}
    assert set(manager.DEFAULT_PLUGINS) <= names


@pytest.mark.parametrize("plugin", [augmentations, metamodels, postprocessors])
def test_builtins_pass_the_conformance_check(plugin):
    check_plugin(plugin)


def test_duplicate_names_are_refused_with_both_plugins_named():
    class Clash:
        @hookimpl
        def register_backbones(self):
            return backbones.register_backbones()[:1]

    with plugin_manager_with(Clash()), pytest.raises(registry.PluginError, match="resnet18"):
        registry.backbones()


def test_a_broken_entry_point_plugin_is_reported_and_skipped(monkeypatch):
    class BrokenEP:
        name, value, dist = "broken", "nowhere:thing", None

        def load(self):
            raise ImportError("No module named 'nowhere'")

    class GoodEP:
        name, value, dist = "good", "x:y", None

        def load(self):
            class Good:
                @hookimpl
                def register_metamodels(self):
                    return [MetaModel("good_model", lambda seed: None)]
            return Good()

    monkeypatch.setattr(metadata, "entry_points", lambda group: [BrokenEP(), GoodEP()])
    with plugin_manager_with() as pm:
        manager.load_entrypoint_plugins(pm)
        registry.clear_cache()
        assert "good_model" in registry.metamodels()
        assert "resnet18" in registry.backbones()
        assert "broken" in manager.FAILED and "nowhere" in manager.FAILED["broken"]
    manager.FAILED.clear()


def test_check_plugin_catches_a_bad_augmentation():
    from aixcell_automl.plugins.specs import Augmentation

    class Shifty:
        @hookimpl
        def register_augmentations(self):
            def make(p):
                return lambda image, mask: {"image": image[1:], "mask": mask}
            return [Augmentation("shifty", make)]

    with pytest.raises(AssertionError, match="image shape changed"):
        check_plugin(Shifty())
