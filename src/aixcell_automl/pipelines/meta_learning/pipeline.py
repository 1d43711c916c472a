"""``kedro run --pipeline=meta_learning``: the study, its tables and plots, the chosen model."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.pipelines.meta_learning.nodes import (
    choose_and_fit,
    importance_plot,
    run_study,
    scatter_plot,
    summarise,
    z_plot,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(run_study, ["metabase", "meta_features", "params:search_space",
                         "params:meta_learning"], "meta_learning_results", name="run_study"),
        node(summarise, "meta_learning_results",
             ["meta_learning_summary", "meta_learning_top5", "meta_learning_markdown"],
             name="summarise_study"),
        node(choose_and_fit, ["meta_learning_summary", "metabase", "meta_features",
                              "params:search_space", "params:meta_learning"],
             ["meta_model", "meta_model_choice"], name="choose_meta_model"),
        node(z_plot, "meta_learning_summary", "meta_learning_z_plot", name="plot_z_scores"),
        node(importance_plot, ["meta_model", "metabase", "meta_features",
                               "params:meta_learning"], "meta_learning_importance_plot",
             name="plot_feature_importance"),
        node(scatter_plot, ["meta_model_choice", "metabase", "meta_features",
                            "params:search_space", "params:meta_learning"],
             "meta_learning_scatter_plot", name="plot_predicted_vs_true"),
    ])
