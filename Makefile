# usage_archive: `make demo` runs the pipeline end to end on local defaults; `make test` runs the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test test-fast lint dev bench bench-billing bench-circleci bench-e2e clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python -m usage_archive.demo

test: setup
	$(BIN)/ruff check usage_archive usage_archive_tests bench
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not cli"

lint: setup
	$(BIN)/ruff check usage_archive usage_archive_tests bench
	$(BIN)/ruff format --check usage_archive usage_archive_tests bench || true

# The Dagster UI on the demo's instance and database (run `make demo` first).
dev: setup
	DAGSTER_HOME=$(CURDIR)/.dagster_home \
	BILLING_DATABASE_URL=$${BILLING_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/usage_archive_demo} \
	$(BIN)/dagster dev -m usage_archive.definitions

bench: bench-billing bench-circleci bench-e2e

bench-billing: setup
	$(BIN)/python bench/bench_billing.py

bench-circleci: setup
	$(BIN)/python bench/bench_circleci.py

# One billing month (1M rows) through `dagster asset materialize`, against pandas read_sql + to_parquet.
bench-e2e: setup
	$(BIN)/python bench/bench_e2e.py

clean:
	rm -rf .archive .dagster_home .tmp_dagster_home_* bench/.out .pytest_cache .ruff_cache
