"""Name -> spec lookups over everything the plugins registered."""

from __future__ import annotations

import functools

from aixcell_automl.plugins.specs import (
    Augmentation,
    Backbone,
    MetaFeatureExtractor,
    MetaModel,
    PostProcessor,
)


class PluginError(RuntimeError):
    """A plugin registered something invalid (e.g. a name another plugin already uses)."""


def _collect(hook_name: str) -> dict:
    from aixcell_automl.plugins.manager import get_plugin_manager

    pm = get_plugin_manager()
    hook = getattr(pm.hook, hook_name)
    out: dict = {}
    owner: dict[str, str] = {}
    for impl in reversed(hook.get_hookimpls()):  # registration order
        for spec in impl.function() or []:
            if spec.name in out:
                raise PluginError(
                    f"{hook_name}: name {spec.name!r} from plugin {impl.plugin_name!r} is "
                    f"already registered by {owner[spec.name]!r}"
                )
            out[spec.name] = spec
            owner[spec.name] = impl.plugin_name
    return out


@functools.cache
def backbones() -> dict[str, Backbone]:
    return _collect("register_backbones")


@functools.cache
def augmentations() -> dict[str, Augmentation]:
    return _collect("register_augmentations")


@functools.cache
def metafeature_extractors() -> dict[str, MetaFeatureExtractor]:
    return _collect("register_metafeature_extractors")


@functools.cache
def metamodels() -> dict[str, MetaModel]:
    return _collect("register_metamodels")


@functools.cache
def postprocessors() -> dict[str, PostProcessor]:
    return _collect("register_postprocessors")


def search_space_extensions() -> list[dict[str, list]]:
    from aixcell_automl.plugins.manager import get_plugin_manager

    hook = get_plugin_manager().hook.extend_search_space
    return [r for r in reversed(hook()) if r]


def get(kind: str, name: str):
    """Look a spec up by registry kind and name, with an error listing what exists."""
    table = {"backbone": backbones, "augmentation": augmentations,
             "metafeature_extractor": metafeature_extractors, "metamodel": metamodels,
             "postprocessor": postprocessors}[kind]()
    if name not in table:
        raise KeyError(f"no {kind} named {name!r}; registered: {sorted(table)}")
    return table[name]


def clear_cache() -> None:
    for f in (backbones, augmentations, metafeature_extractors, metamodels, postprocessors):
        f.cache_clear()
