"""``kedro run --pipeline=evaluate``: automl vs rule-based default vs random top-k halving vs
Optuna at equal budget, several seeds, on any dataset folders (see docs/results/evaluation.md)."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.pipelines.evaluate.nodes import compare_methods, plot_comparison, summarise


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(compare_methods, ["shared_datasets", "evaluation_log", "evaluation_run_folders",
                               "meta_feature_cache", "params:evaluate", "params:dataset",
                               "params:search",
                               "params:train", "params:search_space", "params:meta_features",
                               "metabase", "meta_features"], "evaluation_runs",
             name="compare_methods"),
        node(summarise, "evaluation_runs", ["evaluation_table", "evaluation_report"],
             name="summarise_evaluation"),
        node(plot_comparison, "evaluation_runs", "evaluation_plot", name="plot_evaluation"),
    ])
