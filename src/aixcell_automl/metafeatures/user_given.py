"""User-given meta-features (docs/method.md §4) from ``dataset.yaml``.

``technique`` and ``object_of_interest`` are free text; they are mapped onto small vocabularies by
regular-expression keywords (first match wins, in the order listed) with an ``other`` bucket,
then one-hot encoded.
``magnification`` becomes a number (0 when unknown) plus a known flag.
"""

from __future__ import annotations

import re

from aixcell_automl.core.dataset import parse_magnification

TECHNIQUES = {
    "other": ("mixed",),
    "electron": ("electron", r"\btem\b", r"\bsem\b", "sstem"),
    "histology": ("h&e", "histolog", "histopath", "stained tissue"),
    "fluorescence": ("fluoresc", "gfp", "hoechst", "dapi", "confocal"),
    "brightfield": ("brightfield", "bright-field", "phase", "cytolog", "smear"),
}
OBJECTS = {
    "ultrastructure": ("membrane", "mitochond", "neural", "organelle", "synap"),
    "organism": ("worm", "elegans", "organism", "embryo"),
    "nuclei": ("nucle",),
    "cells": ("cell", "cytoplasm", "sperm", "blood"),
}


def _bucket(text: str | None, vocab: dict[str, tuple[str, ...]]) -> str:
    t = (text or "").lower()
    for name, keys in vocab.items():
        if any(re.search(k, t) for k in keys):
            return name
    return "other"


def user_given_features(metadata: dict) -> dict[str, float]:
    """One-hot technique and object, magnification and its known flag."""
    tech = _bucket(metadata.get("technique"), TECHNIQUES)
    obj = _bucket(metadata.get("object_of_interest"), OBJECTS)
    mag = parse_magnification(metadata.get("magnification"))
    out = {f"ug_technique_{t}": float(tech == t) for t in {**TECHNIQUES, "other": ()}}
    out |= {f"ug_object_{o}": float(obj == o) for o in {**OBJECTS, "other": ()}}
    out["ug_magnification"] = mag or 0.0
    out["ug_magnification_known"] = float(mag is not None)
    return out
