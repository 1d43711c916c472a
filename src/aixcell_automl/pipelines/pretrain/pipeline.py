"""``kedro run --pipeline=pretrain --params pretrain.name=<set>``: a model the search and the
transfer experiment can start from (``init_weights``)."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.pipelines.pretrain.nodes import pretrain_model
from aixcell_automl.report.figures import plot_learning_curve


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(pretrain_model, ["shared_datasets", "pretrain_runs", "params:pretrain"],
             ["pretrained_model", "pretrain_state"],
             name="pretrain_model"),
        node(plot_learning_curve, "pretrain_state", "pretrain_curve_plot",
             name="plot_pretrain_curve"),
    ])
