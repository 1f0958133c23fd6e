# Plaudit: `make demo` to see it work, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
# Bytecode up front, as a wheel install has it (an editable install under PYTHONDONTWRITEBYTECODE has none).
COMPILE := $(BIN)/python -m compileall -q collector/plaudit_collector sdk/plaudit >/dev/null

.DEFAULT_GOAL := help
.PHONY: help install demo test bench lint format all

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[collector]'
	@$(COMPILE)
	@touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@$(COMPILE)
	@touch $@ $(STAMP_RUN)

install: $(STAMP_DEV) ## create .venv and install Plaudit with the collector and dev tools

demo: $(STAMP_RUN) ## start a collector, run the example app, print the leaderboard
	$(BIN)/plaudit demo --no-keep-serving

test: $(STAMP_DEV) ## run the whole test suite (SQLite and PostgreSQL)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP_DEV) ## run the benchmarks and print their figures
	$(BIN)/python bench/run.py

lint: $(STAMP_DEV) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP_DEV) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

all: lint test ## lint, then test
