"""Pre-train a domain model on a union of dataset folders."""

from aixcell_automl.pipelines.pretrain.pipeline import create_pipeline

__all__ = ["create_pipeline"]
