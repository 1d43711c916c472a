"""The current model as a bioimage.io model package, and its ONNX weights for predict."""

from aixcell_automl.pipelines.export.pipeline import create_pipeline

__all__ = ["create_pipeline"]
