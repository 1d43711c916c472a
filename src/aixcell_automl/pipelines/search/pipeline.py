"""``kedro run --pipeline=search``: dataset -> meta-features -> ranking -> halving -> report."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.core.dataset import make_split
from aixcell_automl.metalearning.ranking import rank_for_target
from aixcell_automl.pipelines.export.nodes import export_search_winner
from aixcell_automl.pipelines.search.nodes import (
    finalize,
    learn_from_use,
    make_plan,
    measure_dataset,
    report,
    run_strategy,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(make_split, ["raw_dataset", "params:dataset"], "search_split", name="search_split"),
        node(measure_dataset, ["raw_dataset", "meta_feature_cache", "params:meta_features"],
             "target_meta_features", name="measure_dataset"),
        node(make_plan, ["raw_dataset", "search_split"], "search_plan", name="plan_dataset"),
        node(rank_for_target, ["target_meta_features", "metabase", "meta_features",
                    "params:search_space", "params:search"], ["ranking", "ranking_info"],
             name="rank_configurations"),
        node(run_strategy, ["raw_dataset", "search_split", "ranking", "ranking_info",
                            "search_plan", "metabase", "meta_features", "target_meta_features",
                            "search_run_folder", "params:search", "params:train",
                            "params:search_space"], "halving_trace",
             name="run_strategy"),
        node(finalize, ["raw_dataset", "search_split", "ranking", "halving_trace", "search_plan",
                       "metabase"],
             ["installed_model", "search_metrics"], name="evaluate_winner"),
        node(report, ["raw_dataset", "search_split", "target_meta_features", "ranking",
                      "ranking_info", "halving_trace", "installed_model", "search_metrics",
                      "params:search"],
             ["search_report", "halving_plot", "test_overlays_plot"], name="write_report"),
        node(learn_from_use, ["raw_dataset", "halving_trace", "params:search"],
             "metabase_from_search", name="learn_from_use"),
        node(export_search_winner, ["installed_model", "raw_dataset", "search_split",
                                    "search_metrics", "ranking_info", "halving_trace",
                                    "bioimageio_packages", "params:search", "params:export"],
             ["search_model_package", "installed_onnx_model"], name="export_model"),
    ])
