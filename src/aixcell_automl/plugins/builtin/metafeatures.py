"""Built-in meta-feature extractors (docs/method.md §4): handcrafted, user-given, radiomics."""

from __future__ import annotations

from aixcell_automl.plugins import hookimpl
from aixcell_automl.plugins.specs import MetaFeatureExtractor


def _handcrafted(dataset):
    from aixcell_automl.metafeatures.handcrafted import handcrafted_features

    return handcrafted_features(dataset)


def _user_given(dataset):
    from aixcell_automl.metafeatures.user_given import user_given_features

    return user_given_features(dataset.metadata)


def _radiomics(dataset, sample_size: int | None, seed: int):
    from aixcell_automl.metafeatures.radiomics import radiomics_features

    return radiomics_features(dataset, sample_size=sample_size, seed=seed)


@hookimpl
def register_metafeature_extractors():
    from aixcell_automl.metafeatures.radiomics import PREFIX, version

    return [
        MetaFeatureExtractor("handcrafted", _handcrafted, "hc_", version="1"),
        MetaFeatureExtractor("user_given", _user_given, "ug_", version="1"),
        MetaFeatureExtractor("radiomics", _radiomics, PREFIX, version=version(),
                             params={"sample_size": 20, "seed": 0}),
    ]
