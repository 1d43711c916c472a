"""Kedro project settings."""

from aixcell_automl.kedro_hooks import DemoDataHooks

HOOKS = (DemoDataHooks(),)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
