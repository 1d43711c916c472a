"""Helpers for plugin authors: a conformance check and a temporary plugin manager."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from aixcell_automl.plugins import manager, registry
from aixcell_automl.plugins.specs import (
    Augmentation,
    Backbone,
    MetaFeatureExtractor,
    MetaModel,
    PostProcessor,
)

_SPEC_TYPES = {
    "register_backbones": Backbone,
    "register_augmentations": Augmentation,
    "register_metafeature_extractors": MetaFeatureExtractor,
    "register_metamodels": MetaModel,
    "register_postprocessors": PostProcessor,
}


@contextlib.contextmanager
def plugin_manager_with(*plugins) -> Iterator:
    """Built-ins plus ``plugins`` (no entry points) for the duration of the block."""
    saved = manager._pm
    pm = manager._new_manager()
    for p in plugins:
        if not pm.is_registered(p):
            pm.register(p)
    pm.check_pending()
    manager._pm = pm
    registry.clear_cache()
    try:
        yield pm
    finally:
        manager._pm = saved
        registry.clear_cache()


def check_plugin(plugin, build_models: bool = False) -> None:
    """Assert that ``plugin`` registers cleanly beside the built-ins and that what it provides
    behaves: right record types, unique names, augmentations keep image/mask aligned, meta-models
    fit and predict, post-processors return rows. Raises ``AssertionError`` naming the problem."""
    with plugin_manager_with(plugin) as pm:
        hooks = [h.name for h in pm.get_hookcallers(plugin)]
        assert hooks, f"{plugin!r} implements none of the aixcell_automl hooks"
        for hook in hooks:
            if hook == "extend_search_space":
                ext = getattr(plugin, hook)()
                assert isinstance(ext, dict) and ext, "extend_search_space must return a dict"
                for dim, values in ext.items():
                    assert isinstance(dim, str) and isinstance(values, list) and values, (
                        f"extend_search_space: {dim!r} needs a non-empty list of values")
                continue
            specs = getattr(plugin, hook)()
            assert isinstance(specs, list) and specs, f"{hook} must return a non-empty list"
            for spec in specs:
                assert isinstance(spec, _SPEC_TYPES[hook]), (
                    f"{hook} returned {type(spec).__name__}, expected {_SPEC_TYPES[hook].__name__}")
                assert spec.name and spec.name.isidentifier(), f"bad name {spec.name!r}"
        # name clashes with built-ins raise here
        for fn in (registry.backbones, registry.augmentations, registry.metafeature_extractors,
                   registry.metamodels, registry.postprocessors):
            fn()
        _exercise(plugin, hooks, build_models)


def _exercise(plugin, hooks: list[str], build_models: bool) -> None:
    rng = np.random.default_rng(0)
    if "register_augmentations" in hooks:
        for aug in plugin.register_augmentations():
            t = aug.make(1.0)
            img = rng.uniform(size=(64, 64, 2)).astype(np.float32)
            mask = (rng.uniform(size=(64, 64)) > 0.5).astype(np.uint8)
            out = t(image=img, mask=mask)
            assert out["image"].shape == img.shape, f"{aug.name}: image shape changed"
            assert out["mask"].shape == mask.shape, f"{aug.name}: mask shape changed"
            assert set(np.unique(out["mask"])) <= {0, 1}, f"{aug.name}: mask labels changed"
    if "register_metamodels" in hooks:
        X = rng.uniform(size=(60, 4))
        y = X[:, 0] + 0.1 * rng.uniform(size=60)
        for mm in plugin.register_metamodels():
            est = mm.make(0)
            est.fit(X, y, group=[30, 30]) if mm.kind == "ranker" else est.fit(X, y)
            pred = np.asarray(est.predict(X))
            assert pred.shape == (60,), f"{mm.name}: predict must return one score per row"
    if "register_postprocessors" in hooks:
        mask = np.zeros((32, 32), np.uint8)
        mask[4:10, 4:10] = 1
        for pp in plugin.register_postprocessors():
            rows = pp.run(np.zeros((32, 32, 1)), mask, ["background", "object"])
            assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows), (
                f"{pp.name}: run must return a list of dicts")
    if build_models and "register_backbones" in hooks:
        for bb in plugin.register_backbones():
            model = bb.build(1, 2, None)
            out = model(np.zeros((1, 64, 64, 1), np.float32))
            assert tuple(out.shape) == (1, 64, 64, 2), f"{bb.name}: output shape {out.shape}"
