"""Kedro pipelines: wiring only; the logic lives in the core modules."""
