"""``kedro run --pipeline=predict``: masks, overlays and an object table for a folder of images;
unreadable files are skipped and listed in ``skipped.csv``."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.pipelines.predict.nodes import (
    check_skipped,
    postprocess,
    predict_images,
    summarise_prediction,
)
from aixcell_automl.training.engines import select_engine


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(select_engine, ["trained_model", "onnx_model", "params:predict"], "predict_model",
             name="select_engine"),
        node(predict_images, ["predict_model", "predict_input"],
             ["predicted_masks", "prediction_overlays", "prediction_skipped"],
             name="predict_images"),
        node(postprocess, ["trained_model", "predict_input", "predicted_masks",
                           "prediction_skipped", "params:predict"], "prediction_table",
             name="postprocess"),
        node(summarise_prediction, ["predict_input", "prediction_skipped", "prediction_table"],
             "prediction_summary", name="summarise_prediction"),
        node(check_skipped, ["prediction_summary", "params:predict"], None,
             name="check_skipped"),
    ])
