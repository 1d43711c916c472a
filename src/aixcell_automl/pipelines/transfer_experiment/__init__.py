"""From scratch vs pre-trained starts on target datasets (docs/method.md §8)."""

from aixcell_automl.pipelines.transfer_experiment.pipeline import create_pipeline

__all__ = ["create_pipeline"]
