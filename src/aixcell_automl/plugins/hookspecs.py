"""Every extension point of aixcell-automl, in one file.

A plugin is a module (or object) with functions named like the specs below, decorated with
``aixcell_automl.hookimpl``. Built-ins register through these same hooks. Third-party plugins are
found through the entry-point group ``aixcell_automl``. See ``docs/plugins.md``.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("aixcell_automl")


@hookspec
def register_backbones():
    """Return a list of :class:`aixcell_automl.plugins.specs.Backbone`."""


@hookspec
def register_augmentations():
    """Return a list of :class:`aixcell_automl.plugins.specs.Augmentation`.

    Each augmentation becomes a search-space dimension of the same name whose values are the
    probabilities it is applied with (declare them with :func:`extend_search_space`).
    """


@hookspec
def register_metafeature_extractors():
    """Return a list of :class:`aixcell_automl.plugins.specs.MetaFeatureExtractor`."""


@hookspec
def register_metamodels():
    """Return a list of :class:`aixcell_automl.plugins.specs.MetaModel`."""


@hookspec
def register_postprocessors():
    """Return a list of :class:`aixcell_automl.plugins.specs.PostProcessor` (run after predict)."""


@hookspec
def extend_search_space():
    """Return ``{dimension: [values, ...]}`` to add values to a dimension, or a new dimension.

    Values are appended to those configured in ``conf/base/parameters.yml`` (duplicates dropped).
    """


@hookspec
def register_metrics():
    """Return a list of :class:`aixcell_automl.plugins.specs.Metric` (validation and test scores;
    ``search.metric`` chooses one)."""


@hookspec
def register_search_strategies():
    """Return a list of :class:`aixcell_automl.plugins.specs.SearchStrategy` (``search.strategy``
    chooses one; ``evaluate`` compares them)."""
