"""Kedro hooks of the project (Kedro's own hook system, not the plugin system)."""

from __future__ import annotations

import logging
from pathlib import Path

from kedro.framework.hooks import hook_impl

log = logging.getLogger(__name__)


class DemoDataHooks:
    """Write the embedded demo dataset before a run when the configured dataset is the demo and
    it is missing, so the main command needs no download."""

    @hook_impl
    def after_context_created(self, context) -> None:
        params = context.params
        ds = params.get("dataset") or {}
        path, demo = ds.get("path"), ds.get("demo_path", "data/01_raw/demo")
        if path and Path(path) == Path(demo) and not (Path(context.project_path) / demo /
                                                      "dataset.yaml").exists():
            from aixcell_automl.demo_data import ensure_demo_dataset

            out = ensure_demo_dataset(Path(context.project_path) / demo)
            log.info("wrote the synthetic demo dataset to %s", out)
