# Two entry points for a fresh machine (see README.md):
#   make conformance   run the conformance suites against the embedded reference targets
#   make test          run the project's own tests, lint and type checks
#   make check         the quick loop: lint, types and the in-process tests (no slow ones)
#   make interop       run the server suite against acme2certifier, compared with its
#                      expectations file (docs/testing-a-ca.md, docs/reports/)
#   (CI, .ci/run, runs make test, then make interop)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
JOBS ?= 2

# Compiled modules, pytest's rewritten ones included, are cached under .cache/pycache even
# where the environment says not to write bytecode: the self-check starts a pytest process per
# fault, and each would otherwise compile the whole package again (about 2 s of CPU apiece).
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX ?= $(CURDIR)/.cache/pycache

.PHONY: venv check test unit suites-variants lint types conformance interop report-screenshots selfcheck mutate bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: lint types unit suites-variants

# The quick loop while working: lint, types and the tests that run in-process (tests/conftest.py
# lists the slow modules left to `make test`); about 2 minutes on 2 cores.
check: lint types
	$(BIN)/python -m pytest tests -n $(JOBS) --no-report -m "not slow" $(PYTEST_ARGS)

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
	$(BIN)/mypy --strict --explicit-package-bases src suites tests conftest.py benchmarks

conformance: $(STAMP)
	$(BIN)/python -m pytest suites -n $(JOBS) $(PYTEST_ARGS)

# The server suite against acme2certifier, the real RFC 8823 CA from PyPI (installed into
# $RFC8823_CACHE/targets/ on first use), one instance per xdist worker, each with a world and
# mailbox of its own; reports in reports/acme2certifier.*.
# It passes when every verdict is the one its expectations file gives (EXPECT= to judge the
# verdicts themselves, as any conformance run does).
EXPECT ?= fixtures/expectations/acme2certifier-0.46.3.toml
interop: $(STAMP)
	$(BIN)/python -m pytest suites/server --target-config fixtures/targets/acme2certifier.toml \
		-n $(JOBS) --report-dir reports $(if $(EXPECT),--expect $(EXPECT)) $(PYTEST_ARGS)

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
# in src/rfc8823/faults/mutants.toml fail it. By default the fixed-seed sample of 360 whose
# score the README states (about two hours on 2 cores); MUTANTS=N another sample, MUTANTS= (empty)
# every mutant (about 1,250, hours, and survivors outside the sample are not triaged yet);
# RESUME=1 keeps reports/mutation.json's results for mutants that still read the same.
MUTANTS ?= 360
RESUME ?=
mutate: $(STAMP)
	$(BIN)/rfc8823 selfcheck --mutate -j $(JOBS) --json reports/mutation.json \
		$(if $(MUTANTS),--max-mutants $(MUTANTS)) $(if $(RESUME),--resume)


# Every server through the same client code, the unavoidable costs, the suite runs and the
# inspectors, side by side in one run: reports/bench.json and reports/bench.md (about 3
# minutes on 2 cores; BENCH_ARGS=--quick for a smoke run of well under a minute).
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .cache/pycache
