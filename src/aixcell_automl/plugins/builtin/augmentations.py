"""Built-in augmentations (docs/method.md §1): flip, brightness + Gaussian blur, grid distortion."""

from __future__ import annotations

from aixcell_automl.plugins import hookimpl
from aixcell_automl.plugins.specs import Augmentation


def _flip(p: float):
    import albumentations as A

    return A.OneOf([A.HorizontalFlip(p=1.0), A.VerticalFlip(p=1.0), A.Transpose(p=1.0)], p=p)


def _brightness_blur(p: float):
    import albumentations as A

    return A.Sequential(
        [
            A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.0, p=1.0),
            A.GaussianBlur(blur_limit=(3, 5), p=1.0),
        ],
        p=p,
    )


def _grid_distortion(p: float):
    import albumentations as A

    return A.GridDistortion(num_steps=5, distort_limit=0.3, p=p)


@hookimpl
def register_augmentations():
    return [
        Augmentation("flip", _flip),
        Augmentation("brightness_blur", _brightness_blur),
        Augmentation("grid_distortion", _grid_distortion),
    ]
