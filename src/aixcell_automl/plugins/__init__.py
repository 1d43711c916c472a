"""Plugin system (pluggy, namespace ``aixcell_automl``)."""

import pluggy

hookimpl = pluggy.HookimplMarker("aixcell_automl")

__all__ = ["hookimpl"]
