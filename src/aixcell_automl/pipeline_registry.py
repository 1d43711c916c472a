"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Every folder under ``pipelines/``; the default is ``search``, the main job."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = pipelines.get("search", sum(pipelines.values(), Pipeline([])))
    return pipelines
