"""Kedro dataset classes for the project's own artefacts (used from ``conf/base/catalog.yml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from aixcell_automl.core.dataset import IMAGE_SUFFIXES, load_dataset, read_image, read_mask
from aixcell_automl.core.errors import UserError


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
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"{folder}: no images found ({', '.join(IMAGE_SUFFIXES)})")
        if self._paths:
            return {p.stem: p for p in files}
        return {p.stem: read_mask(p) if self._labels else read_image(p) for p in files}

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
    """A saved segmentation model folder (``model.json`` + ``weights.h5``) as ``(model, info)``."""

    def __init__(self, path: str, metadata: dict | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def load(self):
        from aixcell_automl.training.model import load_model

        if not (self._path / "model.json").exists():
            raise UserError(f"{self._path}: no trained model here; run the 'train' or "
                            f"'search' pipeline first or set predict.model")
        return load_model(self._path)

    def save(self, data) -> None:
        from aixcell_automl.training.model import save_model

        model, info = data
        save_model(model, self._path, info)

    def _exists(self) -> bool:
        return (self._path / "model.json").exists()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


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
