"""Node functions of the ``meta_features`` pipeline on tiny in-memory inputs."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from aixcell_automl.pipelines.meta_features import create_pipeline  # noqa: E402
from aixcell_automl.pipelines.meta_features.nodes import (  # noqa: E402
    add_radiomics_space,
    extract_meta_features,
    image_embedding,
    order_columns,
    plot_image_embedding,
    plot_similarity_heatmap,
)


def _raw(n=5, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.DataFrame({"dataset": [f"d{i}" for i in range(n)],
                      "dataset_hash": [f"h{i}" for i in range(n)],
                      "rad_glcm_Contrast": rng.normal(size=n) * 100,
                      "rad_firstorder_Mean": rng.normal(size=n),
                      "ug_magnification": 0.0,
                      "hc_n_images": rng.integers(1, 50, n).astype(float),
                      "rad_shape2D_Elongation": rng.normal(size=n)})
    return t


def test_add_radiomics_space_columns_and_self_similarity():
    out = add_radiomics_space(_raw(), {"n_components": 4})
    assert list(out.columns) == [
        "dataset", "dataset_hash", "hc_n_images", "ug_magnification", "rad_firstorder_Mean",
        "rad_glcm_Contrast", "rad_shape2D_Elongation", "rad_pca_1", "rad_pca_2", "rad_pca_3",
        "rad_pca_4", "sim_d0", "sim_d1", "sim_d2", "sim_d3", "sim_d4"]
    sim = out[[f"sim_d{i}" for i in range(5)]].to_numpy()
    np.testing.assert_allclose(np.diag(sim), 1.0)
    assert (out["rad_pca_4"] == 0).all()  # 3 features: rank 3 at most


def test_order_columns_puts_families_in_order():
    t = pd.DataFrame(columns=["sim_a", "rad_b", "hc_x", "dataset", "rad_pca_1", "ug_y", "zz",
                              "dataset_hash", "rad_a"])
    assert list(order_columns(t).columns) == ["dataset", "dataset_hash", "hc_x", "ug_y", "zz",
                                              "rad_a", "rad_b", "rad_pca_1", "sim_a"]


def _image_table():
    rng = np.random.default_rng(1)
    rows = []
    for d, shift in (("a", 0.0), ("b", 5.0)):
        for i in range(4):
            rows.append({"dataset": d, "image": f"{d}{i}", "rad_x": shift + rng.normal(),
                         "rad_y": 1000 * rng.normal(), "rad_const": 1.0})
    return pd.DataFrame(rows)


def test_image_embedding_and_plots():
    emb = image_embedding(_image_table())
    assert set(emb) == {"raw", "normalised"}
    for e in emb.values():
        assert list(e.columns) == ["dataset", "pc1", "pc2"] and len(e) == 8
    z = emb["normalised"]  # after z-scoring, the dataset shift is a principal direction
    gap = abs(z[z.dataset == "a"][["pc1", "pc2"]].mean() - z[z.dataset == "b"][["pc1", "pc2"]]
              .mean()).max()
    assert gap > 1.0
    import matplotlib.pyplot as plt

    fig = plot_image_embedding(_image_table())
    for ax, e in zip(fig.axes[:2], emb.values(), strict=True):  # one scatter per dataset
        for points, d in zip(ax.collections, ("a", "b"), strict=True):
            np.testing.assert_allclose(points.get_offsets(),
                                       e[e.dataset == d][["pc1", "pc2"]].to_numpy())
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["a", "b"]
    plt.close(fig)
    space = add_radiomics_space(_raw(), {"n_components": 4})
    fig = plot_similarity_heatmap(space)
    shown = fig.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(shown, 1 - space[[f"sim_d{i}" for i in range(5)]].to_numpy())
    np.testing.assert_allclose(np.diag(shown), 0.0, atol=1e-12)  # a dataset is itself
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [f"d{i}" for i in range(5)]
    plt.close(fig)


def test_extract_meta_features_on_a_tiny_dataset(tmp_path):
    from aixcell_automl.core.demo_data import write_demo_dataset

    write_demo_dataset(tmp_path / "tiny", n_images=2, size=48, seed=2)
    raw, images = extract_meta_features(tmp_path, None, {"datasets": ["tiny"], "sample_size": 2,
                                                         "seed": 0, "cache": False})
    assert list(raw["dataset"]) == ["demo_synthetic_cells"] and raw["hc_n_images"][0] == 2
    assert list(images.columns[:2]) == ["dataset", "image"] and len(images) == 2
    assert [c for c in images.columns[2:] if not c.startswith("rad_")] == []


def test_pipeline_wiring():
    p = create_pipeline()
    assert p.inputs() == {"params:meta_features", "shared_datasets", "meta_feature_cache"}
    assert p.all_outputs() == {"meta_features_raw", "meta_features", "image_radiomics",
                               "meta_features_embedding_plot", "meta_features_similarity_plot"}


@pytest.mark.parametrize("n", [1, 2])
def test_add_radiomics_space_with_few_datasets(n):
    out = add_radiomics_space(_raw(n), {"n_components": 4})
    assert len(out) == n and np.isfinite(out.filter(like="rad_pca_").to_numpy()).all()
