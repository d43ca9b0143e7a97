# Everything a fresh machine needs: Python 3.10+, Java 17 and Maven on PATH. The rest (a venv with
# pyspark and the Kafka client, the Apache Kafka broker jars, Spark's Kafka connector) is fetched
# by these targets on first use and cached.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# sqlglot has a compiled build (sqlglotc, made with mypyc) that other packages may bring in; the
# compiler must behave the same on both, so the tests run on each, at one version that has both.
SQLGLOT := 30.30.0
CVENV   := .venv-sqlglotc
CSTAMP  := $(CVENV)/.installed

.PHONY: demo demo-registry test test-compiler test-compiler-sqlglotc test-e2e lint bench bench-compile bench-throughput bench-registry setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[spark,kafka,dev]' 'sqlglot==$(SQLGLOT)'
	touch $(STAMP)

$(CSTAMP): pyproject.toml
	$(PYTHON) -m venv $(CVENV)
	$(CVENV)/bin/pip install -q --upgrade pip
	$(CVENV)/bin/pip install -q -e . 'sqlglot==$(SQLGLOT)' 'sqlglotc==$(SQLGLOT)' pytest hypothesis
	touch $(CSTAMP)

## The example pipeline on a local broker: start it, produce transactions, run, show the output.
demo: setup
	$(BIN)/python bench/demo.py

## Avro in Confluent's wire format with a local Schema Registry (examples/registry).
demo-registry: setup
	$(BIN)/python bench/demo_registry.py

## Every test: lint, the compiler (no JVM) on both sqlglot builds, and the end-to-end suite (a
## real broker, a real Spark).
test: setup lint test-compiler-sqlglotc
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-compiler: setup
	$(BIN)/python -m pytest -q tests/compiler

## The compiler tests again, with sqlglot's compiled build installed (no pyspark there).
test-compiler-sqlglotc: $(CSTAMP)
	$(CVENV)/bin/python -m pytest -q -p no:cacheprovider tests/compiler

test-e2e: setup
	$(BIN)/python -m pytest -q tests/e2e

## ruff, mypy, and the layers of docs/architecture.md ([tool.importlinter] in pyproject.toml).
lint: setup
	$(BIN)/ruff check sqlstream tests bench
	$(BIN)/ruff format --check sqlstream tests bench
	$(BIN)/mypy sqlstream
	$(BIN)/lint-imports --no-cache

bench: bench-compile bench-throughput

bench-compile: setup $(CSTAMP)
	$(BIN)/python bench/compile_speed.py

bench-throughput: setup
	$(BIN)/python bench/throughput.py

## avro-confluent against JSON, side by side (a broker and a registry of its own).
bench-registry: setup
	$(BIN)/python bench/registry_throughput.py

clean:
	rm -rf target .sqlstream .pytest_cache
