"""Train one configuration on a dataset."""

from aixcell_automl.pipelines.train.pipeline import create_pipeline

__all__ = ["create_pipeline"]
