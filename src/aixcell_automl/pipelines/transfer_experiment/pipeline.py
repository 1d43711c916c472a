"""``kedro run --pipeline=transfer_experiment``: learning curves of one configuration trained
from scratch and from each pre-trained start on target datasets (run ``pretrain`` first)."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.pipelines.transfer_experiment.nodes import (
    plot_curves,
    run_experiment,
    summarise,
    write_report,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(run_experiment, ["shared_datasets", "pretrained_models", "transfer_runs",
                              "params:transfer"], "transfer_curves",
             name="run_transfer_experiment"),
        node(summarise, "transfer_curves", "transfer_table", name="summarise_transfer"),
        node(plot_curves, "transfer_curves", "transfer_curves_plot", name="plot_transfer_curves"),
        node(write_report, ["transfer_table", "transfer_curves"], "transfer_report",
             name="write_transfer_report"),
    ])
