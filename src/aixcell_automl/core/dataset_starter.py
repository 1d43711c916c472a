"""A starter ``dataset.yaml`` for a new folder, guessed from its masks
(``aixcell-automl init-dataset``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from aixcell_automl.core.atomic import atomic_write_text
from aixcell_automl.core.dataset_reading import (
    LOSSY_SUFFIXES,
    list_images,
    looks_like_instances,
    read_mask,
)
from aixcell_automl.core.dataset_validation import DatasetError, _reason
from aixcell_automl.core.errors import UserError

_MAX_CLASSES = 256  # a label map with more classes is more likely something else


def starter_metadata(root: Path | str) -> tuple[dict, list[str]]:
    """``dataset.yaml`` fields guessed from a folder's ``masks/`` (class count and encoding),
    and notes saying how. 0/255 masks -> ``binary_255``; 0 and one other value above 1 ->
    ``binary_nonzero``; masks with more than 10 ids or ids above 255 that look like instances
    (see :func:`looks_like_instances`) -> ``instances``; otherwise label maps with classes
    0..max label, up to 255. Lossy (JPEG) and non-integer masks are refused."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, [f"{root}: dataset folder does not exist"])
    problems: list[str] = []
    files = list_images(root / "masks", problems, [])
    if not (root / "images").is_dir():
        problems.append(f"{root / 'images'}: folder is missing")
    if (root / "masks").is_dir() and not files:
        problems.append(f"{root / 'masks'}: no masks")
    masks = {}
    for stem, path in files.items():
        if path.suffix.lower() in LOSSY_SUFFIXES:
            problems.append(f"{path}: a JPEG mask; JPEG is lossy and changes label values: save "
                            f"masks as PNG or TIFF")
            continue
        try:
            masks[stem] = read_mask(path)
        except Exception as exc:  # noqa: BLE001 - any decoder error means "unreadable"
            problems.append(f"{path}: unreadable mask ({_reason(exc, path)})")
            continue
        if not np.issubdtype(masks[stem].dtype, np.integer):
            problems.append(f"{path}: mask dtype {masks[stem].dtype} is not an integer type")
    if problems:
        raise DatasetError(root, problems)
    values = {stem: np.unique(m) for stem, m in masks.items()}
    labels = sorted(set().union(*(v.tolist() for v in values.values())))
    if labels[-1] == 0:
        raise DatasetError(root, [f"{root / 'masks'}: no mask has a non-zero pixel, so there "
                                  f"are no classes to read from them"])
    ids_per_mask = max(np.count_nonzero(v) for v in values.values())
    instance_like = [looks_like_instances(masks[stem]) for stem, v in values.items()
                     if np.count_nonzero(v) >= 2]
    mostly_instances = bool(instance_like) and np.mean(instance_like) >= 0.8
    meta: dict = {"name": root.name}
    notes = []
    if set(labels) <= {0, 255}:
        meta |= {"class_names": ["background", "foreground"], "mask_encoding": "binary_255"}
        notes.append("masks hold only 0 and 255: read as background / foreground")
    elif len(labels) == 2 and labels[1] > 1:  # 0 and one value other than 1 or 255
        meta |= {"class_names": ["background", "foreground"], "mask_encoding": "binary_nonzero"}
        notes.append(f"masks hold only 0 and {labels[1]}: read as background / foreground")
    elif (ids_per_mask > 10 or labels[-1] > 255) and mostly_instances:
        meta |= {"class_names": ["background", "foreground"], "mask_encoding": "instances"}
        notes.append(f"masks hold up to {ids_per_mask} ids, each one connected object: read as "
                     f"instance labels (every object is 'foreground')")
    elif labels[-1] >= _MAX_CLASSES:
        raise DatasetError(root, [
            f"{root / 'masks'}: labels up to {labels[-1]} ({len(labels)} distinct values) read "
            f"as neither class labels (0..{_MAX_CLASSES - 1}), 0/255, 0 and one other "
            f"value, nor instance ids; write dataset.yaml by hand (docs/dataset_format.md)"])
    else:
        n = int(labels[-1]) + 1
        meta["class_names"] = (["background", "foreground"] if n == 2 else
                               ["background"] + [f"class_{c}" for c in range(1, n)])
        notes.append(f"labels {labels[:12]}{' ...' if len(labels) > 12 else ''}: {n} classes; "
                     f"rename them in class_names (index = label)")
        if n > 2 and mostly_instances:
            notes.append("each label is one connected object in most masks: if these are "
                         "object ids, use class_names [background, foreground] and "
                         "'mask_encoding: instances' instead")
    return meta, notes


def write_starter_yaml(root: Path | str, force: bool = False) -> tuple[Path, dict, list[str]]:
    """Write ``root/dataset.yaml`` from :func:`starter_metadata` (never over an existing one
    unless ``force``); returns the path, the fields and the notes."""
    root = Path(root)
    path = root / "dataset.yaml"
    if path.exists() and not force:
        raise UserError(f"{path} exists; not overwriting it (use --force to replace it)")
    meta, notes = starter_metadata(root)
    header = "".join(f"# {n}\n" for n in ["written by `aixcell-automl init-dataset`; check it",
                                           *notes])
    atomic_write_text(path, header + yaml.safe_dump(meta, sort_keys=False))
    return path, meta, notes
