# usage_archive: `make demo` runs the pipeline end to end on local defaults; `make test` runs the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test test-fast lint dev screenshots bench bench-billing bench-circleci bench-e2e clean

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
	$(BIN)/pytest -m "not cli and not ui"

# Screenshots of the UI taken by the browser test (a real dagster dev driven in Chromium) into docs/images/.
screenshots: setup
	USAGE_ARCHIVE_SCREENSHOTS=$(CURDIR)/docs/images $(BIN)/pytest -q usage_archive_tests/ui/test_browser.py

lint: setup
	$(BIN)/ruff check usage_archive usage_archive_tests bench
	$(BIN)/ruff format --check usage_archive usage_archive_tests bench

# The Dagster UI on the demo's instance and database (run `make demo` first). workspace.yaml names the code
# location `usage_archive`, as pyproject's [tool.dg.project] does, so Dagster does not warn about a mismatch.
dev: setup
	DAGSTER_HOME=$(CURDIR)/.dagster_home \
	BILLING_DATABASE_URL=$${BILLING_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/usage_archive_demo} \
	$(BIN)/dagster dev -w workspace.yaml

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
