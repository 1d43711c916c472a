"""aixcell-automl: meta-learning AutoML for semantic segmentation of cellular microscopy images.

Importing the package sets the environment that segmentation-models and TensorFlow need
(``SM_FRAMEWORK=tf.keras``, ``TF_USE_LEGACY_KERAS=1``) before TensorFlow is ever imported, so a
user never exports them by hand.
"""

from aixcell_automl import _env  # noqa: F401  (side effect: environment for TF/segmentation-models)

__version__ = "0.1.0"

from aixcell_automl.plugins import hookimpl  # noqa: E402

__all__ = ["__version__", "hookimpl"]
