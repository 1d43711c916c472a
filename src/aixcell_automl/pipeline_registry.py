"""Project pipelines."""

from collections import Counter

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Pipelines that write the same artifact (``train`` and ``search`` both install a model,
# ``installed_model``) or reuse a node name (``plan_dataset``, ``export_model``) enter the whole
# project's graph in a namespace of their own name; everything they share with the other
# pipelines keeps its catalog name, only the artifact two of them write gets the namespace
# (``train.installed_model``, ``search.installed_model``: the same folder, catalog.yml).
NAMESPACED = ("train", "search", "export")


def namespaced(name: str, pipe: Pipeline, shared_outputs: set[str]) -> Pipeline:
    """``pipe`` in namespace ``name``: its nodes are ``<name>.<node>``; its free inputs, its
    parameters and every output not in ``shared_outputs`` keep their names."""
    outputs = {o for n in pipe.nodes for o in n.outputs} - shared_outputs
    inputs = {i for i in pipe.inputs() if not i.startswith("params:") and i != "parameters"}
    params = {i.removeprefix("params:") for i in pipe.inputs() if i.startswith("params:")}
    return Pipeline(pipe, namespace=name, inputs=inputs, outputs=outputs, parameters=params)


def whole_project(pipelines: dict[str, Pipeline]) -> Pipeline:
    """The sum of every pipeline: one graph of what each reads and writes (``kedro viz``)."""
    writers = Counter(o for p in pipelines.values() for o in {o for n in p.nodes
                                                              for o in n.outputs})
    shared = {o for o, c in writers.items() if c > 1}
    total = Pipeline([])
    for name, pipe in sorted(pipelines.items()):
        total += namespaced(name, pipe, shared) if name in NAMESPACED else pipe
    return total


def register_pipelines() -> dict[str, Pipeline]:
    """Every folder under ``pipelines/``; ``__default__`` is their sum (see
    :func:`whole_project`): ``kedro run`` alone runs every pipeline, so run one by name
    (``kedro run --pipeline=search``)."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = whole_project(pipelines)
    return pipelines
