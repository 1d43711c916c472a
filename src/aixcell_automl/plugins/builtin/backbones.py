"""Built-in U-Net encoders: ResNet-18 and ResNet-50 from segmentation-models."""

from __future__ import annotations

from aixcell_automl.plugins import hookimpl
from aixcell_automl.plugins.specs import Backbone


def sm_unet_builder(encoder: str):
    """A ``build`` function for a segmentation-models U-Net with the given encoder."""

    def build(input_channels: int, num_classes: int):
        from aixcell_automl._env import tensorflow

        _, _, sm = tensorflow()
        return sm.Unet(
            encoder,
            input_shape=(None, None, input_channels),
            classes=num_classes,
            activation="softmax",
            encoder_weights=None,  # never download (local weights: training/transfer.py)
        )

    return build


@hookimpl
def register_backbones():
    return [
        Backbone("resnet18", sm_unet_builder("resnet18"), size_factor=0.5),
        Backbone("resnet50", sm_unet_builder("resnet50"), size_factor=2.0),
    ]
