# Two entry points for a fresh machine (see README.md):
#   make conformance   run the conformance suites against the embedded reference targets
#   make test          run the project's own tests, lint and type checks
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv test unit lint types conformance bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: lint types unit

unit: $(STAMP)
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests suites conftest.py benchmarks

types: $(STAMP)
	$(BIN)/mypy --strict src

conformance: $(STAMP)
	$(BIN)/python -m pytest suites $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
