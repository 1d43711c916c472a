"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Every folder under ``pipelines/``; the default is ``search``, the main job.

    (``train`` and ``search`` both write ``installed_model``, so the pipelines are not summed.)
    """
    pipelines = find_pipelines(raise_errors=True)
    if "search" in pipelines:  # Kedro may load only the pipeline being run
        pipelines["__default__"] = pipelines["search"]
    return pipelines
