"""The Spark confs a session gets: a local master's driver heap, never a cluster's or Spark
Connect's, and the target's own ``conf`` always wins (no JVM)."""

from __future__ import annotations

import pytest

from sqlstream.project.connection import Connection
from sqlstream.project.defaults import LOCAL_SPARK_CONF

HEAP = "spark.driver.memory"

CASES = [
    # (master, remote, target conf, expected driver memory)
    (None, None, {}, LOCAL_SPARK_CONF[HEAP]),
    ("local[2]", None, {}, LOCAL_SPARK_CONF[HEAP]),
    ("spark://127.0.0.1:7077", None, {}, None),
    ("yarn", None, {}, None),
    (None, "sc://localhost:15002", {}, None),
    (None, None, {HEAP: "6g"}, "6g"),
    ("spark://h:7077", None, {HEAP: "6g"}, "6g"),
]


@pytest.mark.parametrize(("master", "remote", "conf", "heap"), CASES)
def test_the_driver_heap_default_is_for_local_masters_only(
    master: str | None, remote: str | None, conf: dict[str, str], heap: str | None
) -> None:
    connection = Connection(
        bootstrap_servers="b:9092", spark_master=master, spark_remote=remote, spark_conf=conf
    )
    confs = connection.spark_confs()
    assert confs.get(HEAP) == heap
    assert confs["spark.sql.shuffle.partitions"] == "4"
