"""Meta-learning study: meta-models x representations x targets in leave-one-dataset-out CV."""

from aixcell_automl.pipelines.meta_learning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
