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
# Apache Flink for the benches that run it side by side (bench/nexmark/flink.py): pyflink pins its
# own dependencies, so it gets a venv of its own (FLINK is FLINK_VERSION in bench/nexmark/flink.py).
# Its Kafka connector jar comes through Maven.
FLINK   := 2.2.1
FVENV   := .venv-flink
FSTAMP  := $(FVENV)/.installed-$(FLINK)

.PHONY: postgresql demo demo-registry test test-compiler test-compiler-sqlglotc test-e2e lint bench bench-compile bench-throughput bench-exactly-once bench-registry bench-nexmark nexmark-gen bench-latency bench-setup setup clean

## The JVM functions of protobuf-confluent (jvm/), built by Maven into the package, where
## sqlstream.spark.jars puts them on spark.jars (defined before `setup`, which needs it).
MVN          ?= mvn
PROTOBUF_JAR := sqlstream/spark/jvm/sqlstream-protobuf.jar

setup: $(STAMP) $(PROTOBUF_JAR)

$(PROTOBUF_JAR): jvm/pom.xml $(wildcard jvm/src/main/java/sqlstream/protobuf/*.java)
	$(MVN) -q -B $(SQLSTREAM_MVN_ARGS) -f jvm/pom.xml package
	mkdir -p $(dir $@)
	cp jvm/target/sqlstream-protobuf.jar $@

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

## Flink 2.2 (PyPI apache-flink) in $(FVENV) and its Kafka SQL connector (Maven), for the benches.
bench-setup: setup $(FSTAMP)
	$(BIN)/python -c 'import sys; sys.path.insert(0, "bench"); from nexmark import flink; print(flink.connector_jars()[0])'

$(FSTAMP):
	$(PYTHON) -m venv $(FVENV)
	$(FVENV)/bin/pip install -q --upgrade pip
	$(FVENV)/bin/pip install -q 'apache-flink==$(FLINK)'
	touch $(FSTAMP)

## PostgreSQL's server, which the JDBC table tests start (tests/e2e/pgserver.py): Debian's
## postgresql package, installed when no initdb is found (CI runs as root).
postgresql:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| (apt-get update -q && apt-get install -y -q postgresql)

## The example pipeline on a local broker: start it, produce transactions, run, show the output.
demo: setup
	$(BIN)/python bench/demo.py

## Avro and JSON Schema in Confluent's wire format with a local Schema Registry (examples/registry).
demo-registry: setup
	$(BIN)/python bench/demo_registry.py

## Every test: lint, the compiler (no JVM) on both sqlglot builds, and the end-to-end suite (a
## real broker, a real Spark; tests/bench runs one query on Flink too, hence bench-setup).
test: setup bench-setup lint test-compiler-sqlglotc postgresql
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-compiler: setup
	$(BIN)/python -m pytest -q tests/compiler

## The compiler tests again, with sqlglot's compiled build installed (no pyspark there).
test-compiler-sqlglotc: $(CSTAMP)
	$(CVENV)/bin/python -m pytest -q -p no:cacheprovider tests/compiler

test-e2e: setup postgresql
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

bench-exactly-once: setup
	$(BIN)/python bench/exactly_once.py

## avro-confluent against JSON, side by side (a broker and a registry of its own).
bench-registry: setup
	$(BIN)/python bench/registry_throughput.py

## The Nexmark event generator (Go; its modules come through the Go module proxy on first build).
NEXMARK_GEN := bench/nexmark/bin/nexmark-gen
nexmark-gen: $(NEXMARK_GEN)

$(NEXMARK_GEN): $(wildcard bench/nexmark/gen/*.go) bench/nexmark/gen/go.mod bench/nexmark/gen/go.sum
	cd bench/nexmark/gen && go build -trimpath -o ../bin/nexmark-gen .

bench-nexmark: setup nexmark-gen
	$(BIN)/python bench/nexmark.py

bench-latency: bench-setup
	$(BIN)/python bench/latency.py

clean:
	rm -rf target .sqlstream .pytest_cache
