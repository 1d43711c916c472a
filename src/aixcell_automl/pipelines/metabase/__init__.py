"""Collect the meta-base and summarise it."""

from aixcell_automl.pipelines.metabase.pipeline import create_pipeline

__all__ = ["create_pipeline"]
