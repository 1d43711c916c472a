"""The search against baselines at an equal budget on dataset folders."""

from aixcell_automl.pipelines.evaluate.pipeline import create_pipeline

__all__ = ["create_pipeline"]
