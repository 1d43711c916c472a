"""``kedro run --pipeline=meta_features``: the meta-feature table of the meta-base datasets."""

from kedro.pipeline import Pipeline, node

from aixcell_automl.pipelines.meta_features.nodes import (
    add_radiomics_space,
    extract_meta_features,
    plot_image_embedding,
    plot_similarity_heatmap,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(extract_meta_features, ["shared_datasets", "meta_feature_cache",
                                     "params:meta_features"],
             ["meta_features_raw", "image_radiomics"], name="extract_meta_features"),
        node(add_radiomics_space, ["meta_features_raw", "params:meta_features"],
             "meta_features", name="add_radiomics_space"),
        node(plot_image_embedding, "image_radiomics", "meta_features_embedding_plot",
             name="plot_image_embedding"),
        node(plot_similarity_heatmap, "meta_features", "meta_features_similarity_plot",
             name="plot_similarity_heatmap"),
    ])
