import importlib.util
import sys
from pathlib import Path

import pytest

from aixcell_automl.plugins.testing import TEST_SPACE, check_plugin, plugin_manager_with


def _plugin():
    try:
        import aixcell_efficientnet
    except ImportError:  # not installed: load it from its source folder
        src = Path(__file__).parents[1] / "src" / "aixcell_efficientnet" / "__init__.py"
        spec = importlib.util.spec_from_file_location("aixcell_efficientnet", src)
        aixcell_efficientnet = importlib.util.module_from_spec(spec)
        sys.modules["aixcell_efficientnet"] = aixcell_efficientnet
        spec.loader.exec_module(aixcell_efficientnet)
    return aixcell_efficientnet


def test_conforms():
    check_plugin(_plugin())


def test_adds_a_backbone_to_the_space():
    from aixcell_automl.core.search_space import build_space, enumerate_configs

    with plugin_manager_with(_plugin()):
        space = build_space(TEST_SPACE)
        assert space["backbone"] == ["resnet18", "resnet50", "efficientnetb0"]
        assert len(enumerate_configs(space)) == 288
    assert len(enumerate_configs(build_space(TEST_SPACE))) == 192


@pytest.mark.slow
def test_backbone_builds_a_softmax_unet():
    import numpy as np

    with plugin_manager_with(_plugin()):
        from aixcell_automl.training.model import build_model

        model = build_model("efficientnetb0", 2, 3)
        out = model(np.zeros((1, 64, 64, 2), np.float32))
        assert out.shape == (1, 64, 64, 3)
        np.testing.assert_allclose(np.asarray(out).sum(-1), 1.0, rtol=1e-4)
