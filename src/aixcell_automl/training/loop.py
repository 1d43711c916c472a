"""Budgeted, resumable training of one configuration (docs/method.md §2, §5, §7).

A *trial* lives in a run folder. Each call of :func:`train_trial` continues it from its last
checkpoint (model weights, optimizer state, data-stream position, history) and trains until one of
its limits is reached:

* ``Budget.seconds`` - wall-clock seconds of training for *this call* (a successive-halving
  slice). The clock starts when the call's first optimisation step has run: building the model,
  restoring the checkpoint and tracing the graph are recorded as ``overhead_seconds`` instead.
  Time the process spends stopped (SIGSTOP, a suspended machine) is not counted: it is recorded
  as ``stopped_seconds`` (see :mod:`.clock`). It is checked before every batch and a last
  evaluation follows, so a slice overruns by at most one batch plus one evaluation.
  ``Settings.keep_in_memory`` keeps the last few trials built in the process, so a survivor's
  next slice skips that overhead.
* ``Budget.pixels`` - total training pixels over all calls (the meta-base's fidelity unit).
* early stopping (``Settings.early_stopping``, on by default) - the thesis's rule read for noisy
  scores: stop when the best validation IoU has not risen by more than ``Settings.es_delta``
  (0.05) over the last ``Settings.es_patience`` (8) evaluations.

Validation happens every ``Settings.eval_every_pixels`` training pixels (or once per epoch, if an
epoch is shorter), or at the pixel counts of ``Settings.eval_at``. It scores the same fixed,
seeded validation regions (about ``Settings.val_pixels``) for every configuration of a dataset,
predicted as :mod:`.predict` predicts whole images: sliding windows of the configuration's patch
size, overlap-blended, at the plan's inference stride when the data has a plan (see
:func:`.data_pipeline.validation_regions`, :mod:`.plan_settings`). The **trial score** is the
best validation IoU seen so far; the weights that reached it are kept in ``best.weights.h5``, so
the score always describes a model that exists. (Validation IoU of small-batch U-Nets jumps between
evaluations; best-so-far is monotone, which successive halving and the meta-base rank by.)
The score is the registered metric ``Settings.metric`` (IoU by default, see
:mod:`aixcell_automl.core.metrics`); the state records its name as ``metric``, and its values as
``val_score``, ``per_class_score``, ``best_score`` (states written before these names are read
through :func:`aixcell_automl.core.legacy_names.upgrade`).

A trial can start from pre-trained weights (``Settings.init_weights``); it is then fine-tuned by
the protocol of :mod:`.transfer`, whose phase is part of the state and survives a resume.

A failing trial (NaN loss, out of memory, any exception) is recorded as ``status="failed"`` with
its reason; callers go on.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aixcell_automl.core.atomic import atomic_write_json
from aixcell_automl.core.errors import UserError
from aixcell_automl.core.legacy_names import upgrade
from aixcell_automl.core.metrics import confusion, score
from aixcell_automl.plugins.registry import get
from aixcell_automl.training.clock import clock
from aixcell_automl.training.data_pipeline import PatchStream
from aixcell_automl.training.model import build_model, focal_loss, make_optimizer
from aixcell_automl.training.precision import built_in
from aixcell_automl.training.predict import predict_probabilities
from aixcell_automl.training.transfer import (
    FINETUNE_LR,
    freeze_all_but,
    load_matching,
    new_layers_settled,
)
from aixcell_automl.training.trial_data import TrialData

log = logging.getLogger(__name__)


@dataclass
class Budget:
    """Limits of one training call; ``None`` means unlimited."""

    seconds: float | None = None
    pixels: int | None = None


@dataclass
class Settings:
    """Evaluation, early stopping and checkpointing."""

    eval_every_pixels: int = 2**22
    eval_at: tuple[int, ...] | None = None  # evaluate exactly at these pixel counts instead
    val_pixels: int = 2**20
    early_stopping: bool = True
    es_delta: float = 0.05
    es_patience: int = 8
    checkpoint: bool = True
    checkpoint_every_seconds: float | None = None  # also save between evaluations (long trials)
    init_weights: str | None = None  # local weights file or model folder (see .transfer)
    keep_in_memory: int = 0  # trials kept built in this process between calls (saves tracing)
    metric: str = "iou"  # registered metric that scores validation (see .metrics)
    precision: str = "float32"  # float32 | bfloat16 | float16, resolved (see .precision)


def _fresh_state(config: dict, seed: int, metric: str, precision: str = "float32") -> dict:
    return {"config": config, "seed": seed, "metric": metric, "precision": precision,
            "status": "running",
            "reason": None, "epoch": 0,
            "batch": 0, "steps": 0, "patches_seen": 0, "pixels_seen": 0, "train_seconds": 0.0,
            "history": [], "best_score": None, "best_eval": None, "stopped_by": None,
            "init_weights": None, "phase": None, "new_layers": [], "phase_start": 0}


def read_state(path: Path) -> dict:
    """A trial's ``state.json`` (older states under today's field names)."""
    return upgrade(json.loads(Path(path).read_text()))


def _early_stop(history: list[dict], delta: float, patience: int) -> bool:
    if len(history) <= patience:
        return False
    best = np.maximum.accumulate([h["val_score"] for h in history])
    return bool(best[-1] - best[-1 - patience] <= delta)


def make_train_step(model, optimizer, loss_fn):
    """One compiled optimisation step ``(x, y_onehot) -> loss``."""
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()

    scaled = hasattr(optimizer, "get_scaled_loss")  # a LossScaleOptimizer (float16)

    @tf.function(reduce_retracing=True)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
            target = optimizer.get_scaled_loss(loss) if scaled else loss
        grads = tape.gradient(target, model.trainable_variables)
        if scaled:
            grads = optimizer.get_unscaled_gradients(grads)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return train_step


def train_trial(config: dict, data: TrialData, run_dir: Path | str, budget: Budget,
                settings: Settings | None = None, seed: int = 0) -> dict:
    """Train (or continue training) one configuration; return its state dict (see module doc)."""
    settings = settings or Settings()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.json"
    state = (read_state(state_path) if state_path.exists()
             else _fresh_state(config, seed, settings.metric, settings.precision))
    get("metric", settings.metric)  # an unknown metric is an error, not a failed trial
    if state.setdefault("metric", "iou") != settings.metric:  # states before metrics: IoU
        raise UserError(f"{state_path} was scored by {state['metric']!r}; cannot continue it "
                        f"with metric {settings.metric!r}")
    if state["status"] == "finished" and state["stopped_by"] == "pixels" and (
            budget.pixels is None or budget.pixels > state["pixels_seen"]):
        state["status"] = "paused"  # a larger pixel budget continues a finished trial
    if state["status"] in ("failed", "finished"):
        return state
    try:
        return _train(config, data, run_dir, budget, settings, seed, state, state_path)
    except FloatingPointError as exc:
        if state.get("precision", "float32") == "float32":
            return _failed(state, state_path, config, exc)
        # a 16-bit trial that diverged starts afresh in float32, and its record says so
        log.warning("trial %s diverged in %s (%s); training it again in float32",
                    config.get("config_id"), state["precision"], exc)
        _LIVE.pop(str(run_dir.resolve()), None)
        for stale in (run_dir / "ckpt", run_dir / "best.weights.h5"):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(
                missing_ok=True)
        state = _fresh_state(config, seed, settings.metric, "float32") | {
            "precision_fallback": f"{state['precision']}: {exc}"}
        try:
            return _train(config, data, run_dir, budget, settings, seed, state, state_path)
        except Exception as again:  # noqa: BLE001 - failure is a result
            return _failed(state, state_path, config, again)
    except Exception as exc:  # noqa: BLE001 - failure is a result
        return _failed(state, state_path, config, exc)


def _failed(state: dict, state_path: Path, config: dict, exc: Exception) -> dict:
    """Record a failed trial (its reason; out of memory named as such)."""
    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if "ResourceExhausted" in type(exc).__name__ or "OOM" in str(exc)[:200]:
        reason = f"out of memory: {reason}"
    log.warning("trial %s failed: %s", config.get("config_id"), reason)
    state.update(status="failed", reason=reason)
    atomic_write_json(state_path, state)
    return state


@dataclass
class _Live:
    """A trial's model, optimizer and compiled functions, kept in memory between calls."""

    model: object
    probabilities: object
    steps: int
    optimizer: object = None
    manager: object = None
    train_step: object = None
    loss_scale: bool = False  # float16: dynamic loss scaling

    def compile(self, learning_rate: float, ckpt_dir: Path):
        """A fresh optimizer, train step and checkpoint manager for the current trainable set."""
        from aixcell_automl._env import tensorflow

        tf, keras, _ = tensorflow()
        self.optimizer = make_optimizer(learning_rate)
        if self.loss_scale:
            self.optimizer = keras.mixed_precision.LossScaleOptimizer(self.optimizer)
        self.train_step = make_train_step(self.model, self.optimizer, focal_loss())
        ckpt = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer)
        self.manager = tf.train.CheckpointManager(ckpt, str(ckpt_dir), max_to_keep=1)
        return ckpt


_LIVE: OrderedDict[str, _Live] = OrderedDict()


def _open(config, data, run_dir: Path, settings: Settings, seed: int, state: dict) -> _Live:
    """Reuse the in-memory trial if it is exactly where ``state`` says, else build and restore."""
    from aixcell_automl._env import tensorflow

    tf, keras, _ = tensorflow()
    key = str(run_dir.resolve())
    live = _LIVE.pop(key, None)
    if live is not None and live.steps == state["steps"]:
        return live
    keras.utils.set_random_seed(seed)
    precision = state.get("precision", "float32")
    model = built_in(precision, lambda: build_model(config["backbone"], data.train.channels,
                                                    data.num_classes))
    if settings.init_weights and not state["history"] and state.get("phase") is None:
        new = load_matching(model, settings.init_weights)
        state.update(init_weights=str(settings.init_weights), new_layers=new,
                     phase="new_layers" if new else "all", phase_start=0)
        log.info("%s starts from %s; new layers: %s", config.get("config_id"),
                 settings.init_weights, new or "none")
    if state.get("phase") == "new_layers":
        freeze_all_but(model, state["new_layers"])

    @tf.function(reduce_retracing=True)
    def probabilities(x, training=False):
        return model(x, training=False)

    live = _Live(model, probabilities, state["steps"], loss_scale=precision == "float16")
    ckpt = live.compile(_learning_rate(config, state), run_dir / "ckpt")
    if state["steps"] and live.manager.latest_checkpoint:
        ckpt.restore(live.manager.latest_checkpoint).expect_partial()
        log.info("resuming %s at epoch %d, %d patches seen", config.get("config_id"),
                 state["epoch"], state["patches_seen"])
    return live


def _learning_rate(config: dict, state: dict) -> float:
    return FINETUNE_LR if state.get("phase") == "all" else float(config["learning_rate"])


def release_models() -> None:
    """Forget every model built in this process (kept trials included) and free their memory."""
    import gc

    from aixcell_automl._env import tensorflow

    _, keras, _ = tensorflow()
    _LIVE.clear()
    keras.backend.clear_session()
    gc.collect()


def _keep(run_dir: Path, live: _Live, steps: int, capacity: int) -> None:
    if capacity <= 0:
        return
    live.steps = steps
    _LIVE[str(run_dir.resolve())] = live
    while len(_LIVE) > capacity:
        _LIVE.popitem(last=False)


def _train(config, data, run_dir, budget, settings, seed, state, state_path) -> dict:
    return _Trainer(config, data, run_dir, budget, settings, seed, state, state_path).run()


class _Trainer:
    """One call of a trial: trains from where ``state`` is until a limit (see module doc).

    Its steps are named: :meth:`stop_reason` (the budget, checked before every batch),
    :meth:`step` (one optimisation step and the counters), :meth:`due` / :meth:`evaluate` (the
    validation schedule and score), :meth:`settle_phase` (the transfer protocol's switch),
    :meth:`checkpoint` (weights, optimizer and ``state.json``) and :meth:`early_stop`."""

    def __init__(self, config: dict, data: TrialData, run_dir: Path, budget: Budget,
                 settings: Settings, seed: int, state: dict, state_path: Path):
        self.config, self.data, self.run_dir, self.budget = config, data, run_dir, budget
        self.settings, self.state, self.state_path = settings, state, state_path
        self.clk = clock()  # stands still while the process is stopped (SIGSTOP, suspend)
        self.t_start, self.stopped_start = self.clk.now(), self.clk.paused
        self.cpu_start, self.base_cpu = time.process_time(), state.get("cpu_seconds", 0.0)
        self.base_seconds = float(state["train_seconds"])
        self.base_stopped = state.get("stopped_seconds", 0.0)
        self.p, self.bs = int(config["patch_size"]), int(config["batch_size"])
        self.live = _open(config, data, run_dir, settings, seed, state)
        index, sampling, images = data.patches(self.p)
        state["sampling"] = sampling
        augment = {k: float(v) for k, v in config.items() if k in _augmentation_names()}
        self.stream = PatchStream(images, index, self.bs, seed, augment)
        state["batches_per_epoch"] = self.stream.batches_per_epoch
        self.regions = data.validation(settings.val_pixels)
        self.stride = data.inference_stride(self.p)
        self.step_pixels = self.bs * self.p * self.p
        self.eval_every = min(settings.eval_every_pixels,
                              self.stream.batches_per_epoch * self.step_pixels)
        self.since_eval = 0  # pixels trained since the last evaluation
        self.saved_at = self.clk.now()
        self.slice_start: float | None = None  # starts once the first step (tracing) is done

    def elapsed(self) -> float:
        """Training seconds of the trial so far (all calls)."""
        return round(self.base_seconds + self.clk.now() - self.t_start, 3)

    def stop_reason(self) -> str | None:
        """``"pixels"`` or ``"seconds"`` when a budget is spent, checked before each batch."""
        budget, state = self.budget, self.state
        if budget.pixels is not None and state["pixels_seen"] >= budget.pixels:
            return "pixels"
        if (budget.seconds is not None and self.slice_start is not None
                and self.clk.now() - self.slice_start >= budget.seconds):
            return "seconds"
        return None

    def step(self, x, y) -> float:
        """One optimisation step; advances the stream position and the counters."""
        state = self.state
        loss = float(self.live.train_step(x, y))
        if self.slice_start is None:
            self.slice_start = self.clk.now()
            state["overhead_seconds"] = round(state.get("overhead_seconds", 0.0)
                                              + self.slice_start - self.t_start, 3)
        if not math.isfinite(loss):
            raise FloatingPointError(f"loss is {loss} at step {state['steps'] + 1}")
        state["steps"] += 1
        state["batch"] += 1
        if state["batch"] >= self.stream.batches_per_epoch:
            state["epoch"], state["batch"] = state["epoch"] + 1, 0
        state["patches_seen"] += self.bs
        state["pixels_seen"] += self.step_pixels
        self.since_eval += self.step_pixels
        return loss

    def due(self) -> bool:
        """Whether the last step reached an evaluation point."""
        if self.settings.eval_at is None:
            return self.since_eval >= self.eval_every
        now = self.state["pixels_seen"]  # was an evaluation point crossed by the last step?
        return any(now - self.step_pixels < e <= now for e in self.settings.eval_at)

    def evaluate(self, loss_value: float) -> None:
        """Score the validation regions; keep the weights when the score is the best so far."""
        state, data, live = self.state, self.data, self.live
        t0 = self.clk.now()
        cm = np.zeros((data.num_classes, data.num_classes), np.int64)
        for image, truth in zip(self.regions.images, self.regions.masks, strict=True):
            probs = predict_probabilities(live.probabilities, image, self.p, batch_size=8,
                                          stride=self.stride)
            cm += confusion(truth, probs.argmax(-1), data.num_classes)
        iou, per_class = score(self.settings.metric, cm)
        state["eval_seconds"] = round(state.get("eval_seconds", 0.0)
                                      + self.clk.now() - t0, 3)
        state["history"].append({
            "eval": len(state["history"]) + 1, "steps": state["steps"],
            "patches": state["patches_seen"], "pixels": state["pixels_seen"],
            "epoch": round(state["steps"] / self.stream.batches_per_epoch, 4),
            "train_seconds": self.elapsed(),
            "loss": loss_value, "val_score": iou,
            "per_class_score": [None if math.isnan(v) else v for v in per_class],
        })
        self.since_eval = 0
        if state["best_score"] is None or iou > state["best_score"]:
            state["best_score"], state["best_eval"] = iou, len(state["history"])
            live.model.save_weights(str(self.run_dir / "best.weights.h5"))

    def settle_phase(self) -> None:
        """Transfer protocol: once the new layers have settled, every layer trains."""
        state = self.state
        if (state.get("phase") == "new_layers"
                and new_layers_settled(state["history"], state["phase_start"])):
            state.update(phase="all", phase_start=len(state["history"]))
            freeze_all_but(self.live.model, [])
            self.live.compile(FINETUNE_LR, self.run_dir / "ckpt")
            log.info("%s: new layers settled after %d evaluations; all layers train at lr %g",
                     self.config.get("config_id"), len(state["history"]), FINETUNE_LR)

    def early_stop(self) -> bool:
        """The early-stopping rule over the current phase's evaluations."""
        s = self.settings
        return s.early_stopping and _early_stop(
            self.state["history"][self.state.get("phase_start", 0):], s.es_delta, s.es_patience)

    def checkpoint(self) -> None:
        """Save weights and optimizer (``Settings.checkpoint``) and ``state.json``."""
        state = self.state
        if self.settings.checkpoint:
            self.live.manager.save()
        state["since_eval"] = self.since_eval
        state["train_seconds"] = self.elapsed()
        # CPU time of this process over the same span: how much of the machine the trial had
        state["cpu_seconds"] = round(self.base_cpu + time.process_time() - self.cpu_start, 3)
        state["stopped_seconds"] = round(self.base_stopped + self.clk.paused
                                         - self.stopped_start, 3)
        atomic_write_json(self.state_path, state)
        self.saved_at = self.clk.now()

    def run(self) -> dict:
        """Train until a limit; evaluate what was trained since the last evaluation; save."""
        state = self.state
        it = self.stream.tensors(self.data.num_classes, state["epoch"], state["batch"])
        self.since_eval, last_loss, stop = state.get("since_eval", 0), float("nan"), None
        every, self.saved_at = self.settings.checkpoint_every_seconds, self.clk.now()
        while stop is None:
            stop = self.stop_reason()
            if stop is not None:
                break
            last_loss = self.step(*next(it))
            if self.due():
                self.evaluate(last_loss)
                self.settle_phase()
                self.checkpoint()
                if self.early_stop():
                    stop = "early_stopping"
            elif every and self.clk.now() - self.saved_at >= every:
                self.checkpoint()  # a kill loses at most `every` seconds
        if self.since_eval or not state["history"]:
            self.evaluate(last_loss)
        state["stopped_by"] = stop
        state["status"] = "finished" if stop in ("pixels", "early_stopping") else "paused"
        self.checkpoint()
        _keep(self.run_dir, self.live, state["steps"], self.settings.keep_in_memory)
        return state


def _augmentation_names() -> set[str]:
    from aixcell_automl.plugins.registry import augmentations

    return set(augmentations())


def best_model(run_dir: Path | str, data, plan=None, **extra) -> tuple[object, dict]:
    """The trial's kept (best) weights as ``(model, info)``, ready for ``ModelDataset`` /
    :func:`aixcell_automl.training.model.save_model`; ``extra`` is added to ``info`` (and wins,
    e.g. ``best_val_score``).

    ``data`` is the :class:`TrialData` the trial trained on, or its dataset (a
    :class:`~aixcell_automl.core.dataset.SegmentationDataset`: channels and classes are read from
    it). ``info`` records the plan's normalisation and inference window (see
    :mod:`.plan_settings`) from ``plan`` (a ``plans.json`` dict), else from ``data``'s plan; with
    neither, prediction uses the defaults."""
    from aixcell_automl.training.plan_settings import PlanSettings

    run_dir = Path(run_dir)
    state = read_state(run_dir / "state.json")
    cfg = state["config"]
    if isinstance(data, TrialData):
        channels, num_classes = data.train.channels, data.num_classes
        class_names = data.class_names
        planned = PlanSettings.from_plan(plan) if plan is not None else data.plan
    else:
        from aixcell_automl.training.data_pipeline import dataset_channels

        channels, num_classes = dataset_channels(data), data.num_classes
        class_names, planned = data.class_names, PlanSettings.from_plan(plan)
    model = build_model(cfg["backbone"], channels, num_classes)
    model.load_weights(str(run_dir / "best.weights.h5"))
    patch = int(cfg["patch_size"])
    info = {"backbone": cfg["backbone"], "channels": channels,
            "num_classes": num_classes, "class_names": class_names,
            "patch_size": patch, "config": cfg, "best_val_score": state["best_score"],
            **(planned.info(patch) if planned else {}), **extra}
    return model, info


def settings_from(params: dict) -> Settings:
    """Settings from a ``train``-style parameter block (``precision`` resolved for this
    machine, see :mod:`.precision`)."""
    from aixcell_automl.training.precision import resolve

    es = params["early_stopping"]
    precision, why = resolve(params["precision"])
    log.info("precision %s: %s", precision, why)
    return Settings(eval_every_pixels=int(params["eval_every_pixels"]),
                    val_pixels=int(params["val_pixels"]), es_delta=float(es["delta"]),
                    es_patience=int(es["patience"]), init_weights=params["init_weights"],
                    precision=precision)
