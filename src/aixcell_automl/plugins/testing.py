"""Helpers for plugin authors: a conformance check and a temporary plugin manager."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from aixcell_automl.plugins import hookimpl, manager, registry
from aixcell_automl.plugins.kinds import BY_HOOK, KINDS
from aixcell_automl.plugins.specs import Backbone

# A small search space for plugin tests (192 configurations: three patch sizes, two values of
# every other built-in dimension); a project's own space is its conf's ``search_space``.
TEST_SPACE: dict[str, list] = {
    "patch_size": [64, 128, 256], "batch_size": [4, 8], "learning_rate": [0.001, 0.01],
    "backbone": ["resnet18", "resnet50"], "flip": [0.0, 0.5], "brightness_blur": [0.0, 0.5],
    "grid_distortion": [0.0, 0.5],
}


class ConformanceError(AssertionError):
    """A plugin breaks the contract the conformance kit checks (an ``AssertionError``, raised
    even under ``python -O``, unlike an ``assert``)."""


def _require(condition, message: str) -> None:
    if not condition:
        raise ConformanceError(message)


@contextlib.contextmanager
def plugin_manager_with(*plugins) -> Iterator:
    """Built-ins plus ``plugins`` (no entry points) for the duration of the block."""
    pm = manager.new_manager()
    for p in plugins:
        if not pm.is_registered(p):
            pm.register(p)
    pm.check_pending()
    saved = manager.set_plugin_manager(pm)
    try:
        yield pm
    finally:
        manager.set_plugin_manager(saved)


def _build_tiny(channels: int, num_classes: int):
    from aixcell_automl._env import tensorflow

    _, keras, _ = tensorflow()
    x = keras.Input((None, None, channels))
    features = keras.layers.Conv2D(8, 3, padding="same", name="tiny_features")
    head = keras.layers.Conv2D(num_classes, 3, padding="same", activation="softmax",
                               name="tiny_conv")
    return keras.Model(x, head(features(x)))


class TinyBackbone:
    """A plugin with the backbone ``tiny``: two 3x3 convolutions (8 linear filters, then the
    softmax head), which build and train in about a second, for tests of the search and training
    machinery (``plugin_manager_with(TinyBackbone())``; not a segmentation model)."""

    @hookimpl
    def register_backbones(self):
        return [Backbone("tiny", _build_tiny, size_factor=0.1)]


def import_plugin(module: str, source: Path | str):
    """``module`` if it is installed, else loaded from its ``__init__.py`` in the ``source``
    folder (a plugin's tests run from a checkout where it is not installed)."""
    import importlib
    import importlib.util
    import sys

    try:
        return importlib.import_module(module)
    except ImportError:
        spec = importlib.util.spec_from_file_location(module, Path(source) / "__init__.py")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[module] = loaded
        spec.loader.exec_module(loaded)
        return loaded


def check_plugin(plugin, build_models: bool = False) -> None:
    """Assert that ``plugin`` registers cleanly beside the built-ins and that what it provides
    behaves: right record types, unique names, backbones and augmentations in the search space,
    augmentations keep image/mask aligned, meta-feature extractors return prefixed numbers,
    meta-models rank by their inputs, metrics score confusion matrices, post-processors return
    rows; with ``build_models`` every backbone builds and trains one step. Raises
    ``AssertionError`` naming the problem."""
    with plugin_manager_with(plugin) as pm:
        hooks = [h.name for h in pm.get_hookcallers(plugin)]
        _require(hooks, f"{plugin!r} implements none of the aixcell_automl hooks")
        provided: dict[str, list] = {}
        for hook in hooks:
            if hook == "extend_search_space":
                ext = getattr(plugin, hook)()
                _require(isinstance(ext, dict) and ext, "extend_search_space must return a dict")
                for dim, values in ext.items():
                    _require(isinstance(dim, str) and isinstance(values, list) and values, (
                        f"extend_search_space: {dim!r} needs a non-empty list of values"))
                continue
            kind = BY_HOOK[hook]
            specs = getattr(plugin, hook)()
            _require(isinstance(specs, list) and specs, f"{hook} must return a non-empty list")
            for spec in specs:
                _require(isinstance(spec, kind.spec), (
                    f"{hook} returned {type(spec).__name__}, expected {kind.spec.__name__}"))
                _require(spec.name and spec.name.isidentifier(), f"bad name {spec.name!r}")
            provided[kind.name] = specs
        _check_registry()
        _check_search_space(provided)
        _exercise(provided, build_models)


def _check_registry() -> None:
    """Name clashes with the built-ins, overlapping or reserved meta-feature prefixes."""
    from aixcell_automl.metalearning.representation import extractor_families

    try:
        for kind in KINDS:
            registry.specs(kind.name)
        extractor_families()
    except registry.PluginError as exc:
        raise AssertionError(str(exc)) from exc


def _check_search_space(provided: dict[str, list]) -> None:
    """A backbone or augmentation needs its register hook and ``extend_search_space`` to agree
    by name: what the space names is registered, what is registered is in the space."""
    from aixcell_automl.core.search_space import build_space

    try:
        space = build_space(TEST_SPACE)
    except ValueError as exc:
        raise AssertionError(str(exc)) from exc
    for bb in provided.get("backbone", []):
        _require(bb.name in space["backbone"], (
            f"backbone {bb.name!r} is registered but not in the search space: return "
            f"{{'backbone': [{bb.name!r}]}} from extend_search_space"))
    for aug in provided.get("augmentation", []):
        _require(aug.name in space, (
            f"augmentation {aug.name!r} is registered but is no search-space dimension: return "
            f"{{{aug.name!r}: [0.0, 0.5]}} (its probabilities) from extend_search_space"))


def _exercise(provided: dict[str, list], build_models: bool) -> None:
    rng = np.random.default_rng(0)
    for aug in provided.get("augmentation", []):
        t = aug.make(1.0)
        img = rng.uniform(size=(64, 64, 2)).astype(np.float32)
        mask = (rng.uniform(size=(64, 64)) > 0.5).astype(np.uint8)
        out = t(image=img, mask=mask)
        _require(out["image"].shape == img.shape, f"{aug.name}: image shape changed")
        _require(out["mask"].shape == mask.shape, f"{aug.name}: mask shape changed")
        _require(set(np.unique(out["mask"])) <= {0, 1}, f"{aug.name}: mask labels changed")
    for mm in provided.get("metamodel", []):
        check_metamodel(mm)
    for metric in provided.get("metric", []):
        check_metric(metric)
    if provided.get("metafeature_extractor"):
        with tempfile.TemporaryDirectory() as tmp:
            from aixcell_automl.core.dataset import load_dataset
            from aixcell_automl.core.demo_data import write_demo_dataset

            ds = load_dataset(write_demo_dataset(Path(tmp) / "d", n_images=3, size=48, seed=0))
            for ex in provided["metafeature_extractor"]:
                check_extractor(ex, ds)
    for pp in provided.get("postprocessor", []):
        mask = np.zeros((32, 32), np.uint8)
        mask[4:10, 4:10] = 1
        rows = pp.run(np.zeros((32, 32, 1)), mask, ["background", "object"])
        _require(isinstance(rows, list) and all(isinstance(r, dict) for r in rows), (
            f"{pp.name}: run must return a list of dicts"))
    for strategy in provided.get("strategy", []):
        check_strategy(strategy)
    if build_models:
        for bb in provided.get("backbone", []):
            check_backbone(bb)


def check_strategy(strategy) -> None:
    """Run on a stub trainer (each configuration's score is fixed, training is instant): the
    strategy must stay within the budget, train only what it records, and name as winner the
    best configuration it trained."""
    from aixcell_automl.core.search_space import enumerate_configs
    from aixcell_automl.plugins.specs import SearchContext

    configs = enumerate_configs(TEST_SPACE)
    quality = {c["config_id"]: 0.3 + 0.6 * (i % 97) / 97 for i, c in enumerate(configs)}
    spent = {"seconds": 0.0, "trained": set()}

    def run_rung(jobs):
        states = []
        for cfg, secs in jobs:
            spent["seconds"] += secs
            spent["trained"].add(cfg["config_id"])
            states.append({"status": "paused", "best_score": quality[cfg["config_id"]],
                           "train_seconds": secs, "pixels_seen": 1})
        return states

    ctx = SearchContext(candidates=configs[:4], plan=configs[0], space=dict(TEST_SPACE),
                        budget_seconds=60.0, k=4, seed=0, run_rung=run_rung)
    trace = strategy.run(ctx)
    _require(isinstance(trace, dict) and trace.get("rungs") and trace.get("winner"), (
        f"{strategy.name}: run must return a trace with rungs and a winner"))
    _require(spent["seconds"] <= 60.0 + 1e-6, (
        f"{strategy.name}: trained {spent['seconds']:.1f} s of a 60 s budget"))
    recorded = {t["config_id"] for r in trace["rungs"] for t in r["trials"]}
    _require(recorded == spent["trained"], f"{strategy.name}: the trace must record every trial")
    _require(trace["winner"] == max(recorded, key=quality.get), (
        f"{strategy.name}: the winner must be the best configuration it trained"))


def check_metamodel(mm) -> None:
    """Fit on rows whose score rises with the first input; the predictions must be a function of
    each row (shuffling rows shuffles them) and rank the rows by that score (Kendall tau > 0.5):
    a model that ignores its inputs, e.g. one returning constants, fails."""
    from scipy.stats import kendalltau

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(60, 4))
    y = X[:, 0] + 0.1 * rng.uniform(size=60)
    est = mm.make(0)
    est.fit(X, y, group=[30, 30]) if mm.kind == "ranker" else est.fit(X, y)
    pred = np.asarray(est.predict(X), float)
    _require(pred.shape == (60,), f"{mm.name}: predict must return one score per row")
    _require(np.ptp(pred) > 0, f"{mm.name}: predictions are constant, the ranking ignores X")
    perm = rng.permutation(60)
    _require(np.allclose(np.asarray(est.predict(X[perm]), float), pred[perm]), (
        f"{mm.name}: predictions do not follow the rows of X"))
    tau = kendalltau(pred, y).statistic
    _require(tau > 0.5, (f"{mm.name}: its ranking ignores its inputs (Kendall tau {tau:.2f} with "
                       f"a score that rises with X[:, 0])"))


def check_metric(metric) -> None:
    """Per-class values in [0, 1]: 1 for a perfectly predicted class, 0 for a class never hit,
    NaN for a class absent from truth and prediction."""
    perfect = np.diag([50, 30, 0])
    missed = np.array([[0, 40], [60, 0]])
    partial = np.array([[50, 5, 1], [4, 30, 2], [3, 0, 20]])
    p = np.asarray(metric.per_class(perfect), float)
    _require(p.shape == (3,), f"{metric.name}: per_class must return one value per class")
    _require(np.allclose(p[:2], 1.0) and np.isnan(p[2]), (
        f"{metric.name}: a perfect confusion matrix must give 1 per present class and NaN for an "
        f"absent one, got {p}"))
    _require(np.allclose(np.asarray(metric.per_class(missed), float), 0.0), (
        f"{metric.name}: classes never predicted correctly must score 0"))
    q = np.asarray(metric.per_class(partial), float)
    _require(((q >= 0) & (q <= 1)).all() and (q < 1).all(), (
        f"{metric.name}: values must lie in [0, 1] and be < 1 with errors, got {q}"))


def check_extractor(ex, ds) -> None:
    """``extract`` on a small dataset returns numbers, all named with the declared prefix, the
    same on a second call."""
    a = ex.extract(ds, **dict(ex.params))
    _require(isinstance(a, dict) and a, f"{ex.name}: extract must return a non-empty dict")
    stray = [k for k in a if not k.startswith(ex.prefix)]
    _require(not stray,
             f"{ex.name}: features without the declared prefix {ex.prefix!r}: {stray[:5]}")
    values = np.array([float(v) for v in a.values()])
    b = np.array([float(v) for v in ex.extract(ds, **dict(ex.params)).values()])
    _require(np.array_equal(values, b, equal_nan=True), f"{ex.name}: extract is not deterministic")


def check_backbone(bb) -> None:
    """Build through the core (2 input channels, 3 classes), check the softmax output on a tiny
    input and run one training step that changes the weights and gives a finite loss."""
    from aixcell_automl._env import tensorflow
    from aixcell_automl.training.model import build_model, focal_loss, make_optimizer

    tf, _, _ = tensorflow()
    rng = np.random.default_rng(0)
    model = build_model(bb.name, 2, 3)
    x = rng.uniform(size=(2, 64, 64, 2)).astype(np.float32)
    out = np.asarray(model(x, training=False))
    _require(out.shape == (2, 64, 64, 3),
             f"{bb.name}: output shape {out.shape}, not (2, 64, 64, 3)")
    _require(np.allclose(out.sum(-1), 1.0, atol=1e-3), f"{bb.name}: output is not a softmax")
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=(2, 64, 64))]
    before = [w.numpy().copy() for w in model.trainable_variables]
    with tf.GradientTape() as tape:  # eager: one step does not pay for tracing a graph
        loss = focal_loss()(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    make_optimizer(1e-3).apply_gradients(zip(grads, model.trainable_variables, strict=True))
    loss = float(loss)
    _require(np.isfinite(loss), f"{bb.name}: training step gave loss {loss}")
    changed = sum(not np.array_equal(b, w.numpy()) for b, w in zip(
        before, model.trainable_variables, strict=True))
    _require(changed, f"{bb.name}: one training step changed no weight")


def fake_training_clock(monkeypatch):
    """Make the training clock advance by ``clock.step`` seconds (0.25) per optimisation step
    and by nothing else, so a slice of ``s`` seconds is ``1 + s / step`` steps on any machine
    (budget tests without timed assertions); returns ``clock`` (``now``, ``step``). For a
    ``fake_clock`` fixture: ``return fake_training_clock(monkeypatch)``."""
    import types

    from aixcell_automl.training import loop as training

    clock = types.SimpleNamespace(now=0.0, step=0.25)
    fake = types.SimpleNamespace(now=lambda: clock.now, paused=0.0)
    monkeypatch.setattr(training, "clock", lambda: fake)
    real = training.make_train_step

    def make_train_step(*args):
        step = real(*args)

        def timed(x, y):
            clock.now += clock.step
            return step(x, y)

        return timed

    monkeypatch.setattr(training, "make_train_step", make_train_step)
    return clock
