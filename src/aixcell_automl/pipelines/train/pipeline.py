"""``kedro run --pipeline=train``: one configuration, trained within a budget (resumable)."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.core.dataset import make_split
from aixcell_automl.pipelines.train.nodes import train_model, train_plan
from aixcell_automl.report.figures import plot_learning_curve
from aixcell_automl.training.predict import evaluate_on_test


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(make_split, ["raw_dataset", "params:dataset"], "split", name="split_dataset"),
        node(train_plan, ["raw_dataset", "split", "params:train"], "train_plan",
             name="plan_dataset"),
        node(train_model, ["raw_dataset", "split", "train_plan", "train_runs", "params:train",
                           "params:search_space"], ["installed_model", "train_state"],
             name="train_model"),
        node(evaluate_on_test, ["installed_model", "raw_dataset", "split"], "train_metrics",
             name="evaluate_on_test"),
        node(plot_learning_curve, "train_state", "learning_curve_plot",
             name="plot_learning_curve"),
    ])
