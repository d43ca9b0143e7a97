"""Fixtures for end-to-end tests: a real Kafka broker and a real Spark session.

Everything under ``tests/e2e`` is marked ``e2e`` (deselect with ``-m "not e2e"``).

The broker: by default one single-node KRaft broker per test session, started from the Apache
Kafka jars by ``sqlstream.local.broker`` on a free loopback port, in a temporary state directory,
and stopped at the end. Set ``SQLSTREAM_TEST_BOOTSTRAP=host:port`` to use a broker you run
yourself instead (``docker compose up``, ``python -m sqlstream.local.broker up``, a remote test
cluster with PLAINTEXT access); it is left running. Topics get unique names, so a shared broker is
safe.

Spark: one ``local[2]`` session per test session with Spark's Kafka connector (and spark-avro)
from ``sqlstream.spark.jars``, which fetches them with Maven into the cache the first time.

A Spark standalone cluster (``spark_cluster``), only for the tests that ask for it: see
``oncluster.py``.
"""

from __future__ import annotations

import os
import re
import sys
import typing as t
import uuid
from pathlib import Path

import pytest
from pgserver import postgres  # noqa: F401 - the session's PostgreSQL server, for JDBC tables

E2E_DIR = Path(__file__).parent
LOG_CONFIG = E2E_DIR.parents[1] / "sqlstream" / "log4j2.properties"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[t.Any]:
    """The session's ``localkafka.Broker``, or None when ``SQLSTREAM_TEST_BOOTSTRAP`` is set."""
    if os.environ.get("SQLSTREAM_TEST_BOOTSTRAP"):
        yield None
        return
    from sqlstream.local import broker as localkafka

    state_dir = tmp_path_factory.mktemp("kafka")
    broker = localkafka.up(port=0, state_dir=state_dir)
    try:
        yield broker
    finally:
        localkafka.down(state_dir)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: t.Any) -> str:
    """``host:port`` of the Kafka broker for this test session."""
    if kafka_broker is None:
        return os.environ["SQLSTREAM_TEST_BOOTSTRAP"]
    return str(kafka_broker.bootstrap)


@pytest.fixture(scope="session")
def spark(kafka_bootstrap: str) -> t.Iterator[t.Any]:
    """A local Spark session with the Kafka connector on its classpath.

    It asks for the broker so that pytest stops Spark (and its cached Kafka producers) before
    the broker, not after."""
    pyspark = pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    from sqlstream.spark import jars

    # Workers must run this interpreter (the one that has pyspark), not whatever `python` is.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("sqlstream-e2e")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        # The driver logs as under `sqlstream run`: errors only (sqlstream/log4j2.properties).
        .config(
            "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
        )
    )
    for key, value in jars.spark_jars_conf(pyspark.__version__, avro=True).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def spark_cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Path]:
    """The state directory of a Spark standalone cluster (``sqlstream.local.cluster``: a master
    and two workers of 1 core and 1g each, on loopback), started the first time a test asks for
    it and stopped at the end of the session."""
    from sqlstream.local import cluster

    state_dir = tmp_path_factory.mktemp("spark-cluster")
    cluster.up(port=0, state_dir=state_dir)
    try:
        yield state_dir
    finally:
        cluster.down(state_dir)


@pytest.fixture
def spark_cluster(spark_cluster_dir: Path) -> t.Any:
    """The session's ``cluster.Cluster`` with every worker running: a worker an earlier test
    killed is started again. Its ``master_url`` goes in a target's ``spark: {master: ...}``."""
    from sqlstream.local import cluster

    return cluster.up(port=0, state_dir=spark_cluster_dir)


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name no other test (or earlier run against the same broker) uses."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:80].strip("-._")
    return f"t-{base}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def spark_confs_restored(spark: t.Any) -> t.Iterator[None]:
    """For tests that run a command in-process: its ``getOrCreate`` returns the session's
    SparkSession and sets sqlstream's confs on it; put them back for the tests after."""
    keys = ("spark.sql.shuffle.partitions", "spark.sql.session.timeZone")
    saved = {k: spark.conf.get(k, None) for k in keys}
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)
        spark.sparkContext.setLogLevel("ERROR")
