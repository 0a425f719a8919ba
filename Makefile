# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
# URIs and the sign-in link name the address the service is really on.
export CAPCOURSE_BASE_URL ?= http://$(HOST):$(PORT)
# Test processes (pytest-xdist): one per core; TEST_WORKERS=0 runs the tests in one process.
# A test file stays on one worker (--dist loadfile), so its module fixtures (a live server,
# Chromium) start once.
TEST_WORKERS ?= auto
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadfile

.PHONY: run test fuzz lint format browser ralph scorm-again learning-locker conformance bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

## Serve on http://$(HOST):$(PORT) (SQLite under instance/ unless CAPCOURSE_DATABASE_URL is set).
run: $(VENV)/.installed-run
	$(BIN)/capcourse db upgrade
	$(BIN)/capcourse frameworks sync
	$(BIN)/capcourse users ensure-admin
	$(BIN)/capcourse demo load --if-empty
	$(BIN)/capcourse serve --host $(HOST) --port $(PORT)

## Lint, type-check and run the whole test suite.
test: $(VENV)/.installed-test browser ralph scorm-again learning-locker lint
	$(BIN)/pytest $(PYTEST_PARALLEL)

## Fuzz every API operation as every role at length with schemathesis (make test runs a short pass).
fuzz: $(VENV)/.installed-test
	CAPCOURSE_FUZZ_EXAMPLES=$${CAPCOURSE_FUZZ_EXAMPLES:-50} $(BIN)/pytest tests/test_schemathesis.py -p no:cacheprovider

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

browser:
	@scripts/ensure-chromium

## ADL's LRS conformance suite (xAPI 1.0.3, ../shared/tools/lrs-conformance) against capcourse on loopback:
## SQLite, or PostgreSQL when CAPCOURSE_TEST_DATABASE_URL is set; fails on any failing test.
conformance: $(VENV)/.installed-run
	$(BIN)/python scripts/conformance

# Ralph, a third-party LRS the delivery tests send to; a venv of its own (its
# server pins click and brings FastAPI, which capcourse does not need).
ralph: .venv-ralph/.installed
.venv-ralph/.installed:
	$(PYTHON) -m venv .venv-ralph
	.venv-ralph/bin/pip install --quiet 'ralph-malph[cli,lrs]>=5.1' requests
	touch $@

# scorm-again, the SCORM API the launch browser tests play an LMS with: from npm,
# pinned by tests/js/package-lock.json. Without npm those tests are skipped
# (CI sets CAPCOURSE_REQUIRE_BROWSER=1 to fail instead).
scorm-again: tests/js/node_modules/.installed
tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error >/dev/null && touch $@; \
	else \
	  echo "note: npm not found: the SCORM launch browser tests will be skipped (install Node.js and npm)." >&2; \
	fi

# Learning Locker's xAPI statement service (npm xapi-statements, GPL-3.0; run, never
# copied), the second third-party LRS of the delivery fault tests: into .learning-locker/.
# Without npm those tests are skipped (CI sets CAPCOURSE_REQUIRE_LRS=1 to fail instead).
learning-locker: .learning-locker/.installed
.learning-locker/.installed:
	@if command -v npm >/dev/null 2>&1; then \
	  mkdir -p .learning-locker && \
	  npm install --prefix .learning-locker --no-save --no-audit --no-fund --loglevel=error xapi-statements@5.0.1 >/dev/null && touch $@; \
	else \
	  echo "note: npm not found: the Learning Locker delivery tests will be skipped (install Node.js and npm)." >&2; \
	fi

## Every benchmark, each printing its table (in the environment make run installs).
## Coverage runs at a tenth of its programme scale here: its own default builds and scans
## 1,000,000 completions, too long to wait for; `make bench BENCH_COVERAGE=` runs it so.
BENCH_COVERAGE ?= --learners 1000 --completions 100000
bench: $(VENV)/.installed-run learning-locker
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/bounds.py
	$(BIN)/python bench/coverage.py $(BENCH_COVERAGE)
	$(BIN)/python bench/case.py
	$(BIN)/python bench/scorm.py
	$(BIN)/python bench/suggest.py

clean:
	rm -rf $(VENV) .venv-ralph .learning-locker .pytest_cache .mypy_cache .ruff_cache tests/js/node_modules
