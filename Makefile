# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FIXTURES ?= ../shared/fixtures
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

# Pinned everything (requirements.lock), then the package with its `local` extra (the runtime libraries
# Databricks provides; the lock pins them); sam2 is built from source for CPU (pip caches the wheel);
# Delta's jars are resolved once from Maven Central into ~/.cache/provision-spark.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q pip==26.3 setuptools==84.2.1 wheel==0.48.0
	$(BIN)/pip install -q --no-deps -r requirements.lock
	SAM2_BUILD_CUDA=0 $(BIN)/pip install -q --no-deps --no-build-isolation sam2==1.1.0
	$(BIN)/pip install -q --no-build-isolation -c requirements.lock -e '.[local]'
	$(BIN)/python -m provision_spark.lakehouse.session fetch-jars
	touch $(STAMP)

demo: setup
	$(BIN)/provision demo --fixtures $(FIXTURES)

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

bench: setup
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf lakehouse spark-warehouse metastore_db derby.log
