"""The one table of plugin kinds: what a plugin can register, through which hook, as which record.

The plugin manager loads each kind's built-in module, :mod:`.registry` collects each kind by its
hook, :func:`.testing.check_plugin` checks records against the spec class, and the CLI
(``python -m aixcell_automl plugins``) lists what is registered per kind. Adding a kind means one
row here, one hook in :mod:`.hookspecs`, one record class in :mod:`.specs` and one built-in module.
"""

from __future__ import annotations

from dataclasses import dataclass

from aixcell_automl.plugins import specs


@dataclass(frozen=True)
class Kind:
    """One kind of plugin record; ``registry.specs(name)`` is its registry accessor."""

    name: str  # registry key, e.g. ``registry.get("backbone", "resnet18")``
    title: str  # plural, for listings
    hook: str
    spec: type
    builtin: str  # module of the built-ins, registered through the same hook


KINDS: tuple[Kind, ...] = (
    Kind("backbone", "backbones", "register_backbones", specs.Backbone,
         "aixcell_automl.plugins.builtin.backbones"),
    Kind("augmentation", "augmentations", "register_augmentations", specs.Augmentation,
         "aixcell_automl.plugins.builtin.augmentations"),
    Kind("metafeature_extractor", "meta-feature extractors", "register_metafeature_extractors",
         specs.MetaFeatureExtractor, "aixcell_automl.plugins.builtin.metafeatures"),
    Kind("metamodel", "meta-models", "register_metamodels", specs.MetaModel,
         "aixcell_automl.plugins.builtin.metamodels"),
    Kind("postprocessor", "post-processors", "register_postprocessors", specs.PostProcessor,
         "aixcell_automl.plugins.builtin.postprocessors"),
    Kind("metric", "metrics", "register_metrics", specs.Metric,
         "aixcell_automl.plugins.builtin.metrics"),
    Kind("strategy", "search strategies", "register_search_strategies", specs.SearchStrategy,
         "aixcell_automl.plugins.builtin.strategies"),
)
BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
BY_HOOK: dict[str, Kind] = {k.hook: k for k in KINDS}
