"""All meta-features of one dataset, with an on-disk cache.

:func:`extract_dataset_features` runs every registered meta-feature extractor
(:func:`aixcell_automl.plugins.registry.metafeature_extractors`) and merges their dicts. Each
extractor's result is cached as one JSON file in ``cache_dir`` (in the pipelines the catalog's
``meta_feature_cache``; ``None``: no cache), keyed by the dataset's content hash (class names
and every image and mask file's bytes), the extractor's name and version (for the built-in
radiomics extractor also a digest of the radiomics settings), and the values of the parameters
it declares. Changing a file of the dataset, bumping an extractor's ``version`` or changing one
of its parameters gives a new key; stale files are simply never read again (delete the folder
to reclaim the space).
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

def extractor_params(spec, params: Mapping | None) -> dict:
    """The parameters ``spec`` declares, valued from ``params`` or the declared defaults (what
    its ``extract`` receives and what enters its cache key)."""
    params = params or {}
    return {k: params.get(k, default) for k, default in spec.params.items()}


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
                             cache_dir: Path | str | None = None,
                             dataset_hash: str | None = None,
                             timings: dict[str, float] | None = None) -> dict:
    """Flat dict: ``dataset``, ``dataset_hash`` and every registered extractor's features.

    ``params`` holds the extractors' declared parameters (e.g. ``sample_size``/``seed`` of the
    radiomics sample) and ``cache_dir`` (overrides the argument; ``null`` disables caching).
    ``timings``, when given, receives the seconds each extractor took (about 0 on a cache hit).
    Every feature must carry its extractor's declared prefix.
    """
    from aixcell_automl.plugins.registry import metafeature_extractors

    params = dict(params or {})
    if "cache_dir" in params:
        cache_dir = params["cache_dir"]
    dataset_hash = dataset_hash or ds.content_hash()
    out: dict = {"dataset": ds.name, "dataset_hash": dataset_hash}
    for name, spec in metafeature_extractors().items():
        t0 = time.perf_counter()
        eparams = extractor_params(spec, params)
        key = cache_key(dataset_hash, name, spec.version, eparams)
        values = cached(cache_dir, key,
                        lambda spec=spec, eparams=eparams: {
                            k: float(v) for k, v in spec.extract(ds, **eparams).items()})
        if timings is not None:
            timings[name] = time.perf_counter() - t0
        stray = sorted(k for k in values if not k.startswith(spec.prefix))
        if stray:
            raise ValueError(f"extractor {name!r} returns names without its declared prefix "
                             f"{spec.prefix!r}: {stray[:5]}")
        out.update(values)
    return out


def image_radiomics_table(ds, params: Mapping | None = None,
                          cache_dir: Path | str | None = None,
                          dataset_hash: str | None = None):
    """Image-level radiomics vectors of the dataset's sample (rows = images, ``rad_*`` columns),
    cached like the extractors (key: content hash, ``radiomics_images``, settings, params).

    Computing it first also fills the in-process memo the ``radiomics`` extractor reads, so
    the sample is measured once per run.
    """
    import pandas as pd

    from aixcell_automl.metafeatures import radiomics
    from aixcell_automl.plugins.registry import get

    params = dict(params or {})
    if "cache_dir" in params:
        cache_dir = params["cache_dir"]
    eparams = extractor_params(get("metafeature_extractor", "radiomics"), params)
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
