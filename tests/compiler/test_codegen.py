"""The generated PySpark script and the shared steps (no JVM)."""

from __future__ import annotations

import ast
import json
import typing as t
from dataclasses import dataclass, field

import pytest

from sqlstream.spark import steps as codegen
from sqlstream.spark import progress
from sqlstream.spark.steps import Connection, ReadSource, StartQuery
from sqlstream.compiler.plan import (
    Decoding,
    Plan,
    SinkPlan,
    SourcePlan,
    StreamColumn,
    Trigger,
    ViewPlan,
)

SECRET_JAAS = (
    'org.apache.kafka.common.security.plain.PlainLoginModule required '
    'username="svc" password="s3cr3t-Pa55";'
)
ERROR = "(__v IS NULL OR __v.amount IS NULL)"


@dataclass
class FakeTarget:
    """The shape of ``sqlstream.project.config.Target`` that ``Connection.from_target`` reads."""

    name: str = "prod"
    bootstrap_servers: str = "broker-1:9093,broker-2:9093"
    kafka_options: dict[str, str] = field(
        default_factory=lambda: {
            "kafka.security.protocol": "SASL_SSL",
            "kafka.sasl.mechanism": "PLAIN",
            "kafka.sasl.jaas.config": SECRET_JAAS,
        }
    )
    spark_master: str | None = None
    spark_remote: str | None = None
    spark_conf: dict[str, str] = field(default_factory=lambda: {"spark.executor.memory": "2g"})
    checkpoint_root: str = "/var/lib/sqlstream/checkpoints"
    secrets: t.Any = field(default_factory=lambda: {"kafka.sasl.jaas.config"})


def _decoding(fields: str) -> Decoding:
    return Decoding(
        parse_exprs=[
            "key",
            "value",
            "headers",
            "partition",
            "offset",
            f"from_json(CAST(value AS STRING), '{fields}') AS __v",
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


def make_plan() -> Plan:
    fields = "order_id STRING, amount DOUBLE, event_time TIMESTAMP"
    orders = SourcePlan(
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
            "subscribe": "orders",
            "startingOffsets": "earliest",
            "includeHeaders": "true",
        },
        decoding=_decoding(fields),
        on_error="fail",
        error_filter=f"CASE WHEN {ERROR} THEN raise_error('malformed record') ELSE true END",
        watermark_column="event_time",
        watermark_delay="10 minutes",
    )
    clicks = SourcePlan(
        name="clicks",
        file="queries/clicks.sql",
        columns=[StreamColumn("order_id", "STRING")],
        value_format="json",
        key_format="text",
        read_options={"subscribePattern": "clicks-.*"},
        decoding=_decoding(fields),
        on_error="skip",
        error_filter=f"NOT {ERROR}",
    )
    payments = SourcePlan(
        name="payments",
        file="queries/payments.sql",
        columns=[StreamColumn("order_id", "STRING")],
        value_format="json",
        key_format="text",
        read_options={"subscribe": "payments", "includeHeaders": "true"},
        decoding=_decoding(fields),
        on_error="dlq",
        error_filter=f"NOT {ERROR}",
        dlq_topic="payments.DLT",
        dlq_exprs=[
            "key",
            "value",
            (
                "concat(coalesce(headers, array()), array(named_struct('key', "
                "'sqlstream.error.reason', 'value', CAST(reason AS BINARY)))) AS headers"
            ),
        ],
    )
    big = ViewPlan(
        "big_orders",
        "queries/orders.sql",
        "SELECT *\nFROM orders\nWHERE amount > 100 AND order_id <> '\"\"\"'",
        [],
    )
    spend = SinkPlan(
        name="orders_1",
        file="queries/orders.sql",
        line=14,
        sql=(
            "SELECT window.end AS window_end, user_id, sum(amount) AS total_spent\n"
            "FROM big_orders\nGROUP BY window(event_time, '5 minutes'), user_id"
        ),
        fields=[],
        write_exprs=[
            "CAST(user_id AS STRING) AS key",
            "to_json(struct(window_end, user_id, total_spent)) AS value",
            "array(named_struct('key', 'source', 'value', CAST('sqlstream' AS BINARY))) AS headers",
        ],
        value_format="json",
        topic="user-spending",
        write_options={"kafka.acks": "all"},
        trigger=Trigger("processing_time", "10 seconds"),
        checkpoint="shop/orders_1",
        sources=["orders"],
        views=["big_orders"],
    )
    mirror = SinkPlan(
        name="clicks_1",
        file="queries/clicks.sql",
        line=3,
        sql="SELECT c.order_id FROM clicks c JOIN payments p ON c.order_id = p.order_id",
        fields=[],
        write_exprs=["to_json(struct(order_id)) AS value"],
        value_format="json",
        topic="clicked-and-paid",
        write_options={},
        trigger=None,
        checkpoint="shop/clicks_1",
        sources=["clicks", "payments"],
        views=[],
    )
    return Plan(
        project="shop",
        sources=[orders, clicks, payments],
        views=[big],
        sinks=[spend, mirror],
        settings={"spark.sql.session.timeZone": "UTC"},
    )


@pytest.fixture
def connection() -> Connection:
    return Connection.from_target(FakeTarget())


def test_script_is_valid_python_and_deterministic(connection: Connection) -> None:
    plan = make_plan()
    text = codegen.script(plan, connection=connection)
    compile(text, "shop.py", "exec")
    assert text == codegen.script(make_plan(), connection=Connection.from_target(FakeTarget()))
    assert text.startswith("# Generated by sqlstream")
    assert "Do not edit" in text


def test_script_never_holds_a_secret(connection: Connection) -> None:
    text = codegen.script(make_plan(), connection=connection)
    assert "s3cr3t-Pa55" not in text
    assert "PlainLoginModule" not in text
    assert '.option("kafka.sasl.jaas.config", os.environ["SQLSTREAM_KAFKA_SASL_JAAS_CONFIG"])' in text
    # Non-secret settings are plain literals; the bootstrap servers come from the environment.
    assert '.option("kafka.security.protocol", "SASL_SSL")' in text
    assert (
        'BOOTSTRAP = os.environ.get("SQLSTREAM_BOOTSTRAP_SERVERS", "broker-1:9093,broker-2:9093")'
        in text
    )
    assert '.option("kafka.bootstrap.servers", BOOTSTRAP)' in text
    assert connection.redact(f"auth failed: {SECRET_JAAS}") == "auth failed: ****"


def test_secret_inside_an_option_value() -> None:
    """A profile builds the JAAS config around ``{{ env_var('PW') }}``: the value holds the secret."""
    conn = Connection.from_target(
        FakeTarget(kafka_options={"kafka.sasl.jaas.config": SECRET_JAAS, "kafka.x": "y"},
                   secrets=frozenset({"s3cr3t-Pa55"}))
    )
    assert conn.secret_options == {"kafka.sasl.jaas.config"}
    assert "s3cr3t-Pa55" not in codegen.script(make_plan(), connection=conn)


def test_secret_by_value_or_by_name() -> None:
    by_value = Connection.from_target(
        FakeTarget(
            kafka_options={"kafka.sasl.password": "pw-123", "kafka.client.id": "x"}, secrets=["pw-123"]
        )
    )
    assert by_value.secret_options == {"kafka.sasl.password"}
    text = codegen.script(make_plan(), connection=by_value)
    assert "pw-123" not in text
    assert 'os.environ["SQLSTREAM_KAFKA_SASL_PASSWORD"]' in text
    assert '.option("kafka.client.id", "x")' in text


def test_script_has_options_and_expressions_in_order(connection: Connection) -> None:
    plan = make_plan()
    text = codegen.script(plan, connection=connection)
    orders = plan.source("orders")
    for opt in ('.option("subscribe", "orders")', '.option("startingOffsets", "earliest")',
                '.option("includeHeaders", "true")', '.option("subscribePattern", "clicks-.*")',
                '.option("kafka.acks", "all")', '.option("topic", "user-spending")',
                '.option("checkpointLocation", CHECKPOINT_ROOT + "/shop/orders_1")',
                '.option("checkpointLocation", CHECKPOINT_ROOT + "/shop/payments_dlq")',
                '.option("topic", "payments.DLT")',
                '.withWatermark("event_time", "10 minutes")',
                '.trigger(processingTime="10 seconds")',
                '.queryName("orders_1")', '.outputMode("append")',
                'spark.conf.set("spark.sql.session.timeZone", "UTC")',
                'builder = builder.config("spark.executor.memory", "2g")'):
        assert opt in text, opt
    # Every expression appears as a Python literal that evaluates back to the plan's text.
    literals = {
        node.value
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    for expr in orders.decoding.parse_exprs + orders.decoding.output_exprs:
        assert expr in literals
    assert plan.views[0].sql in literals  # holds '"""': quoted safely, still exact
    assert plan.sinks[0].sql in literals
    assert orders.error_filter in literals
    # Sources before views before queries; the DLQ query reads the decoded records.
    assert text.index("# Source orders") < text.index("# Stream big_orders") < text.index(
        "# Query orders_1"
    )
    assert "payments_decoded\n    .where(" in text
    # Every source counts malformed records before its filter (fail too: see codegen.steps).
    assert 'observe("clicks.malformed", F.expr("count_if(' in text
    assert 'observe("payments.malformed"' in text
    assert 'observe("orders.malformed"' in text


def test_one_query_script_holds_only_what_it_needs(connection: Connection) -> None:
    plan = make_plan()
    text = codegen.script(plan, plan.sinks[0], connection=connection)
    compile(text, "orders_1.py", "exec")
    assert "# Source orders" in text and "# Source clicks" not in text
    assert "payments_dlq" not in text
    assert "queries = [orders_1_query]" in text


def test_steps_are_what_the_runtime_executes(connection: Connection) -> None:
    plan = make_plan()
    steps = codegen.steps(plan, connection=connection, trigger_override=Trigger("available_now"))
    kinds = [type(s).__name__ for s in steps]
    assert kinds == ["SetConf", "ReadSource", "ReadSource", "ReadSource", "CreateView",
                     "StartQuery", "StartQuery", "StartQuery"]
    queries = [s for s in steps if isinstance(s, StartQuery)]
    assert [(q.name, q.kind) for q in queries] == [
        ("payments_dlq", "dlq"), ("orders_1", "sink"), ("clicks_1", "sink")
    ]
    assert all(q.trigger == Trigger("available_now") for q in queries)
    src = next(s for s in steps if isinstance(s, ReadSource) and s.name == "orders")
    assert [o.kind for o in src.options][:2] == ["bootstrap", "literal"]
    assert any(o.kind == "secret" and o.value == SECRET_JAAS for o in src.options)


@pytest.mark.parametrize(
    "trigger, printed",
    [
        (Trigger("once"), ".trigger(once=True)"),
        (Trigger("available_now"), ".trigger(availableNow=True)"),
        (Trigger("continuous", "1 second"), '.trigger(continuous="1 second")'),
        (Trigger("real_time", "5 seconds"), '.trigger(realTime="5 seconds")'),
    ],
)
def test_triggers(connection: Connection, trigger: Trigger, printed: str) -> None:
    plan = make_plan()
    plan.sinks[0].trigger = trigger
    text = codegen.script(plan, plan.sinks[0], connection=connection)
    assert printed in text
    compile(text, "x.py", "exec")


def test_no_observed_metrics_in_continuous_mode(connection: Connection) -> None:
    plan = make_plan()
    plan.sinks[1].trigger = Trigger("continuous", "1 second")
    assert ".observe(" not in codegen.script(plan, plan.sinks[1], connection=connection)


def test_spark_connect_target() -> None:
    conn = Connection.from_target(FakeTarget(spark_remote="sc://spark-connect:15002"))
    text = codegen.script(make_plan(), connection=conn)
    compile(text, "x.py", "exec")
    assert '.remote(SPARK_REMOTE)' in text and "setLogLevel" not in text


def test_py_str_is_exact_for_any_text() -> None:
    for text in ['a "b" \'c\'', 'x\\ny', "tab\tand\nnew line", '"""', "\x00\x7f\u2028é", "\r\n"]:
        assert ast.literal_eval(codegen.py_str(text)) == text
        assert ast.literal_eval(codegen.py_sql(text)) == text


def test_progress_line() -> None:
    event = {
        "id": "x",
        "name": "orders_1",
        "batchId": 3,
        "timestamp": "2024-01-01T00:00:00.000Z",
        "numInputRows": 1200,
        "processedRowsPerSecond": 400.0,
        "durationMs": {"triggerExecution": 850},
        "sources": [
            {
                "endOffset": {"orders": {"0": 100, "1": 50}},
                "latestOffset": {"orders": {"0": 130, "1": 55}},
            }
        ],
        "observedMetrics": {"clicks.malformed": {"malformed": 2}},
    }
    assert progress.line(event) == (
        "orders_1  batch 3: 1200 rows, 400.0 rows/s, 850 ms, 35 behind, 2 malformed"
    )
    # Spark may give offsets as JSON text.
    event["sources"] = [{"endOffset": '{"t": {"0": 1}}', "latestOffset": '{"t": {"0": 4}}'}]
    assert progress.lag(event) == 3


def test_progress_line_from_spark_connect() -> None:
    """Spark Connect's progress JSON: no query-wide row counts, observed rows as values + schema."""
    event = {
        "id": "x",
        "name": "orders_out",
        "batchId": 0,
        "timestamp": "2024-01-01T00:00:00.000Z",
        "durationMs": {"triggerExecution": 1795},
        "sources": [
            {
                "endOffset": '{"in":{"0":2,"1":2}}',
                "latestOffset": '{"in":{"0":2,"1":3}}',
                "numInputRows": 4,
                "processedRowsPerSecond": 2.25,
            }
        ],
        "observedMetrics": {
            "orders.malformed": {
                "values": [1],
                "schema": {"type": "struct", "fields": [{"name": "malformed", "type": "long"}]},
            }
        },
    }
    assert progress.line(json.dumps(event)) == (
        "orders_out  batch 0: 4 rows, 2.2 rows/s, 1795 ms, 1 behind, 1 malformed"
    )


def test_reason_of_a_spark_connect_error() -> None:
    from sqlstream.spark import runtime

    class ConnectError(Exception):  # what pyspark's Spark Connect exceptions print
        pass

    text = (
        "(STREAM_FAILED) [USER_RAISED_EXCEPTION] malformed record in stream orders at t/0@1"
        " SQLSTATE: P0001\n=== Streaming Query ===\nIdentifier: q"
    )
    assert runtime.reason(ConnectError(text)) == (
        "[USER_RAISED_EXCEPTION] malformed record in stream orders at t/0@1 SQLSTATE: P0001"
    )
    assert runtime.reason(ConnectError("(TABLE_OR_VIEW_NOT_FOUND) no table x")) == (
        "[TABLE_OR_VIEW_NOT_FOUND] no table x"
    )
