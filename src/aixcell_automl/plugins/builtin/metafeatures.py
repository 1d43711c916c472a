"""Built-in meta-feature extractors (SPEC §4): handcrafted, user-given, radiomics."""

from __future__ import annotations

from aixcell_automl.plugins import hookimpl
from aixcell_automl.plugins.specs import MetaFeatureExtractor


def _handcrafted(dataset, **params):
    from aixcell_automl.metafeatures.handcrafted import handcrafted_features

    return handcrafted_features(dataset)


def _user_given(dataset, **params):
    from aixcell_automl.metafeatures.user_given import user_given_features

    return user_given_features(dataset.metadata)


def _radiomics(dataset, **params):
    from aixcell_automl.metafeatures.radiomics import radiomics_features

    return radiomics_features(dataset, sample_size=params.get("sample_size", 20),
                              seed=params.get("seed", 0))


@hookimpl
def register_metafeature_extractors():
    from aixcell_automl.metafeatures.radiomics import version

    return [
        MetaFeatureExtractor("handcrafted", _handcrafted, version="1"),
        MetaFeatureExtractor("user_given", _user_given, version="1"),
        MetaFeatureExtractor("radiomics", _radiomics, version=version()),
    ]
