"""Apply a trained model to a folder of images."""

from aixcell_automl.pipelines.predict.pipeline import create_pipeline

__all__ = ["create_pipeline"]
