"""The project's own parameters (conf/base), for tests that call library code outside Kedro."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PARAMETERS = yaml.safe_load((REPO / "conf" / "base" / "parameters.yml").read_text())
SPACE: dict[str, list] = PARAMETERS["search_space"]
