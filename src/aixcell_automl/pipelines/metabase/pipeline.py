"""``kedro run --pipeline=metabase``: resumable collection, then summary tables and a figure."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.pipelines.metabase.nodes import collect_rows, iou_distribution_figure, summarise


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(collect_rows, ["shared_datasets", "metabase_log", "metabase_checkpoints",
                            "params:metabase", "params:search_space"],
             ["metabase_collection", "metabase"], name="collect_metabase"),
        node(summarise, "metabase",
             ["metabase_clean", "metabase_summary", "metabase_stats"], name="summarise_metabase"),
        node(iou_distribution_figure, "metabase", "metabase_iou_plot",
             name="plot_metabase"),
    ])
