"""Optical (radiomics) meta-features (docs/method.md §4, thesis §4.6.3).

Per image of a seeded sample (``sample_size`` images, all when the dataset has fewer):

1. the image is turned grey (mean over channels) and rescaled to ``0..255`` (float, per image:
   the 1st..99.8th percentile range, clipped, so that a few saturated pixels do not squash the
   cells into one or two grey levels; a constant image becomes all zeros);
2. every foreground class of the mask is split into connected regions (8-connectivity). Regions
   smaller than :data:`MIN_ROI_PIXELS` pixels are skipped (too small for texture or shape);
3. at most :data:`MAX_ROIS_PER_IMAGE` regions are kept: the largest of each class, taken round-robin
   over the classes (so a rare class is not crowded out by a frequent one), ties broken by label
   order. A region whose bounding box exceeds :data:`MAX_ROI_BOX_PIXELS` is measured on a centred
   crop of that size (texture and intensity are local; shape is then that of the crop);
4. pyradiomics (first order, GLCM, GLRLM, GLSZM, 2-D shape; fixed bin width, ``force2D``) measures
   each region on its bounding-box crop; non-finite values become NaN;
5. the region values are averaged per image (NaN ignored), the images per dataset (NaN ignored);
   features with no finite value are dropped from the dataset vector.

Keys are ``rad_<class>_<feature>``, e.g. ``rad_firstorder_Mean``. Everything is deterministic.

Across datasets, :class:`RadiomicsSpace` z-scores each feature (constant features -> 0), projects
on 4 principal components (``rad_pca_1..4``) and gives the cosine similarity of a dataset vector to
every meta-base dataset (``sim_<dataset>``); it also places an unseen dataset in that space.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

FEATURE_CLASSES = ("firstorder", "glcm", "glrlm", "glszm", "shape2D")
BIN_WIDTH = 8.0  # on the 0..255 grey scale: at most 32 grey levels per region
MIN_ROI_PIXELS = 4
MAX_ROIS_PER_IMAGE = 30
MAX_ROI_BOX_PIXELS = 256 * 256
GREY_PERCENTILES = (1.0, 99.8)  # robust grey range: a few saturated pixels must not squash it
PREFIX = "rad_"
SETTINGS = {  # pyradiomics settings + this module's own (all enter the cache keys)
    "binWidth": BIN_WIDTH, "force2D": True, "force2Ddimension": 0, "additionalInfo": False,
    "minimumROIDimensions": 1, "minimumROISize": 1, "label": 1,
    "algorithm": 2, "grey_percentiles": GREY_PERCENTILES, "min_roi_pixels": MIN_ROI_PIXELS,
    "max_rois": MAX_ROIS_PER_IMAGE, "max_box": MAX_ROI_BOX_PIXELS,
}

DEFAULT_JOBS = 2  # worker processes for the image sample (capped by the CPU count)

_OWN_SETTINGS = ("algorithm", "grey_percentiles", "min_roi_pixels", "max_rois", "max_box")
_MEMO: OrderedDict = OrderedDict()  # image tables of recent calls (the pipeline asks twice)
_MEMO_SIZE = 16


SAMPLING_RULE = "stratified by channel count"  # see sample_indices; part of the cache keys


def settings_digest() -> str:
    """Short digest of everything that changes the numbers (enters the cache keys)."""
    import hashlib

    rules = repr(sorted(SETTINGS.items())) + SAMPLING_RULE
    return hashlib.sha256(rules.encode()).hexdigest()[:8]


def version() -> str:
    """The radiomics extractor's version: code version + settings digest, so that tuning this
    module never serves stale cache entries."""
    return f"1-{settings_digest()}"


def _quiet_radiomics() -> None:
    import radiomics

    radiomics.setVerbosity(60)
    logging.getLogger("radiomics").setLevel(logging.ERROR)


def _extractor():
    from radiomics import featureextractor

    _quiet_radiomics()
    settings = {k: v for k, v in SETTINGS.items() if k not in _OWN_SETTINGS}
    ext = featureextractor.RadiomicsFeatureExtractor(**settings)
    ext.disableAllFeatures()
    for c in FEATURE_CLASSES:
        ext.enableFeatureClassByName(c)
    return ext


@contextlib.contextmanager
def _fast_bin_edges():
    """pyradiomics 3.0.1 ``getBinEdges`` takes the minimum and maximum of the region's values with
    Python's builtin ``min``/``max`` (a Python-level loop, ~15 % of the run time here); hand it
    just the two extremes instead. The bin edges are identical; the patch is undone on exit."""
    from radiomics import imageoperations

    original = imageoperations.getBinEdges

    def get_bin_edges(values, **kwargs):
        if kwargs.get("binCount") is None and np.size(values) > 2:
            values = np.array([np.min(values), np.max(values)])
        return original(values, **kwargs)

    imageoperations.getBinEdges = get_bin_edges
    try:
        yield
    finally:
        imageoperations.getBinEdges = original


def to_grey_255(image: np.ndarray) -> np.ndarray:
    """Mean over channels, then the 1st..99.8th percentile range mapped onto ``0..255`` (float64,
    clipped; min..max when those percentiles coincide; all zeros for a constant image)."""
    g = np.asarray(image, dtype=np.float64)
    if g.ndim == 3:
        g = g.mean(axis=-1)
    lo, hi = (float(v) for v in np.percentile(g, GREY_PERCENTILES))
    if hi <= lo:
        lo, hi = float(g.min()), float(g.max())
    if hi <= lo:
        return np.zeros_like(g)
    return np.clip((g - lo) * (255.0 / (hi - lo)), 0.0, 255.0)


Roi = tuple[int, tuple[slice, ...], np.ndarray]


def select_rois(mask: np.ndarray, num_classes: int, max_rois: int = MAX_ROIS_PER_IMAGE,
                min_pixels: int = MIN_ROI_PIXELS) -> list[Roi]:
    """Connected regions (8-connectivity) of the foreground classes, capped as the module says.

    Returns ``(class, bounding-box slices, boolean region mask inside the box)`` per region.
    """
    per_class = []
    for c in range(1, num_classes):
        labels, n = ndimage.label(mask == c, structure=np.ones((3, 3)))
        if not n:
            continue
        areas = np.bincount(labels.ravel())[1:]
        order = [k for k in np.argsort(-areas, kind="stable") if areas[k] >= min_pixels]
        if order:
            per_class.append((c, labels, ndimage.find_objects(labels), order))
    chosen: list[Roi] = []
    depth = 0
    while len(chosen) < max_rois and any(depth < len(o) for *_, o in per_class):
        for c, labels, boxes, order in per_class:
            if depth < len(order) and len(chosen) < max_rois:
                k = order[depth]
                box = _limit_box(boxes[k], MAX_ROI_BOX_PIXELS)
                chosen.append((c, box, labels[box] == k + 1))
        depth += 1
    return chosen


def _limit_box(box: tuple[slice, slice], max_pixels: int) -> tuple[slice, slice]:
    h, w = box[0].stop - box[0].start, box[1].stop - box[1].start
    if h * w <= max_pixels:
        return box
    side = int(np.sqrt(max_pixels))
    nh, nw = min(h, side), min(w, side)
    if nh * nw < max_pixels:  # elongated box: give the spare pixels to the long side
        nh, nw = (min(h, max_pixels // nw), nw) if h > w else (nh, min(w, max_pixels // nh))
    y0 = box[0].start + (h - nh) // 2
    x0 = box[1].start + (w - nw) // 2
    return slice(y0, y0 + nh), slice(x0, x0 + nw)


def roi_features(grey: np.ndarray, region: np.ndarray, extractor=None) -> dict[str, float]:
    """pyradiomics features of one region (``region`` is a boolean mask the size of ``grey``)."""
    import SimpleITK as sitk

    ext = extractor or _extractor()
    grey = np.pad(grey, 1, mode="edge")  # a 1-pixel rim so that shape sees the border
    region = np.pad(region, 1)
    im = sitk.GetImageFromArray(grey[None].astype(np.float32))
    mk = sitk.GetImageFromArray(region[None].astype(np.uint8))
    out = {}
    for key, value in ext.execute(im, mk).items():
        if key.startswith("original_"):
            v = float(value)
            out[PREFIX + key[len("original_"):]] = v if np.isfinite(v) else np.nan
    return out


def image_radiomics(image: np.ndarray, mask: np.ndarray, num_classes: int,
                    extractor=None) -> dict[str, float] | None:
    """Mean over the image's (capped) regions; ``None`` when it has no region."""
    rois = select_rois(mask, num_classes)
    if not rois:
        return None
    ext = extractor or _extractor()
    grey = to_grey_255(image)
    with _fast_bin_edges():
        rows = [roi_features(grey[box], region, ext) for _, box, region in rois]
    with np.errstate(all="ignore"):
        frame = pd.DataFrame(rows)
        return {k: float(v) for k, v in frame.mean(axis=0, skipna=True).items()}


def sample_indices(n: int, sample_size: int | None, seed: int = 0,
                   strata: list | None = None) -> list[int]:
    """Seeded, sorted sample of ``sample_size`` indices out of ``n`` (all when fewer).

    With ``strata`` (one label per index, e.g. the channel count) and more than one stratum, the
    sample is stratified: each stratum gets its proportional share (largest remainders, at least
    one image), so a dataset mixing grey and colour images is sampled in that mix."""
    if sample_size is None or sample_size >= n:
        return list(range(n))
    rng = np.random.default_rng(seed)
    groups: dict = {}
    for i, s in enumerate(strata or [0] * n):
        groups.setdefault(s, []).append(i)
    if len(groups) == 1:
        return sorted(int(i) for i in rng.choice(n, size=int(sample_size), replace=False))
    keys = sorted(groups, key=str)
    share = np.array([len(groups[k]) for k in keys]) * sample_size / n
    take = np.maximum(np.floor(share).astype(int), 1)
    for j in np.argsort(-(share - np.floor(share))):
        if take.sum() >= sample_size:
            break
        take[j] += 1
    out = []
    for k, t in zip(keys, take, strict=True):
        out += [int(i) for i in rng.choice(groups[k], size=min(int(t), len(groups[k])),
                                           replace=False)]
    return sorted(out)


def image_strata(ds) -> list[int]:
    """Channel count of every image (the strata of the radiomics sample)."""
    return [ds.image(i).shape[-1] for i in range(len(ds))]


def _memo_key(ds, sample_size, seed) -> tuple:
    files = tuple((s.stem, s.image_path.stat().st_size, s.image_path.stat().st_mtime_ns,
                   s.mask_path.stat().st_size, s.mask_path.stat().st_mtime_ns)
                  for s in ds.samples)
    return (str(ds.root), files, ds.num_classes, sample_size, seed, repr(sorted(SETTINGS.items())))


_WORKER_EXTRACTOR = None


def _image_job(job) -> dict[str, float] | None:
    from aixcell_automl.core.dataset import read_image, read_mask

    global _WORKER_EXTRACTOR
    if _WORKER_EXTRACTOR is None:
        _WORKER_EXTRACTOR = _extractor()
    image_path, mask_path, num_classes, mask_encoding = job
    return image_radiomics(read_image(image_path), read_mask(mask_path, mask_encoding),
                           num_classes, _WORKER_EXTRACTOR)


def radiomics_image_table(ds, sample_size: int | None = 20, seed: int = 0,
                          n_jobs: int | None = None) -> pd.DataFrame:
    """One row of region-averaged radiomics per sampled image that has foreground (index =
    image stem, columns ``rad_*``, NaN where a feature had no finite value).

    The images are measured by ``n_jobs`` worker processes (default :data:`DEFAULT_JOBS`, at most
    the CPU count; forked, Linux only); the result does not depend on ``n_jobs``."""
    key = _memo_key(ds, sample_size, seed)
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key].copy()
    idx = sample_indices(len(ds), sample_size, seed, image_strata(ds))
    jobs = [(ds.samples[i].image_path, ds.samples[i].mask_path, ds.num_classes,
             ds.mask_encoding) for i in idx]
    n_jobs = min(DEFAULT_JOBS if n_jobs is None else int(n_jobs), os.cpu_count() or 1, len(jobs))
    if n_jobs > 1 and sys.platform == "linux":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context("fork")) as ex:
            results = list(ex.map(_image_job, jobs))  # in sample order: deterministic
    else:
        results = [_image_job(j) for j in jobs]
    rows = [r for r in results if r is not None]
    stems = [ds.samples[i].stem for i, r in zip(idx, results, strict=True) if r is not None]
    table = pd.DataFrame(rows, index=pd.Index(stems, name="image"), dtype=float)
    table = table.reindex(columns=sorted(table.columns))
    remember(ds, sample_size, seed, table)
    return table.copy()


def remember(ds, sample_size: int | None, seed: int, table: pd.DataFrame) -> None:
    """Put an image table into the in-process memo (e.g. one read from a cache file)."""
    _MEMO[_memo_key(ds, sample_size, seed)] = table.copy()
    _MEMO.move_to_end(_memo_key(ds, sample_size, seed))
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)


def dataset_vector(image_table: pd.DataFrame) -> dict[str, float]:
    """Mean over images (NaN ignored); features without a finite value are dropped."""
    if image_table.empty:
        return {}
    with np.errstate(all="ignore"):
        mean = image_table.mean(axis=0, skipna=True)
    return {k: float(v) for k, v in mean.items() if np.isfinite(v)}


def radiomics_features(ds, sample_size: int | None = 20, seed: int = 0) -> dict[str, float]:
    """The dataset's radiomics vector (``rad_*``) from a seeded sample of images."""
    return dataset_vector(radiomics_image_table(ds, sample_size, seed))


# --- across datasets -------------------------------------------------------------------------

def raw_radiomics_columns(columns) -> list[str]:
    """The raw ``rad_*`` feature columns (not the derived ``rad_pca_*``)."""
    return [c for c in columns if c.startswith(PREFIX) and not c.startswith(PREFIX + "pca_")]


def normalize_table(df: pd.DataFrame, stats: pd.DataFrame | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature-wise z-score (population std); constant columns and missing values become 0.

    Returns the normalised frame and the stats (rows ``mean``, ``std``; ``std`` is 0 for constant
    columns). Pass ``stats`` to apply stats fitted elsewhere (columns are aligned to them).
    """
    df = df.astype(float).replace([np.inf, -np.inf], np.nan)
    if stats is None:
        mean = df.mean(axis=0, skipna=True).fillna(0.0)
        std = df.std(axis=0, ddof=0, skipna=True).fillna(0.0)
        std[std <= 1e-12 * np.maximum(mean.abs(), 1.0)] = 0.0
        stats = pd.DataFrame({"mean": mean, "std": std}).T
    df = df.reindex(columns=stats.columns)
    std = stats.loc["std"]
    z = (df - stats.loc["mean"]) / std.where(std > 0, 1.0)
    z.loc[:, std <= 0] = 0.0
    return z.fillna(0.0), stats


def cosine_similarity_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of the rows of ``a`` with the rows of ``b`` (0 for a zero vector)."""
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        s = (a @ b.T) / (na * nb.T)
    return np.clip(np.nan_to_num(s, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)


@dataclass
class RadiomicsSpace:
    """Normalisation, PCA and reference vectors fitted on the meta-base datasets."""

    stats: pd.DataFrame          # rows mean/std, one column per raw feature
    reference: pd.DataFrame      # normalised meta-base vectors (index = dataset)
    center: np.ndarray           # mean of ``reference`` (PCA centring)
    components: np.ndarray       # (n_components, n_features); zero rows when rank-deficient
    n_components: int = 4

    @classmethod
    def fit(cls, table: pd.DataFrame, n_components: int = 4) -> RadiomicsSpace:
        """Fit on a table with one row per dataset (index = name) and raw ``rad_*`` columns
        (other columns are ignored)."""
        raw = table[raw_radiomics_columns(table.columns)]
        z, stats = normalize_table(raw)
        x = z.to_numpy(float)
        center = x.mean(axis=0)
        comps = np.zeros((n_components, x.shape[1]))
        if x.shape[0] > 1 and x.shape[1]:
            _, s, vt = np.linalg.svd(x - center, full_matrices=False)
            k = min(n_components, int((s > 1e-10 * max(s.max(), 1e-300)).sum()))
            for i in range(k):  # sign convention: largest loading positive
                v = vt[i]
                comps[i] = v if v[np.argmax(np.abs(v))] >= 0 else -v
        return cls(stats=stats, reference=z, center=center, components=comps,
                   n_components=n_components)

    @classmethod
    def from_meta_features(cls, meta_features: pd.DataFrame, n_components: int = 4
                           ) -> RadiomicsSpace:
        """Fit on the committed ``meta_features.csv`` table (column ``dataset`` or the index)."""
        t = meta_features.set_index("dataset") if "dataset" in meta_features else meta_features
        return cls.fit(t, n_components)

    def normalised(self, table: pd.DataFrame) -> pd.DataFrame:
        """Raw-feature rows z-scored with the meta-base stats (missing features -> 0)."""
        return normalize_table(table, self.stats)[0]

    def _normalise(self, table: pd.DataFrame) -> np.ndarray:
        return self.normalised(table).to_numpy(float)

    def pca(self, table: pd.DataFrame) -> pd.DataFrame:
        """``rad_pca_1..n`` of the rows of a raw-feature table."""
        p = (self._normalise(table) - self.center) @ self.components.T
        return pd.DataFrame(p, index=table.index,
                            columns=[f"{PREFIX}pca_{i + 1}" for i in range(self.n_components)])

    def similarity(self, table: pd.DataFrame) -> pd.DataFrame:
        """``sim_<dataset>``: cosine similarity of each row to each meta-base dataset."""
        s = cosine_similarity_matrix(self._normalise(table), self.reference.to_numpy(float))
        return pd.DataFrame(s, index=table.index,
                            columns=[f"sim_{d}" for d in self.reference.index])

    def transform(self, vector: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        """Place one (possibly unseen) dataset vector: ``(pca dict, similarity dict)``.
        Features missing from ``vector`` count as the meta-base mean."""
        row = pd.DataFrame([{k: vector[k] for k in self.stats.columns if k in vector}],
                           index=["new"])
        return ({k: float(v) for k, v in self.pca(row).iloc[0].items()},
                {k: float(v) for k, v in self.similarity(row).iloc[0].items()})
