"""All meta-features of one dataset, with an on-disk cache.

:func:`extract_dataset_features` runs every registered meta-feature extractor
(:func:`aixcell_automl.plugins.registry.metafeature_extractors`) and merges their dicts. Each
extractor's result is cached as one JSON file in ``cache_dir`` (default
:data:`DEFAULT_CACHE_DIR`), keyed by the dataset's content hash (class names and every image and
mask file's bytes), the extractor's name and version (for the built-in radiomics extractor
also a digest of the radiomics settings), and the parameters. Changing a file of the
dataset, bumping an extractor's ``version`` or changing a parameter gives a new key; stale files are
simply never read again (delete the folder to reclaim the space).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = Path("data/02_intermediate/meta_feature_cache")
EXTRACTOR_PARAMS = ("sample_size", "seed")  # the parameters passed on to the extractors


def extractor_params(params: Mapping | None) -> dict:
    """The subset of ``params`` the extractors see (and that enters the cache key)."""
    params = params or {}
    out = {"sample_size": 20, "seed": 0}
    out |= {k: params[k] for k in EXTRACTOR_PARAMS if k in params}
    return out


def cache_key(dataset_hash: str, name: str, version: str, params: Mapping) -> str:
    """File stem of a cache entry: readable prefix + digest of everything that matters."""
    blob = json.dumps({"dataset_hash": dataset_hash, "extractor": name, "version": str(version),
                       "params": dict(params)}, sort_keys=True, default=str)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    return f"{dataset_hash}_{safe}_v{version}_{digest}"


def cached(cache_dir: Path | str | None, key: str, compute: Callable[[], dict]) -> dict:
    """Read ``cache_dir/key.json`` or compute, write (atomically) and return it.
    ``cache_dir=None`` switches caching off."""
    if cache_dir is None:
        return compute()
    path = Path(cache_dir) / f"{key}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text())["value"]
        except (ValueError, KeyError) as exc:
            log.warning("ignoring unreadable cache file %s (%s)", path, exc)
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "value": value}, indent=1, sort_keys=True))
    tmp.replace(path)
    return value


def extract_dataset_features(ds, params: Mapping | None = None,
                             cache_dir: Path | str | None = DEFAULT_CACHE_DIR,
                             dataset_hash: str | None = None,
                             timings: dict[str, float] | None = None) -> dict:
    """Flat dict: ``dataset``, ``dataset_hash`` and every registered extractor's features.

    ``params`` may hold ``sample_size``/``seed`` (radiomics sample) and ``cache_dir`` (overrides the
    argument; ``null`` disables caching). ``timings``, when given, receives the seconds each
    extractor took (about 0 on a cache hit).
    """
    from aixcell_automl.plugins.registry import metafeature_extractors

    params = dict(params or {})
    if "cache_dir" in params:
        cache_dir = params["cache_dir"]
    eparams = extractor_params(params)
    dataset_hash = dataset_hash or ds.content_hash()
    out: dict = {"dataset": ds.name, "dataset_hash": dataset_hash}
    for name, spec in metafeature_extractors().items():
        t0 = time.perf_counter()
        key = cache_key(dataset_hash, name, spec.version, eparams)
        values = cached(cache_dir, key,
                        lambda spec=spec: {k: float(v)
                                           for k, v in spec.extract(ds, **eparams).items()})
        if timings is not None:
            timings[name] = time.perf_counter() - t0
        clash = set(values) & set(out)
        if clash:
            raise ValueError(f"extractor {name!r} returns names already used: {sorted(clash)}")
        out.update(values)
    return out


def image_radiomics_table(ds, params: Mapping | None = None,
                          cache_dir: Path | str | None = DEFAULT_CACHE_DIR,
                          dataset_hash: str | None = None):
    """Image-level radiomics vectors of the dataset's sample (rows = images, ``rad_*`` columns),
    cached like the extractors (key: content hash, ``radiomics_images``, settings, params).

    Computing it first also fills the in-process memo the ``radiomics`` extractor reads, so
    the sample is measured once per run.
    """
    import pandas as pd

    from aixcell_automl.metafeatures import radiomics

    params = dict(params or {})
    if "cache_dir" in params:
        cache_dir = params["cache_dir"]
    eparams = extractor_params(params)
    key = cache_key(dataset_hash or ds.content_hash(), "radiomics_images", radiomics.version(),
                    eparams)

    def compute() -> dict:
        t = radiomics.radiomics_image_table(ds, eparams["sample_size"], eparams["seed"])
        return {"index": list(t.index), "columns": list(t.columns),
                "data": [[None if v != v else float(v) for v in row] for row in t.to_numpy()]}

    d = cached(cache_dir, key, compute)
    frame = pd.DataFrame(d["data"], index=pd.Index(d["index"], name="image"),
                         columns=d["columns"], dtype=float)
    radiomics.remember(ds, eparams["sample_size"], eparams["seed"], frame)
    return frame
