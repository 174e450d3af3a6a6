# Two commands do everything: `make run` and `make test`. Both create the virtual environment.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR := demo-data
PYTEST_ARGS ?=

.PHONY: venv run test lint typecheck pytest bench bench-quick docs clean

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
	AUDITLEDGER_SIGNING_KEY_FILE=$(DEMO_DIR)/signing.key \
	$(BIN)/auditledger serve --demo --database-url sqlite:///$(DEMO_DIR)/auditledger.db

## Lint, type-check and run the whole test suite.
test: venv lint typecheck pytest

lint: venv
	$(BIN)/ruff check src tests bench examples clients
	$(BIN)/ruff format --check src tests bench examples clients

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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
