"""``kedro run --pipeline=replay``: search methods replayed on recorded curves."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.pipelines.replay.nodes import (
    forecast_report,
    replay_table,
    run_replay,
    suggest_search_defaults,
    summarise_replay,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(replay_table, ["metabase", "meta_features", "params:replay", "params:search",
                            "params:search_space"], "replay_curves",
             name="replay_table"),
        node(run_replay, ["replay_curves", "params:replay"], "replay_results", name="run_replay"),
        node(forecast_report, ["replay_curves", "params:replay"], "replay_forecast_accuracy",
             name="forecast_accuracy"),
        node(summarise_replay, "replay_results", ["replay_summary", "replay_markdown"],
             name="summarise_replay"),
        node(suggest_search_defaults, ["replay_summary", "replay_results", "params:replay"],
             "replay_search_defaults", name="suggest_search_defaults"),
    ])
