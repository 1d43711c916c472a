# The two commands a newcomer types: `make search` (main job on the demo data) and `make test`.
# Both create/update .venv when pyproject files change, then run. Idempotent and fast when set up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLUGINS := plugins/aixcell-knn

.PHONY: install search test test-fast lint viz clean-venv

$(STAMP): pyproject.toml $(PLUGINS)/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip setuptools wheel numpy uv
	# pyradiomics 3.0.1 imports numpy in setup.py: build it without isolation, against .venv's numpy
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode \
		--no-build-isolation-package pyradiomics -e ".[dev]" -e $(PLUGINS)
	@touch $(STAMP)

install: $(STAMP)

search: install
	$(BIN)/kedro run --pipeline=search

# `make test` is the one command CI runs: ruff, then the whole suite in two test processes
# (pytest-xdist): the slow tests wait on subprocesses and Kedro sessions as much as they
# compute, so two share 2 cores well (docs/performance.md, docs/testing.md)
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist worksteal --durations=15

test: install
	$(BIN)/ruff check src tests plugins benchmarks
	$(PYTEST)

# the inner loop: everything not marked slow (no real model trained for long)
test-fast: install
	$(PYTEST) -m "not slow"

lint: install
	$(BIN)/ruff check src tests plugins benchmarks

viz: install
	$(BIN)/kedro viz build

clean-venv:
	rm -rf $(VENV)
