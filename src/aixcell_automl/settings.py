"""Kedro project settings."""

import datetime as _dt

from aixcell_automl.kedro_hooks import DemoDataHooks, UserErrorHooks
from aixcell_automl.metabase.ladder import FIRST_FIDELITY

HOOKS = (DemoDataHooks(), UserErrorHooks())

_RUN_ID = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # ${run_id:} names this run's report folder (data/08_reporting/search/<run_id>/)
    # ${metabase_fidelity_pixels:}: the meta-base's first fidelity (globals.yml)
    "custom_resolvers": {"run_id": lambda: _RUN_ID,
                         "metabase_fidelity_pixels": lambda: FIRST_FIDELITY},
}
