"""The plugin manager: built-ins first, then the entry-point group ``aixcell_automl``.

Set ``AIXCELL_AUTOML_NO_ENTRYPOINTS=1`` to load only the built-ins (tests of the core do).
A third-party plugin that fails to import or register is reported by name and skipped.
"""

from __future__ import annotations

import importlib
import logging
import os
from importlib import metadata

import pluggy

from aixcell_automl.plugins import hookspecs
from aixcell_automl.plugins.kinds import KINDS

log = logging.getLogger(__name__)

GROUP = "aixcell_automl"
DEFAULT_PLUGINS = tuple(kind.builtin for kind in KINDS)

_pm: pluggy.PluginManager | None = None
FAILED: dict[str, str] = {}
DISTRIBUTIONS: dict[str, str] = {}


def new_manager() -> pluggy.PluginManager:
    """A fresh plugin manager holding the hook specifications and the built-ins only."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    return pm


def load_entrypoint_plugins(pm: pluggy.PluginManager) -> None:
    """Register every plugin of the entry-point group; record and log the ones that fail."""
    for ep in metadata.entry_points(group=GROUP):
        if pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
            continue
        try:
            pm.register(ep.load(), name=ep.name)
            pm.check_pending()
            if ep.dist is not None:
                DISTRIBUTIONS[ep.name] = f"{ep.dist.name} {ep.dist.version}"
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the core down
            FAILED[ep.name] = f"{type(exc).__name__}: {exc}"
            log.error("plugin %r (%s) failed to load and was skipped: %s", ep.name, ep.value, exc)
            if pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (created on first use)."""
    global _pm
    if _pm is None:
        pm = _new_manager()
        if os.environ.get("AIXCELL_AUTOML_NO_ENTRYPOINTS") != "1":
            load_entrypoint_plugins(pm)
        _pm = pm
    return _pm


_new_manager = new_manager  # the name before it was public


def set_plugin_manager(pm: pluggy.PluginManager | None) -> pluggy.PluginManager | None:
    """Make ``pm`` the process-wide manager (None: build it afresh on next use) and return the
    one it replaces; the conformance kit (:mod:`.testing`) swaps managers with it."""
    global _pm
    previous, _pm = _pm, pm
    return previous


def list_plugins() -> list[dict]:
    """Name, origin, version, implemented hooks and what it provides per kind (``{kind title:
    [names]}``) of every registered (or failed) plugin."""
    pm = get_plugin_manager()
    rows = []
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        rows.append({
            "name": name,
            "origin": "built-in" if name in DEFAULT_PLUGINS else "entry point",
            "distribution": DISTRIBUTIONS.get(name, "aixcell-automl"),
            "hooks": hooks,
            "provides": {k.title: [s.name for s in getattr(plugin, k.hook)() or []]
                         for k in KINDS if k.hook in hooks},
            "status": "ok",
        })
    for name, why in FAILED.items():
        rows.append({"name": name, "origin": "entry point", "distribution": "?", "hooks": [],
                     "provides": {}, "status": f"failed: {why}"})
    return rows
