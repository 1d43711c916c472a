from importlib import metadata

import pytest

from aixcell_automl import hookimpl
from aixcell_automl.plugins import manager, registry
from aixcell_automl.plugins.builtin import backbones
from aixcell_automl.plugins.specs import MetaModel
from aixcell_automl.plugins.testing import check_plugin, plugin_manager_with


def test_builtins_register_through_the_hooks():
    assert set(registry.backbones()) == {"resnet18", "resnet50"}
    assert set(registry.augmentations()) == {"flip", "brightness_blur", "grid_distortion"}
    assert set(registry.metafeature_extractors()) == {"handcrafted", "user_given", "radiomics"}
    assert {"random_forest", "lambdamart", "lightgbm_lambdarank"} <= set(registry.metamodels())
    assert list(registry.metrics()) == ["iou", "dice"]
    rows = {r["name"]: r for r in manager.list_plugins()}
    assert set(manager.DEFAULT_PLUGINS) <= set(rows)
    metrics = rows["aixcell_automl.plugins.builtin.metrics"]
    assert metrics["provides"] == {"metrics": ["iou", "dice"]}


def test_one_table_of_kinds_serves_hooks_manager_and_cli(capsys):
    from aixcell_automl.__main__ import main
    from aixcell_automl.plugins import hookspecs
    from aixcell_automl.plugins.kinds import KINDS

    hooks = {n for n in dir(hookspecs) if n.startswith(("register_", "extend_"))}
    assert hooks == {k.hook for k in KINDS} | {"extend_search_space"}
    assert tuple(k.builtin for k in KINDS) == manager.DEFAULT_PLUGINS
    assert main(["plugins"]) == 0
    listed = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines()
                  if ": " in line and not line.startswith(" "))
    for kind in KINDS:
        assert listed[kind.title] == ", ".join(sorted(registry.specs(kind.name)))


def test_manager_does_not_import_the_registry():
    """The former import circle manager <-> registry: only registry imports manager."""
    import subprocess
    import sys

    code = ("import sys; from aixcell_automl.plugins import manager; manager.get_plugin_manager();"
            " print('aixcell_automl.plugins.registry' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_registry_follows_the_current_manager():
    class Extra:
        @hookimpl
        def register_metamodels(self):
            return [MetaModel("extra_model", lambda seed: None)]

    assert "extra_model" not in registry.metamodels()
    with plugin_manager_with(Extra()):
        assert "extra_model" in registry.metamodels()
    assert "extra_model" not in registry.metamodels()


def test_duplicate_names_are_refused_with_both_plugins_named():
    class Clash:
        @hookimpl
        def register_backbones(self):
            return backbones.register_backbones()[:1]

    with plugin_manager_with(Clash()) as pm, pytest.raises(registry.PluginError) as err:
        clash = next(n for n, _ in pm.list_name_plugin() if not n.startswith("aixcell_automl"))
        registry.backbones()
    assert str(err.value) == (f"register_backbones: name 'resnet18' from plugin {clash!r} is "
                              "already registered by 'aixcell_automl.plugins.builtin.backbones'")


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

        @hookimpl
        def extend_search_space(self):
            return {"shifty": [0.0, 0.5]}

    with pytest.raises(AssertionError, match="image shape changed"):
        check_plugin(Shifty())
