"""Name -> spec lookups over everything the plugins registered (one table per kind in
:mod:`.kinds`), cached per plugin manager."""

from __future__ import annotations

from aixcell_automl.core.errors import UserError
from aixcell_automl.plugins.kinds import BY_NAME
from aixcell_automl.plugins.manager import get_plugin_manager
from aixcell_automl.plugins.specs import (
    Augmentation,
    Backbone,
    MetaFeatureExtractor,
    MetaModel,
    Metric,
    PostProcessor,
    SearchStrategy,
)


class PluginError(RuntimeError):
    """A plugin registered something invalid (e.g. a name another plugin already uses)."""


class UnknownName(UserError, KeyError):
    """A name (metric, backbone, strategy, ...) or kind no plugin registered: an input the user
    can fix; still a ``KeyError`` for callers that catch one."""

    __str__ = BaseException.__str__  # the message as written, not KeyError's repr of it


_cache: dict[str, dict] = {}
_cached_for = None  # the plugin manager the cache describes


def _collect(hook_name: str) -> dict:
    pm = get_plugin_manager()
    hook = getattr(pm.hook, hook_name)
    out: dict = {}
    owner: dict[str, str] = {}
    for impl in hook.get_hookimpls():  # registration order (built-ins first)
        for spec in impl.function() or []:
            if spec.name in out:
                raise PluginError(
                    f"{hook_name}: name {spec.name!r} from plugin {impl.plugin_name!r} is "
                    f"already registered by {owner[spec.name]!r}"
                )
            out[spec.name] = spec
            owner[spec.name] = impl.plugin_name
    return out


def specs(kind: str) -> dict:
    """Every registered record of ``kind`` (a name in :data:`.kinds.KINDS`), by name, in
    registration order (built-ins first)."""
    if kind not in BY_NAME:
        raise UnknownName(f"no plugin kind {kind!r}; kinds: {sorted(BY_NAME)}")
    global _cached_for
    pm = get_plugin_manager()
    if _cached_for is not pm:
        clear_cache()
        _cached_for = pm
    if kind not in _cache:
        found = _collect(BY_NAME[kind].hook)
        if kind == "metafeature_extractor":
            _check_prefixes(found)
        _cache[kind] = found
    return _cache[kind]


def _check_prefixes(extractors: dict[str, MetaFeatureExtractor]) -> None:
    """Prefixes are ``<identifier>_`` and no prefix starts another (features never mix)."""
    for name, spec in extractors.items():
        if not (spec.prefix.endswith("_") and spec.family.isidentifier()):
            raise PluginError(f"meta-feature extractor {name!r}: prefix {spec.prefix!r} must be "
                              f"an identifier followed by '_' (e.g. 'tex_')")
        for other, o in extractors.items():
            if other != name and spec.prefix.startswith(o.prefix):
                raise PluginError(f"meta-feature extractor {name!r}: prefix {spec.prefix!r} "
                                  f"overlaps {o.prefix!r} of {other!r}")


def backbones() -> dict[str, Backbone]:
    return specs("backbone")


def augmentations() -> dict[str, Augmentation]:
    return specs("augmentation")


def metafeature_extractors() -> dict[str, MetaFeatureExtractor]:
    return specs("metafeature_extractor")


def metamodels() -> dict[str, MetaModel]:
    return specs("metamodel")


def postprocessors() -> dict[str, PostProcessor]:
    return specs("postprocessor")


def metrics() -> dict[str, Metric]:
    return specs("metric")


def strategies() -> dict[str, SearchStrategy]:
    return specs("strategy")


def search_space_extensions() -> list[tuple[str, dict[str, list]]]:
    """``(plugin name, {dimension: values})`` of every ``extend_search_space``, in registration
    order."""
    hook = get_plugin_manager().hook.extend_search_space
    out = []
    for impl in hook.get_hookimpls():
        ext = impl.function()
        if ext:
            out.append((impl.plugin_name, ext))
    return out


def get(kind: str, name: str):
    """Look a spec up by registry kind and name, with an error listing what exists."""
    table = specs(kind)
    if name not in table:
        raise UnknownName(f"no {kind} named {name!r}; registered: {sorted(table)}")
    return table[name]


def clear_cache() -> None:
    """Forget the collected records (after registering plugins on the current manager)."""
    _cache.clear()
