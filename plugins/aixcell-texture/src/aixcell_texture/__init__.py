"""Texture meta-features for aixcell-automl: a meta-feature extractor in one module.

Three numbers per dataset from a seeded sample of images (grey = mean of the channels,
normalised as for training): ``tex_edge_density`` (share of pixels whose Sobel gradient magnitude
exceeds 0.25), ``tex_grey_entropy`` (bits, 32-bin histogram) and ``tex_local_contrast`` (mean
3x3 local standard deviation). The prefix ``tex_`` makes them the representation family ``tex``:
the meta-learning study adds ``hp+tex`` and ``hp+hc+en+ug+rad_pca+en_rad+tex`` by itself, and a
search uses them with ``--params "search.representation=hp+hc+en+ug+rad_pca+en_rad+tex"``.
"""

import numpy as np

from aixcell_automl import hookimpl
from aixcell_automl.plugins.specs import MetaFeatureExtractor

EDGE_THRESHOLD = 0.25
BINS = 32


def image_texture(grey: np.ndarray) -> np.ndarray:
    """``[edge density, grey entropy, local contrast]`` of one grey image in [0, 1]."""
    from scipy import ndimage

    magnitude = np.hypot(ndimage.sobel(grey, 0), ndimage.sobel(grey, 1)) / 4
    hist = np.histogram(grey, BINS, (0.0, 1.0))[0] / grey.size
    hist = hist[hist > 0]
    mean = ndimage.uniform_filter(grey, 3)
    local_sd = np.sqrt(np.clip(ndimage.uniform_filter(grey**2, 3) - mean**2, 0, None))
    return np.array([(magnitude > EDGE_THRESHOLD).mean(), -(hist * np.log2(hist)).sum(),
                     local_sd.mean()])


def texture_features(ds, sample_size: int, seed: int) -> dict[str, float]:
    """Mean texture of a seeded sample of ``sample_size`` images (all when fewer)."""
    from aixcell_automl.core.normalization import normalize_image

    n = len(ds)
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(n, size=min(sample_size, n), replace=False))
    values = np.mean([image_texture(normalize_image(ds.image(int(i))).mean(-1).astype(float))
                      for i in picked], axis=0)
    return dict(zip(("tex_edge_density", "tex_grey_entropy", "tex_local_contrast"),
                    map(float, values), strict=True))


@hookimpl
def register_metafeature_extractors():
    return [MetaFeatureExtractor("texture", texture_features, "tex_", version="1",
                                 params={"sample_size": 8, "seed": 0})]
