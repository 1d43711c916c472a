"""Meta-features of the meta-base datasets (docs/method.md §4)."""

from aixcell_automl.pipelines.meta_features.pipeline import create_pipeline

__all__ = ["create_pipeline"]
