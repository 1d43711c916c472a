import itertools

import numpy as np

from aixcell_automl.training.data_pipeline import (
    ImageSet,
    PatchStream,
    class_sampled_patches,
    grid_patches,
)


def _images():
    rng = np.random.default_rng(0)
    imgs = [rng.uniform(size=(40, 70, 1)).astype(np.float32),
            rng.uniform(size=(130, 96, 1)).astype(np.float32)]
    masks = [np.zeros((40, 70), np.uint8), np.zeros((130, 96), np.uint8)]
    masks[1][10:20, 10:20] = 1
    return ImageSet(imgs, masks, ["small", "big"])


def test_images_smaller_than_the_patch_are_padded_only_for_that_patch_size():
    ims = _images()
    padded = ims.padded(64)
    assert padded.images[0].shape == (64, 70, 1) and padded.masks[0].shape == (64, 70)
    assert padded.images[1] is ims.images[1]  # large enough: not copied
    idx = grid_patches(padded, 64)
    assert {tuple(r) for r in idx.rows if r[0] == 0} == {(0, 0, 0), (0, 0, 6)}


def test_rare_class_patches_are_upsampled():
    ims = _images().padded(32)
    index, summary = class_sampled_patches(ims, 32, 2, seed=0)
    grid = grid_patches(ims, 32)

    def with_class_1(rows):
        return sum(ims.masks[i][y:y + 32, x:x + 32].max() == 1 for i, y, x in rows)

    assert summary["factors"][1] == 2.0 and summary["factors"][0] < 1
    assert with_class_1(index.rows) == 2 * with_class_1(grid.rows)
    assert summary["patches_after"] == len(index.rows)


def test_stream_position_fully_determines_the_batches():
    ims = _images().padded(32)
    index, _ = class_sampled_patches(ims, 32, 2, seed=0)
    stream = PatchStream(ims, index, batch_size=4, seed=7, augment={"flip": 0.5})
    n = stream.batches_per_epoch
    run = list(itertools.islice(stream.batches(), n + 3))
    resumed = list(itertools.islice(stream.batches(epoch=1, batch=1), 2))
    for (xa, ya), (xb, yb) in zip(run[n + 1:n + 3], resumed, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_tensors_are_the_batches_with_one_hot_masks_from_the_same_position():
    ims = _images().padded(32)
    index, _ = class_sampled_patches(ims, 32, 2, seed=0)
    stream = PatchStream(ims, index, batch_size=4, seed=7, augment={"flip": 0.5})
    plain = list(itertools.islice(stream.batches(epoch=1, batch=1), 2))
    tensors = list(itertools.islice(stream.tensors(3, epoch=1, batch=1), 2))
    for (x, y), (tx, ty) in zip(plain, tensors, strict=True):
        assert tx.dtype.name == "float32" and ty.shape == (4, 32, 32, 3)
        np.testing.assert_array_equal(tx.numpy(), x)
        np.testing.assert_array_equal(ty.numpy().argmax(-1), y)
        assert ty.numpy().sum(-1).min() == 1  # one class per pixel
