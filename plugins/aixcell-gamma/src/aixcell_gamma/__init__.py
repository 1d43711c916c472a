"""Random gamma as an aixcell-automl augmentation: an augmentation in one module.

Microscopy intensities are often far from linear (camera gamma, saturation, stains); a random
gamma in [0.7, 1.5] teaches the model not to depend on one contrast curve. The plugin registers
the augmentation and adds it to the search space as a new dimension ``gamma`` with the
probabilities 0 and 0.5, so every configuration exists with and without it.
"""

from aixcell_automl import hookimpl
from aixcell_automl.plugins.specs import Augmentation

GAMMA_LIMIT = (70, 150)  # albumentations' unit: gamma x 100


def random_gamma(p: float):
    """The albumentations transform, applied with probability ``p``."""
    import albumentations as A

    return A.RandomGamma(gamma_limit=GAMMA_LIMIT, p=p)


@hookimpl
def register_augmentations():
    return [Augmentation("gamma", random_gamma)]


@hookimpl
def extend_search_space():
    return {"gamma": [0.0, 0.5]}
