"""The runtime on a real broker and a real Spark, and the generated script doing the same.

Spark streaming runs cost seconds each on two cores, so there are few of them: one ``run`` of a
plan with a DLQ source, a view, a windowed sink and a stateless sink; the generated script of the
same plan in a subprocess; one failing run; checks and explain, which start nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
import uuid
from pathlib import Path

import pytest

from sqlstream.compiler.plan import (
    Decoding,
    Plan,
    SinkPlan,
    SourcePlan,
    StreamColumn,
    Trigger,
    ViewPlan,
)
from sqlstream.errors import RunFailure
from sqlstream.local import client as kafkaclient
from sqlstream.project.connection import Connection
from sqlstream.spark import runtime
from sqlstream.spark import script as codegen

pytestmark = pytest.mark.e2e

HEADERS_T = "ARRAY<STRUCT<key: STRING, value: BINARY>>"
ERROR = "(__v IS NULL OR __v.order_id IS NULL OR __v.amount IS NULL)"


def orders_plan(topics: dict[str, str], project: str, on_error: str = "dlq") -> Plan:
    """A JSON source (key, header, metadata, watermark), a view, a windowed and a plain sink."""
    decoding = Decoding(
        parse_exprs=[
            "key",
            "value",
            "headers",
            "topic",
            "partition",
            "offset",
            (
                "from_json(CAST(value AS STRING), "
                "'order_id STRING, amount DOUBLE, event_time TIMESTAMP') AS __v"
            ),
            "(value IS NULL) AS __sqlstream_is_tombstone",  # what every source counts
        ],
        error_expr=ERROR,
        reason_expr="'malformed JSON'",
        output_exprs=[
            "__v.order_id AS order_id",
            "CAST(key AS STRING) AS user_id",
            "__v.amount AS amount",
            "__v.event_time AS event_time",
            (
                "CAST(element_at(filter(headers, h -> h.key = 'trace-id'), -1).value AS STRING)"
                " AS trace_id"
            ),
            "partition AS kafka_partition",
        ],
    )
    error_filter = (
        f"CASE WHEN {ERROR} THEN raise_error(concat('malformed record at offset ', offset))"
        " ELSE true END"
        if on_error == "fail"
        else f"NOT {ERROR}"
    )
    source = SourcePlan(
        name="orders",
        file="queries/orders.sql",
        columns=[
            StreamColumn("order_id", "STRING"),
            StreamColumn("user_id", "STRING", "key"),
            StreamColumn("amount", "DOUBLE"),
            StreamColumn("event_time", "TIMESTAMP"),
            StreamColumn("trace_id", "STRING", "header", "trace-id"),
            StreamColumn("kafka_partition", "INT", "metadata", "partition"),
        ],
        value_format="json",
        key_format="text",
        read_options={
            "subscribe": topics["in"],
            "startingOffsets": "earliest",
            "includeHeaders": "true",
        },
        decoding=decoding,
        on_error=on_error,
        error_filter=error_filter,
        dlq_topic=topics.get("dlq") if on_error == "dlq" else None,
        dlq_filter=ERROR if on_error == "dlq" else None,
        dlq_exprs=[
            "key",
            "value",
            (
                f"concat(coalesce(headers, CAST(array() AS {HEADERS_T})), array(named_struct("
                "'key', 'sqlstream.error.reason', 'value', CAST('malformed JSON' AS BINARY))))"
                " AS headers"
            ),
        ],
        watermark_column="event_time",
        watermark_delay="1 minute",
    )
    view = ViewPlan(
        "big_orders", "queries/orders.sql", "SELECT *\nFROM orders\nWHERE amount > 10", []
    )
    big = SinkPlan(
        name="orders_1",
        file="queries/orders.sql",
        line=20,
        sql="SELECT user_id, order_id, amount, trace_id\nFROM big_orders",
        fields=[],
        write_exprs=[
            "CAST(user_id AS STRING) AS key",
            "to_json(struct(order_id, amount), map('ignoreNullFields', 'false')) AS value",
            "array(named_struct('key', 'trace-id', 'value', CAST(trace_id AS BINARY))) AS headers",
        ],
        value_format="json",
        topic=topics["out"],
        write_options={"kafka.acks": "all"},
        trigger=Trigger("processing_time", "5 seconds"),
        checkpoint=f"{project}/orders_1",
        sources=["orders"],
        views=["big_orders"],
    )
    spend = SinkPlan(
        name="orders_2",
        file="queries/orders.sql",
        line=30,
        sql=(
            "SELECT window.end AS window_end, user_id, sum(amount) AS total\nFROM orders\n"
            "GROUP BY window(event_time, '5 minutes'), user_id"
        ),
        fields=[],
        write_exprs=["user_id AS key", "to_json(struct(window_end, user_id, total)) AS value"],
        value_format="json",
        topic=topics["agg"],
        write_options={},
        trigger=None,
        checkpoint=f"{project}/orders_2",
        sources=["orders"],
        views=[],
    )
    return Plan(
        project=project,
        sources=[source],
        views=[view],
        sinks=[big, spend],
        settings={"spark.sql.session.timeZone": "UTC"},
    )


RECORDS: list[t.Any] = [
    (
        "u1",
        json.dumps({"order_id": "o1", "amount": 50.0, "event_time": "2024-01-01T00:00:10Z"}),
        [("trace-id", "t1")],
        0,
    ),
    (
        "u2",
        json.dumps({"order_id": "o2", "amount": 5.0, "event_time": "2024-01-01T00:01:00Z"}),
        None,
        1,
    ),
    ("u1", "not json", [("x", "y")], 0),
    (
        "u1",
        json.dumps({"order_id": "o3", "amount": 20.0, "event_time": "2024-01-01T00:02:00Z"}),
        [("trace-id", "t3")],
        1,
    ),
    # Moves the watermark past the first window, so that window is final and written.
    (
        "u3",
        json.dumps({"order_id": "o4", "amount": 1.0, "event_time": "2024-01-01T01:00:00Z"}),
        None,
        0,
    ),
]

EXPECTED_OUT = {
    (b"u1", b'{"order_id":"o1","amount":50.0}', (("trace-id", b"t1"),)),
    (b"u1", b'{"order_id":"o3","amount":20.0}', (("trace-id", b"t3"),)),
}
EXPECTED_AGG = {
    (b"u1", b'{"window_end":"2024-01-01T00:05:00.000Z","user_id":"u1","total":70.0}', ()),
    (b"u2", b'{"window_end":"2024-01-01T00:05:00.000Z","user_id":"u2","total":5.0}', ()),
}
EXPECTED_DLQ = {
    (b"u1", b"not json", (("x", b"y"), ("sqlstream.error.reason", b"malformed JSON"))),
}


def _topics(name: str) -> dict[str, str]:
    u = uuid.uuid4().hex[:8]
    return {k: f"{name}-{k}-{u}" for k in ("in", "out", "agg", "dlq")}


def _read(bootstrap: str, topic: str) -> set[tuple[t.Any, ...]]:
    return {
        (r.key, r.value, tuple(r.headers))
        for r in kafkaclient.consume_all(bootstrap, topic, missing_ok=True)
    }


@pytest.fixture(scope="module")
def orders_input(kafka_bootstrap: str) -> dict[str, str]:
    topics = _topics("rt")
    kafkaclient.create_topic(kafka_bootstrap, topics["in"], partitions=2)
    kafkaclient.produce(kafka_bootstrap, topics["in"], RECORDS)
    return topics


def test_run_available_now_writes_exact_records(
    kafka_bootstrap: str, orders_input: dict[str, str], spark: t.Any, tmp_path: Path
) -> None:
    plan = orders_plan(orders_input, "rt")
    conn = Connection(bootstrap_servers="unused:9092", checkpoint_root=str(tmp_path))
    lines: list[str] = []
    rc = runtime.run(
        plan,
        conn,
        trigger_override=Trigger("available_now"),
        bootstrap_override=kafka_bootstrap,
        out=lines.append,
        spark=spark,
    )
    assert rc == 0
    assert _read(kafka_bootstrap, orders_input["out"]) == EXPECTED_OUT
    assert _read(kafka_bootstrap, orders_input["agg"]) == EXPECTED_AGG
    assert _read(kafka_bootstrap, orders_input["dlq"]) == EXPECTED_DLQ
    text = "\n".join(lines)
    assert "started 3 queries: orders_dlq, orders_1, orders_2" in text
    assert "orders_1  batch 0: read 5, written " in text
    assert "dlq 1" in text and "0 behind" in text
    assert "summary:" in text
    assert (tmp_path / "rt" / "orders_1").is_dir() and (tmp_path / "rt" / "orders_dlq").is_dir()


def test_generated_script_writes_the_same_records(
    kafka_bootstrap: str, orders_input: dict[str, str], tmp_path: Path
) -> None:
    """``python script.py`` with the connection in the environment: same output as ``run``."""
    import pyspark

    from sqlstream.spark import jars

    topics = {**orders_input, **{k: v + "-script" for k, v in orders_input.items() if k != "in"}}
    plan = orders_plan(topics, "script")
    conn = Connection(bootstrap_servers="unused:9092", checkpoint_root="/nonexistent")
    text = codegen.script(plan, connection=conn, trigger_override=Trigger("available_now"))
    path = tmp_path / "orders.py"
    path.write_text(text)
    env = {
        **os.environ,
        "SQLSTREAM_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SQLSTREAM_CHECKPOINT_ROOT": str(tmp_path / "checkpoints"),
        "SQLSTREAM_SPARK_MASTER": "local[2]",
        "PYSPARK_PYTHON": sys.executable,
    }
    conf = jars.spark_jars_conf(pyspark.__version__)
    if "spark.jars" in conf:
        env["SQLSTREAM_SPARK_JARS"] = conf["spark.jars"]
    else:
        env["PYSPARK_SUBMIT_ARGS"] = f"--packages {conf['spark.jars.packages']} pyspark-shell"
    proc = subprocess.run(
        [sys.executable, str(path)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _read(kafka_bootstrap, topics["out"]) == EXPECTED_OUT
    assert _read(kafka_bootstrap, topics["agg"]) == EXPECTED_AGG
    assert _read(kafka_bootstrap, topics["dlq"]) == EXPECTED_DLQ


def test_failing_query_stops_everything_with_sparks_reason(
    kafka_bootstrap: str, orders_input: dict[str, str], spark: t.Any, tmp_path: Path
) -> None:
    topics = {**orders_input, **{k: v + "-fail" for k, v in orders_input.items() if k != "in"}}
    plan = orders_plan(topics, "fail", on_error="fail")
    plan.sinks = plan.sinks[:1]
    conn = Connection(bootstrap_servers=kafka_bootstrap, checkpoint_root=str(tmp_path))
    with pytest.raises(RunFailure) as info:
        runtime.run(
            plan, conn, trigger_override=Trigger("available_now"), out=lambda _: None, spark=spark
        )
    message = str(info.value)
    assert "query orders_1 failed" in message
    assert "malformed record at offset" in message
    assert "\tat " not in message and "at org.apache" not in message
    assert not spark.streams.active


def test_unsupported_query_starts_nothing(
    kafka_bootstrap: str, orders_input: dict[str, str], spark: t.Any, tmp_path: Path
) -> None:
    plan = orders_plan(orders_input, "bad")
    plan.sinks[1].sql = "SELECT user_id, count(*) AS n FROM orders GROUP BY user_id"
    plan.sinks[1].write_exprs = ["user_id AS key", "CAST(n AS STRING) AS value"]
    conn = Connection(bootstrap_servers=kafka_bootstrap, checkpoint_root=str(tmp_path))
    with pytest.raises(RunFailure) as info:
        runtime.start(plan, spark, conn)
    message = str(info.value)
    assert message.startswith("queries/orders.sql:30: query orders_2:")
    assert "append" in message.lower() and "watermark" in message.lower()
    assert not spark.streams.active
    assert not (tmp_path / "bad").exists()


def test_explain_shows_sparks_plan_of_each_query(
    kafka_bootstrap: str, orders_input: dict[str, str], spark: t.Any, tmp_path: Path
) -> None:
    plan = orders_plan(orders_input, "explain")
    conn = Connection(bootstrap_servers=kafka_bootstrap, checkpoint_root=str(tmp_path))
    text = runtime.explain(plan, conn, spark=spark)
    for name in ("orders_dlq", "orders_1", "orders_2"):
        assert f"== Query {name} " in text
    assert "== Physical Plan ==" in text and "== Analyzed Logical Plan ==" in text
    assert not spark.streams.active
