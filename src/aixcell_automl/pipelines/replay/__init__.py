"""Search methods replayed on the meta-base's recorded curves."""

from aixcell_automl.pipelines.replay.pipeline import create_pipeline

__all__ = ["create_pipeline"]
