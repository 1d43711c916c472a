"""``kedro run --pipeline=export``: the current model as a bioimage.io model package (checked
offline with bioimageio.spec and bioimageio.core) and ``model.onnx`` beside its weights."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.core.dataset import make_split
from aixcell_automl.pipelines.export.nodes import export_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(make_split, ["raw_dataset", "params:dataset"], "export_split", name="export_split"),
        node(export_model, ["trained_model", "raw_dataset", "export_split", "search_reports",
                            "bioimageio_packages", "params:export"],
             ["model_package", "onnx_model"], name="export_model"),
    ])
