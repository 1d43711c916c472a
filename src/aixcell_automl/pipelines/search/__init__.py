"""The main job: meta-learned ranking + successive halving on a dataset."""

from aixcell_automl.pipelines.search.pipeline import create_pipeline

__all__ = ["create_pipeline"]
