"""An EfficientNet-B0 encoder (segmentation-models) for aixcell-automl.

Installing this plugin adds ``efficientnetb0`` to the ``backbone`` dimension: 576 -> 864
configurations. (It is not installed by default, so the meta-base stays on the thesis's space.)
"""

from aixcell_automl import hookimpl
from aixcell_automl.plugins.builtin.backbones import sm_unet_builder
from aixcell_automl.plugins.specs import Backbone


@hookimpl
def register_backbones():
    return [Backbone("efficientnetb0", sm_unet_builder("efficientnetb0"), size_factor=0.4)]


@hookimpl
def extend_search_space():
    return {"backbone": ["efficientnetb0"]}
