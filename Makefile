# Two commands do everything: `make run` and `make test`. Both create the virtual environment.
# The first interpreter on PATH that is Python 3.11 or newer; absent or shimmed ones stay quiet.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR := demo-data
PYTEST_ARGS ?=
# Test workers: three keep both cores busy while one worker waits on PostgreSQL or a subprocess.
PYTEST_WORKERS ?= 3
# Every run prints its slowest tests; loadgroup keeps tests that share a costly fixture together.
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadgroup --durations=25
# Bytecode caches (__pycache__, git-ignored) spare every test worker and every `auditledger
# serve` subprocess compiling the sources again, and pytest rewriting the asserts of every test
# module again; an environment with PYTHONDONTWRITEBYTECODE set would pay that each time.
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

.PHONY: venv run test test-fast lint typecheck pytest bench bench-quick docs clean venv-mlflow \
	test-mlflow demo-mlflow

$(STAMP): pyproject.toml clients/python/pyproject.toml
	@test -n "$(PYTHON)" || { echo "auditledger needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e './clients/python[outbox]'
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

## Start the service on SQLite with a demo organization; prints the URL and sign-in details.
run: venv
	@mkdir -p $(DEMO_DIR)
	AUDITLEDGER_SIGNING_KEY_FILE=$(DEMO_DIR)/signing.key AUDITLEDGER_LOG_FORMAT=$${AUDITLEDGER_LOG_FORMAT:-console} \
	$(BIN)/auditledger serve --demo --database-url sqlite:///$(DEMO_DIR)/auditledger.db

## Lint, type-check and run the whole test suite.
test: venv lint typecheck pytest

lint: venv
	$(BIN)/ruff check src tests bench examples clients plugins
	$(BIN)/ruff format --check src tests bench examples clients plugins

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(PYTEST) $(PYTEST_PARALLEL) $(PYTEST_ARGS)

## The quick loop: lint, types and every test but the slow and browser ones.
test-fast: venv lint typecheck
	$(PYTEST) $(PYTEST_PARALLEL) -m 'not slow and not browser' $(PYTEST_ARGS)

## MLflow lives in a virtual environment of its own (about 850 MB): the server never needs it.
VENV_MLFLOW := .venv-mlflow
MLFLOW_STAMP := $(VENV_MLFLOW)/.installed-stamp

$(MLFLOW_STAMP): plugins/mlflow/pyproject.toml clients/python/pyproject.toml
	@test -n "$(PYTHON)" || { echo "auditledger needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV_MLFLOW)
	$(VENV_MLFLOW)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_MLFLOW)/bin/python -m pip install --quiet -e ./clients/python -e ./plugins/mlflow \
		pytest pytest-timeout
	@touch $(MLFLOW_STAMP)

venv-mlflow: $(MLFLOW_STAMP)

## The plugin's tests: a real mlflow server with the plugin, a real auditledger server.
test-mlflow: venv venv-mlflow
	cd plugins/mlflow && AUDITLEDGER_REQUIRE_MLFLOW=1 AUDITLEDGER_BIN=$(CURDIR)/$(BIN)/auditledger \
		$(CURDIR)/$(VENV_MLFLOW)/bin/python -m pytest $(PYTEST_ARGS)

## MLflow with the plugin and basic-auth, an auditledger server, and a short client session.
demo-mlflow: venv venv-mlflow
	AUDITLEDGER_BIN=$(CURDIR)/$(BIN)/auditledger DEMO_DIR=$(CURDIR)/$(DEMO_DIR)/mlflow \
		$(VENV_MLFLOW)/bin/python -m auditledger_mlflow.demo

## Benchmarks: writes docs/benchmarks.md and bench/results.json.
bench: venv
	$(BIN)/python -m auditledger.bench

bench-quick: venv
	$(BIN)/python -m auditledger.bench --quick

## Regenerate generated files (docs/events.md, the README's settings table, client/events.py).
docs: venv
	$(BIN)/python -m auditledger.docs

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
