"""Kedro dataset classes for the project's own artefacts (used from ``conf/base/catalog.yml``)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from aixcell_automl.core.dataset import (
    IMAGE_SUFFIXES,
    list_images,
    load_dataset,
    read_image,
    read_mask,
)
from aixcell_automl.core.errors import UserError

log = logging.getLogger(__name__)


class MicroscopyDataset(AbstractDataset):
    """A dataset folder in the contract layout; loads a validated ``SegmentationDataset``.

    Read-only: the input folder is never modified.
    """

    def __init__(self, path: str, check_pixels: bool = True, metadata: dict | None = None):
        self._path = Path(path)
        self._check_pixels = check_pixels
        self.metadata = metadata

    def load(self):
        return load_dataset(self._path, check_pixels=self._check_pixels)

    def save(self, data) -> None:
        raise DatasetError(f"{self._path}: input datasets are read-only")

    def _exists(self) -> bool:
        return (self._path / "dataset.yaml").exists()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class ImageFolderDataset(AbstractDataset):
    """A flat folder of images as ``{stem: array}``.

    Loading accepts a dataset folder too (its ``images/`` are read); ``labels: true`` reads
    single-channel label masks as ``(H, W)``; ``paths: true`` returns ``{stem: Path}`` without
    reading, so a caller can skip files it cannot read. Saving writes PNG, or TIFF
    when an array does not fit 8 bits (``> 255`` classes) or has more than 4 channels.
    """

    def __init__(self, path: str, labels: bool = False, paths: bool = False,
                 metadata: dict | None = None):
        self._path = Path(path)
        self._labels = labels
        self._paths = paths
        self.metadata = metadata

    def load(self) -> dict:
        folder = self._path / "images" if (self._path / "images").is_dir() else self._path
        if not folder.is_dir():
            raise UserError(f"{folder}: folder of images to predict does not exist")
        duplicates, ignored = [], []
        files = list_images(folder, duplicates, ignored)  # by stem, as a dataset's are
        for line in ignored:
            log.warning(line)
        if not files:
            raise UserError(f"{folder}: no images found ({', '.join(IMAGE_SUFFIXES)})")
        if duplicates:
            raise UserError(f"{folder}: outputs are named by stem, so no two files may share "
                            f"one: {'; '.join(duplicates[:5])}")
        if self._paths:
            return files
        return {s: read_mask(p) if self._labels else read_image(p) for s, p in files.items()}

    def save(self, data: dict[str, np.ndarray]) -> None:
        import imageio.v3 as iio
        import tifffile

        self._path.mkdir(parents=True, exist_ok=True)
        for stem, arr in data.items():
            if arr.dtype == np.uint8 and (arr.ndim == 2 or arr.shape[-1] in (3, 4)):
                iio.imwrite(self._path / f"{stem}.png", arr)
            else:
                tifffile.imwrite(self._path / f"{stem}.tif", arr)

    def _exists(self) -> bool:
        return self._path.exists()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class ModelDataset(AbstractDataset):
    """A saved segmentation model folder (``model.json`` + ``weights.h5``) as ``(model, info)``.

    Loading adds to ``info`` the folder it came from (``model_folder``) and, for an installed
    model, its ``installed.json`` record (``installed``); neither is written back on saving.
    """

    def __init__(self, path: str, metadata: dict | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def load(self):
        from aixcell_automl.training.model import load_model

        if not (self._path / "model.json").exists():
            raise UserError(f"{self._path}: no trained model here; run the 'train' or "
                            f"'search' pipeline first or set predict.model")
        model, info = load_model(self._path)
        info["model_folder"] = str(self._path)
        record = self._path / INSTALL_RECORD
        if record.exists():
            info["installed"] = json.loads(record.read_text())
        return model, info

    def save(self, data) -> None:
        from aixcell_automl.training.model import save_model

        model, info = data
        save_model(model, self._path, _saved_info(info))

    def _exists(self) -> bool:
        return (self._path / "model.json").exists()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


INSTALL_RECORD = "installed.json"
_LOADED_KEYS = ("model_folder", "installed")  # added by ModelDataset.load, never saved


def _saved_info(info: dict) -> dict:
    return {k: v for k, v in info.items() if k not in _LOADED_KEYS}


def _swap_in(tmp: Path, target: Path) -> Path | None:
    """Move the complete folder ``tmp`` to ``target``; returns the folder that was at ``target``
    (renamed aside, for the caller to dispose of), if any. ``target`` never holds a half
    written model: it is the old folder or the new one (or, between two renames, absent)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    tmp.rename(target)
    return old


class InstalledModelDataset(ModelDataset):
    """The installed model (``model_dir``), which ``train`` and ``search`` write and ``predict``
    and ``export`` read by default.

    Saving ``(model, info)``, where ``info["run"]`` names the run (``pipeline``, ``run``,
    ``run_folder``): the model is written to the run's own folder
    (``<run_folder>/<run_subfolder>``, kept: a re-run of the same run replaces it, nothing else
    does), then copied to ``path`` with ``installed.json`` (pipeline, run, run folder, the run's
    model folder, dataset, config_id, score, UTC time). Both are written to a temporary folder
    beside their place and renamed into it, so neither is ever half written. The model installed
    before is removed only when its run folder still holds it; otherwise it is kept beside
    ``path`` as ``<name>.replaced-<UTC time>``.
    """

    def __init__(self, path: str, run_subfolder: str = "model", metadata: dict | None = None):
        super().__init__(path, metadata)
        self._run_subfolder = run_subfolder

    def save(self, data) -> None:
        from datetime import UTC, datetime

        from aixcell_automl.training.model import save_model

        model, info = data
        info = _saved_info(info)
        run = info.get("run") or {}
        if not {"pipeline", "run", "run_folder"} <= set(run):
            raise DatasetError(f"{self._path}: the model to install names no run (info['run'] "
                               f"needs pipeline, run and run_folder)")
        run_model = Path(run["run_folder"]) / self._run_subfolder
        run_model.parent.mkdir(parents=True, exist_ok=True)
        tmp = run_model.with_name(f".{run_model.name}.part-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        save_model(model, tmp, info)
        old = _swap_in(tmp, run_model)
        if old is not None:  # this run's earlier model (a resumed run)
            shutil.rmtree(old, ignore_errors=True)

        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(f".{self._path.name}.part-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(run_model, tmp)
        now = datetime.now(UTC)
        record = {"pipeline": run["pipeline"], "run": run["run"],
                  "run_folder": str(run["run_folder"]), "model": str(run_model),
                  "dataset": info.get("dataset"),
                  "config_id": (info.get("config") or {}).get("config_id"),
                  "score": info.get("best_val_score"), "metric": info.get("metric", "iou"),
                  "installed_at": now.isoformat(timespec="seconds")}
        (tmp / INSTALL_RECORD).write_text(json.dumps(record, indent=2, default=str))
        old = _swap_in(tmp, self._path)
        if old is not None:
            self._retire(old, now)
        log.info("installed the model of %s run %s (%s) as %s", run["pipeline"], run["run"],
                 run_model, self._path)

    def _retire(self, old: Path, now) -> None:
        """Remove the model installed before if its run folder still holds it, else keep it."""
        try:
            source = Path(json.loads((old / INSTALL_RECORD).read_text())["model"])
        except (OSError, ValueError, KeyError, TypeError):
            source = None
        if source is not None and (source / "model.json").exists():
            shutil.rmtree(old, ignore_errors=True)
            return
        kept = self._path.with_name(f"{self._path.name}.replaced-{now:%Y%m%dT%H%M%SZ}")
        old.rename(kept)
        log.warning("the model installed before at %s is in no run folder; kept it as %s",
                    self._path, kept)


class MetaBaseDataset(AbstractDataset):
    """The append-only JSON-lines meta-base as a ``DataFrame`` (see :mod:`.metabase`).

    Saving appends the rows whose key is not yet in the file; existing rows are never rewritten.
    """

    def __init__(self, filepath: str, metadata: dict | None = None):
        self._path = Path(filepath)
        self.metadata = metadata

    def load(self):
        import pandas as pd

        from aixcell_automl.metabase.store import read_rows

        return pd.DataFrame(read_rows(self._path))

    def save(self, data) -> None:
        from aixcell_automl.metabase.store import append_row, done_keys, read_rows, row_key

        have = done_keys(read_rows(self._path))
        rows = data.to_dict("records") if hasattr(data, "to_dict") else list(data)
        rows = [{k: v for k, v in r.items() if not (isinstance(v, float) and v != v)}
                for r in rows]  # NaN cells of a DataFrame are absent fields
        for row in rows:
            if row_key(row) not in have:
                append_row(self._path, row)

    def _exists(self) -> bool:
        return self._path.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._path)}


class PathDataset(AbstractDataset):
    """A file or folder that a node reads or writes itself, piece by piece, as a ``Path``: a run
    root (trial checkpoints, resumable), an append-only log (the meta-base the collector appends
    to, the evaluation's runs), a cache, the folder of shared datasets or of pre-trained models.

    The catalog names the place (``location``); the node gets it as a ``Path`` (``None`` when
    ``location`` is null). A relative location stays relative (to the working directory, the
    project folder under ``kedro run``), as it is written: Kedro makes only ``path`` and
    ``filepath`` absolute, and run folders are recorded in run records and rows. Loading neither
    creates nor checks it; saving is not supported (the node writes below it as it goes).
    """

    def __init__(self, location: str | None, metadata: dict | None = None):
        self._path = None if location is None else Path(location)
        self.metadata = metadata

    def load(self) -> Path | None:
        return self._path

    def save(self, data) -> None:
        raise DatasetError(f"{self._path}: a PathDataset is written by the node that loads it")

    def _exists(self) -> bool:
        return self._path is not None and self._path.exists()

    def _describe(self) -> dict[str, Any]:
        return {"location": None if self._path is None else str(self._path)}
