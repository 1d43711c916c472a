"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
from pathlib import Path


def atomic_write_text(path: Path | str, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically: see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def atomic_write_json(path: Path | str, obj, indent: int | None = 1) -> Path:
    """:func:`atomic_write_text` of ``obj`` as JSON (floats for NumPy scalars)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=float))
