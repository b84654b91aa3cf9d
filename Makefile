# Two entry points for a fresh machine (see README.md):
#   make conformance   run the conformance suites against the embedded reference targets
#   make test          run the project's own tests, lint and type checks
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
JOBS ?= 2

.PHONY: venv test unit suites-variants lint types conformance report-screenshots selfcheck mutate bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: lint types unit suites-variants

# The project's own tests, and the suites against the reference targets (CI proves they
# conform); reports are left to `make conformance`.
unit: $(STAMP)
	$(BIN)/python -m pytest tests suites -n $(JOBS) --no-report $(PYTEST_ARGS)

# The reference CA's optional paths: S/MIME-signed challenges, and a token-part1 length
# where the two concatenation readings differ (docs/decisions.md#decision-2).
suites-variants: $(STAMP)
	$(BIN)/python -m pytest suites/server -n $(JOBS) --no-report \
		--server-config smime_sign=true --server-config token_part1_octets=32 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests suites conftest.py benchmarks

types: $(STAMP)
	$(BIN)/mypy --strict src

conformance: $(STAMP)
	$(BIN)/python -m pytest suites -n $(JOBS) $(PYTEST_ARGS)

report-screenshots: $(STAMP)
	for page in reports/*.html; do \
		$(BIN)/python -m rfc8823.report.screenshot "$$page" "$${page%.html}.png" || exit 1; \
	done

# Every declared fault of the reference CA and client, each over its whole role suite: caught,
# and nothing else newly broken or blocked by another row (about an hour on 2 cores). `make
# test` runs the named-tests check for every fault and the whole-suite check for a fixed
# sample (tests/faults).
selfcheck: $(STAMP)
	$(BIN)/rfc8823 selfcheck --whole -j $(JOBS) --json reports/selfcheck-whole.json

# Generated mutants of the reference CA's reply judging and state machine and the reference
# client's decision and reply, each judged by its role suite; survivors not listed as equivalent
# in src/rfc8823/faults/mutants.toml fail it. MUTANTS=N judges a fixed-seed sample of N (every
# mutant when empty: hours on 2 cores); RESUME=1 keeps reports/mutation.json's results for
# mutants that still read the same.
MUTANTS ?=
RESUME ?=
mutate: $(STAMP)
	$(BIN)/rfc8823 selfcheck --mutate -j $(JOBS) --json reports/mutation.json \
		$(if $(MUTANTS),--max-mutants $(MUTANTS)) $(if $(RESUME),--resume)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
