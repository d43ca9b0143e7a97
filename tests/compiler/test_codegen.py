"""The generated PySpark script and the steps the runtime executes (no JVM)."""

from __future__ import annotations

import ast
import json
import sys
import types
import typing as t
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from sqlstream.compiler.plan import (
    Decoding,
    Plan,
    SinkPlan,
    SourcePlan,
    StreamColumn,
    Trigger,
    ViewPlan,
)
from sqlstream.project.config import Target
from sqlstream.project.connection import Connection
from sqlstream.spark import progress, runtime
from sqlstream.spark import script as codegen
from sqlstream.spark import steps as st
from sqlstream.spark.steps import ReadSource, StartQuery

SECRET_JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="svc" password="s3cr3t-Pa55";'
)
ERROR = "(__v IS NULL OR __v.amount IS NULL)"


def FakeTarget(**changes: t.Any) -> Target:  # noqa: N802 - reads like the class it builds
    """A production-like target: SASL over SSL, a JAAS config (a secret), a conf."""
    settings: dict[str, t.Any] = {
        "name": "prod",
        "bootstrap_servers": "broker-1:9093,broker-2:9093",
        "kafka_options": {
            "kafka.security.protocol": "SASL_SSL",
            "kafka.sasl.mechanism": "PLAIN",
            "kafka.sasl.jaas.config": SECRET_JAAS,
        },
        "spark_master": None,
        "spark_conf": {"spark.executor.memory": "2g"},
        "checkpoint_root": "/var/lib/sqlstream/checkpoints",
        "secrets": frozenset({SECRET_JAAS}),
    }
    settings.update(changes)
    return Target(**settings)


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
        dlq_filter=ERROR,
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
        'SELECT *\nFROM orders\nWHERE amount > 100 AND order_id <> \'"""\'',
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
    assert (
        '.option("kafka.sasl.jaas.config", os.environ["SQLSTREAM_KAFKA_SASL_JAAS_CONFIG"])' in text
    )
    # Non-secret settings are plain literals; the bootstrap servers come from the environment.
    assert '.option("kafka.security.protocol", "SASL_SSL")' in text
    assert (
        'BOOTSTRAP = os.environ.get("SQLSTREAM_BOOTSTRAP_SERVERS", "broker-1:9093,broker-2:9093")'
        in text
    )
    assert '.option("kafka.bootstrap.servers", BOOTSTRAP)' in text
    assert connection.redact(f"auth failed: {SECRET_JAAS}") == "auth failed: ****"


def test_secret_inside_an_option_value() -> None:
    """A profile builds the JAAS config around ``{{ env_var('PW') }}``: the value holds the
    secret."""
    conn = Connection.from_target(
        FakeTarget(
            kafka_options={"kafka.sasl.jaas.config": SECRET_JAAS, "kafka.x": "y"},
            secrets=frozenset({"s3cr3t-Pa55"}),
            spark_conf={},
        )
    )
    assert conn.secret_options == {"kafka.sasl.jaas.config"}
    assert "s3cr3t-Pa55" not in codegen.script(make_plan(), connection=conn)


def test_secret_by_value_or_by_name() -> None:
    by_value = Connection.from_target(
        FakeTarget(
            kafka_options={"kafka.sasl.password": "pw-123", "kafka.client.id": "x"},
            secrets=frozenset({"pw-123"}),
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
    for opt in (
        '.option("subscribe", "orders")',
        '.option("startingOffsets", "earliest")',
        '.option("includeHeaders", "true")',
        '.option("subscribePattern", "clicks-.*")',
        '.option("kafka.acks", "all")',
        '.option("topic", "user-spending")',
        '.option("checkpointLocation", CHECKPOINT_ROOT + "/shop/orders_1")',
        '.option("checkpointLocation", CHECKPOINT_ROOT + "/shop/payments_dlq")',
        '.option("topic", "payments.DLT")',
        '.withWatermark("event_time", "10 minutes")',
        '.trigger(processingTime="10 seconds")',
        '.queryName("orders_1")',
        '.outputMode("append")',
        'spark.conf.set("spark.sql.session.timeZone", "UTC")',
        'builder = builder.config("spark.executor.memory", "2g")',
    ):
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
    assert (
        text.index("# Source orders")
        < text.index("# Stream big_orders")
        < text.index("# Query orders_1")
    )
    assert "payments_decoded\n    .where(" in text
    # Every source counts malformed records and tombstones before its filter (fail too: see
    # spark.steps), under the name of where a malformed record goes.
    assert 'observe("clicks.counts", F.expr("count_if(' in text
    assert 'observe("payments.counts"' in text and '.alias("dlq")' in text
    assert 'observe("orders.counts"' in text and '.alias("skipped")' in text
    assert '.alias("tombstones")' in text


def test_one_query_script_holds_only_what_it_needs(connection: Connection) -> None:
    plan = make_plan()
    text = codegen.script(plan, plan.sinks[0], connection=connection)
    compile(text, "orders_1.py", "exec")
    assert "# Source orders" in text and "# Source clicks" not in text
    assert "payments_dlq" not in text
    assert "queries = [orders_1_query]" in text


def test_steps_in_order(connection: Connection) -> None:
    plan = make_plan()
    steps = st.steps(plan, connection=connection, trigger_override=Trigger("available_now"))
    kinds = [type(s).__name__ for s in steps]
    assert kinds == [
        "SetConf",
        "ReadSource",
        "ReadSource",
        "ReadSource",
        "CreateView",
        "StartQuery",
        "StartQuery",
        "StartQuery",
    ]
    queries = [s for s in steps if isinstance(s, StartQuery)]
    assert [(q.name, q.kind) for q in queries] == [
        ("payments_dlq", "dlq"),
        ("orders_1", "sink"),
        ("clicks_1", "sink"),
    ]
    assert all(q.trigger == Trigger("available_now") for q in queries)
    assert all(st.call("trigger", availableNow=True) in q.write for q in queries)
    src = next(s for s in steps if isinstance(s, ReadSource) and s.name == "orders")
    options = [c.args for c in src.chains[0].calls if c.name == "option"]
    assert options[0] == ("kafka.bootstrap.servers", st.FromTarget("bootstrap"))
    assert ("kafka.sasl.jaas.config", st.FromTarget("secret", "kafka.sasl.jaas.config")) in options
    assert SECRET_JAAS not in repr(steps)  # the description holds no secret, only its name


# --- what compile shows is what run does ----------------------------------------------------


class StandIn:
    """A recording stand-in for PySpark's session, frames, writers and ``functions``.

    Every attribute read and call is logged with the path of the object it was made on: its
    whole history, every call with its arguments. The result is a new stand-in. It stands in for
    Spark in a test of *our* executor and printer (do the runtime and the script make the same
    calls?), not in a test of Spark.
    """

    def __init__(self, log: list[tuple[t.Any, ...]], path: tuple[str, ...]) -> None:
        self._log = log
        self._path = path

    def __getattr__(self, name: str) -> t.Any:
        if name.startswith("_"):  # _jdf, _jvm: what the runtime reaches for on a local session
            raise AttributeError(name)
        if name == "isActive":  # the script's wait loop: the query has ended
            return False
        self._log.append((self._path, "." + name))
        return StandIn(self._log, (*self._path, name))

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> StandIn:
        def shown(value: t.Any) -> t.Any:
            return value._path if isinstance(value, StandIn) else value

        entry = (tuple(map(shown, args)), tuple(sorted((k, shown(v)) for k, v in kwargs.items())))
        self._log.append((self._path, "()", *entry))
        if self._path[-1] == "getOrCreate":
            return StandIn(self._log, ("spark",))  # the session, as the runtime is given it
        return StandIn(self._log, (*self._path, repr(entry)))


def fake_pyspark(monkeypatch: pytest.MonkeyPatch, log: list[tuple[t.Any, ...]]) -> None:
    """``pyspark.sql`` (``SparkSession``, ``functions``) as stand-ins, for the script and the
    runtime alike."""
    sql = types.ModuleType("pyspark.sql")
    sql.SparkSession = StandIn(log, ("SparkSession",))  # type: ignore[attr-defined]
    sql.functions = StandIn(log, ("F",))  # type: ignore[attr-defined]
    pyspark = types.ModuleType("pyspark")
    pyspark.sql = sql  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyspark", pyspark)
    monkeypatch.setitem(sys.modules, "pyspark.sql", sql)
    monkeypatch.setitem(sys.modules, "pyspark.sql.functions", sql.functions)  # type: ignore[attr-defined]


def _run_log(
    plan: Plan, connection: Connection, trigger: Trigger | None, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[t.Any, ...]]:
    log: list[tuple[t.Any, ...]] = []
    fake_pyspark(monkeypatch, log)
    runtime.start(
        plan, t.cast(t.Any, StandIn(log, ("spark",))), connection, trigger_override=trigger
    )
    return log


def _script_log(
    plan: Plan, connection: Connection, trigger: Trigger | None, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[t.Any, ...]]:
    log: list[tuple[t.Any, ...]] = []
    fake_pyspark(monkeypatch, log)
    for key in connection.secret_options:  # what a user of the script exports
        secret = connection.kafka_options.get(key) or connection.spark_conf[key]
        monkeypatch.setenv(codegen.env_name(key), secret)
    for name in (
        codegen.ENV_BOOTSTRAP,
        codegen.ENV_CHECKPOINT_ROOT,
        codegen.ENV_MASTER,
        codegen.ENV_JARS,
    ):
        monkeypatch.delenv(name, raising=False)
    exec(
        compile(
            codegen.script(plan, connection=connection, trigger_override=trigger), "s.py", "exec"
        ),
        {},
    )
    # The session's own set-up and the wait loop are the script's, not steps of the run.
    return [
        e
        for e in log
        if e[0][0] in ("spark", "F")
        and e[0][:2] not in (("spark", "sparkContext"), ("spark", "streams"))
        and e[:2] not in ((("spark",), ".sparkContext"), (("spark",), ".streams"))
    ]


@pytest.mark.parametrize(
    "trigger", [None, Trigger("available_now"), Trigger("continuous", "1 second")]
)
def test_the_script_makes_the_calls_the_runtime_makes(
    connection: Connection, trigger: Trigger | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same calls on the same objects. Only the order of the queries differs, on purpose:
    the script starts each query as it defines it, the runtime starts none before every query
    is built and checked. An object's path is its whole history, so the calls made on each
    object are still compared in order."""
    plan = make_plan()
    ran = _run_log(plan, connection, trigger, monkeypatch)
    printed = _script_log(plan, connection, trigger, monkeypatch)
    assert Counter(map(repr, printed)) == Counter(map(repr, ran))
    first_start = next(i for i, e in enumerate(ran) if e[1] == ".writeStream")
    assert all(e[0] != ("spark",) for e in ran[first_start:])  # all built before any starts
    calls = [e for e in ran if e[1] == "()"]
    # Not an empty agreement: every source is read, every query started, the secret given.
    assert sum(1 for e in ran if e[1] == ".readStream") == 3
    assert sum(1 for e in ran if e[1] == ".start") == 3
    assert any(("kafka.sasl.jaas.config", SECRET_JAAS) == e[2] for e in calls)
    assert any(
        e[2] == ("checkpointLocation", "/var/lib/sqlstream/checkpoints/shop/orders_1")
        for e in calls
    )


def test_the_stand_in_sees_a_difference(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparison above would catch a script that drifted from the run."""
    plan = make_plan()
    ran = _run_log(plan, connection, None, monkeypatch)
    drifted = codegen.script(plan, connection=connection).replace(
        '.option("startingOffsets", "earliest")', '.option("startingOffsets", "latest")'
    )
    monkeypatch.setattr(codegen, "script", lambda *a, **k: drifted)
    assert Counter(map(repr, _script_log(plan, connection, None, monkeypatch))) != Counter(
        map(repr, ran)
    )


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
    assert ".remote(SPARK_REMOTE)" in text and "setLogLevel" not in text


def test_py_str_is_exact_for_any_text() -> None:
    for text in ["a \"b\" 'c'", "x\\ny", "tab\tand\nnew line", '"""', "\x00\x7f\u2028é", "\r\n"]:
        assert ast.literal_eval(codegen.py_str(text)) == text
        assert ast.literal_eval(codegen.py_sql(text)) == text


@given(hs.text(alphabet=hs.characters(max_codepoint=0x7F)))
def test_py_str_writes_ascii_as_json_wrote_it(text: str) -> None:
    """Its fast path for plain text changes no script: json.dumps is what it wrote before."""
    assert codegen.py_str(text) == json.dumps(text, ensure_ascii=not text.isprintable())
    assert ast.literal_eval(codegen.py_str(text)) == text


@given(hs.text())
def test_py_str_is_exact_for_any_unicode(text: str) -> None:
    """Astral characters, lone surrogates, controls: what the script reads is the text."""
    assert ast.literal_eval(codegen.py_str(text)) == text


def test_py_str_writes_an_astral_character_exactly() -> None:
    for text in ["\U0001f600\n", "\x00\U0010ffff", "\ud83d\ude00\t"]:
        assert ast.literal_eval(codegen.py_str(text)) == text


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
        "observedMetrics": {
            "orders.counts": {"skipped": 2, "tombstones": 1},
            "clicks.counts": {"dlq": 3, "tombstones": 4},
        },
        "stateOperators": [{"numRowsDroppedByWatermark": 5}, {"numRowsDroppedByWatermark": 1}],
        "sink": {"description": "KafkaTable", "numOutputRows": 1180},
    }
    assert progress.line(event) == (
        "orders_1  batch 3: read 1200, written 1180, dlq 3, skipped 2, late 6, tombstones 5; "
        "400.0 rows/s, 850 ms, 35 behind"
    )
    # A dead-letter query's line: what it read, what it wrote to the DLQ.
    assert progress.line(event, dlq_query=True).startswith(
        "orders_1  batch 3: read 1200, written 1180;"
    )
    # A sink that reports -1 rows: unknown, not shown.
    event["sink"] = {"numOutputRows": -1}
    assert "written" not in progress.line(event)
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
            "orders.counts": {
                "values": [1, 0],
                "schema": {
                    "type": "struct",
                    "fields": [
                        {"name": "skipped", "type": "long"},
                        {"name": "tombstones", "type": "long"},
                    ],
                },
            }
        },
        "sink": {"numOutputRows": 3},
    }
    assert progress.line(json.dumps(event)) == (
        "orders_out  batch 0: read 4, written 3, dlq 0, skipped 1, late 0, tombstones 0; "
        "2.2 rows/s, 1795 ms, 1 behind"
    )


def test_reason_of_a_spark_connect_error() -> None:
    class ConnectError(Exception):  # what pyspark's Spark Connect exceptions print
        pass

    text = (
        "(STREAM_FAILED) [USER_RAISED_EXCEPTION] malformed record in stream orders at t/0@1"
        " SQLSTATE: P0001\n=== Streaming Query ===\nIdentifier: q"
    )
    assert runtime.reason(ConnectError(text)) == (
        "[USER_RAISED_EXCEPTION] malformed record in stream orders at t/0@1"
    )  # without Spark's SQLSTATE code
    assert runtime.reason(ConnectError("(TABLE_OR_VIEW_NOT_FOUND) no table x")) == (
        "[TABLE_OR_VIEW_NOT_FOUND] no table x"
    )
