"""Kedro hooks of the project (Kedro's own hook system, not the plugin system)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from kedro.framework.hooks import hook_impl

from aixcell_automl.core.errors import find_user_error

log = logging.getLogger(__name__)

TRACEBACK_ENV = "AIXCELL_AUTOML_TRACEBACK"  # set to 1: user errors keep their traceback


class DemoDataHooks:
    """Write the embedded demo dataset before a run when the configured dataset is the demo and
    it is missing, so the main command needs no download."""

    @hook_impl
    def after_context_created(self, context) -> None:
        ds = context.params["dataset"]  # conf/base/parameters.yml
        path, demo = ds["path"], ds["demo_path"]
        if path and Path(path) == Path(demo) and not (Path(context.project_path) / demo /
                                                      "dataset.yaml").exists():
            from aixcell_automl.core.demo_data import ensure_demo_dataset

            out = ensure_demo_dataset(Path(context.project_path) / demo)
            log.info("wrote the synthetic demo dataset to %s", out)


class UserErrorHooks:
    """A run that fails with a :class:`~aixcell_automl.core.errors.UserError` (bad dataset,
    parameter or file) ends with ``error: <message>`` and exit status 1 instead of a traceback;
    with ``AIXCELL_AUTOML_TRACEBACK=1`` the traceback is kept. Other exceptions are untouched.

    The error still propagates (callers of ``session.run`` get it); only the interpreter's last
    word on an uncaught exception, ``sys.excepthook``, is replaced for it."""

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params, pipeline, catalog) -> None:
        if find_user_error(error) is None or os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
            return
        previous = sys.excepthook

        def excepthook(exc_type, exc, tb) -> None:
            user = find_user_error(exc)
            if user is None:
                previous(exc_type, exc, tb)
            else:
                print(f"error: {user}", file=sys.stderr)

        sys.excepthook = excepthook
