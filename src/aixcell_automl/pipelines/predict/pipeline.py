"""``kedro run --pipeline=predict``: masks, overlays and an object table for a folder of images."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.pipelines.predict.nodes import postprocess, predict_images


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(predict_images, ["trained_model", "predict_input"],
             ["predicted_masks", "prediction_overlays"], name="predict_images"),
        node(postprocess, ["trained_model", "predict_input", "predicted_masks",
                           "params:predict"], "prediction_table", name="postprocess"),
    ])
