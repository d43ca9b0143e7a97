"""``delivery = 'exactly_once'``: the steps, the script and the run agree (no JVM, no broker).

The fault tests are in tests/e2e/test_exactly_once_kills.py; here: what the description says
(``foreachBatch`` of a ``TransactionalWriter`` instead of the Kafka sink, for the sink and for
the DLQ query of a source it reads), that the script prints exactly it, and the writer's names.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t
from collections import Counter
from pathlib import Path

import pytest
from test_codegen import SECRET_JAAS, FakeTarget, _run_log, _script_log, make_plan

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.plan import Plan, Trigger
from sqlstream.project.clientconfig import client_config
from sqlstream.project.connection import Connection
from sqlstream.spark import exactly_once
from sqlstream.spark import script as codegen
from sqlstream.spark import steps as st

GOLDEN = Path(__file__).parent / "golden_exactly_once" / "shop.py"


@pytest.fixture
def connection() -> Connection:
    return Connection.from_target(FakeTarget())


def eos_plan() -> Plan:
    """The codegen test's plan with both sinks exactly once: the windowed one and the join,
    which reads ``payments``, a source with a DLQ."""
    plan = make_plan()
    plan.sinks = [dataclasses.replace(s, delivery="exactly_once") for s in plan.sinks]
    return plan


def _queries(plan: Plan, connection: Connection) -> dict[str, st.StartQuery]:
    return {
        s.name: s for s in st.steps(plan, connection=connection) if isinstance(s, st.StartQuery)
    }


def test_an_exactly_once_sink_is_a_foreach_batch_of_a_transactional_writer(
    connection: Connection,
) -> None:
    queries = _queries(eos_plan(), connection)
    write = queries["orders_1"].write
    names = [c.name for c in write]
    assert names == [
        "writeStream",
        "foreachBatch",
        "option",
        "outputMode",
        "trigger",
        "queryName",
        "start",
    ]
    assert "format" not in names  # not Spark's Kafka sink
    writer = write[1].args[0]
    assert writer == st.ExactlyOnce(
        "user-spending",
        "sqlstream-eos:shop/orders_1",
        (
            ("kafka.security.protocol", "SASL_SSL"),
            ("kafka.sasl.mechanism", "PLAIN"),
            ("kafka.sasl.jaas.config", st.FromTarget("secret", "kafka.sasl.jaas.config")),
        ),
        (("kafka.acks", "all"),),
    )
    assert write[2].args == ("checkpointLocation", st.FromTarget("checkpoint", "shop/orders_1"))
    # The DLQ query of payments (read by the exactly-once clicks_1) gets the same guarantee.
    dlq = queries["payments_dlq"].write
    assert dlq[1].name == "foreachBatch"
    assert dlq[1].args[0].transactional_id == "sqlstream-eos:shop/payments_dlq"
    assert dlq[1].args[0].topic == "payments.DLT"


def test_at_least_once_is_the_kafka_sink(connection: Connection) -> None:
    queries = _queries(make_plan(), connection)
    assert all([c.name for c in q.write][:2] == ["writeStream", "format"] for q in queries.values())


@pytest.mark.parametrize("trigger", [None, Trigger("available_now")])
def test_the_script_makes_the_calls_the_runtime_makes(
    connection: Connection, trigger: Trigger | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = eos_plan()
    ran = _run_log(plan, connection, trigger, monkeypatch)
    printed = _script_log(plan, connection, trigger, monkeypatch)
    assert Counter(map(repr, printed)) == Counter(map(repr, ran))
    writers = [e[2][0] for e in ran if e[0][-1] == "foreachBatch" and e[1] == "()"]
    assert len(writers) == 3  # two sinks and the DLQ query
    # The runtime's writer holds the secret itself (resolved from the target); the script's
    # reads it from the environment, and equals it (compared whole, not by its repr).
    spend = next(w for w in writers if w.topic == "user-spending")
    assert spend == exactly_once.TransactionalWriter(
        "user-spending",
        "sqlstream-eos:shop/orders_1",
        "broker-1:9093,broker-2:9093",
        (
            ("kafka.security.protocol", "SASL_SSL"),
            ("kafka.sasl.mechanism", "PLAIN"),
            ("kafka.sasl.jaas.config", SECRET_JAAS),
        ),
        (("kafka.acks", "all"),),
    )
    assert SECRET_JAAS not in repr(spend)  # a writer in a log shows option names only


def test_the_script_matches_its_golden_file(connection: Connection) -> None:
    text = codegen.script(eos_plan(), connection=connection)
    text = text.replace(f"sqlstream {codegen.sqlstream.__version__} ", "sqlstream <version> ")
    if os.environ.get("SQLSTREAM_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    assert SECRET_JAAS not in text
    assert "from sqlstream.spark.exactly_once import TransactionalWriter" in text


def test_the_writer_connects_as_the_topic_tools_do() -> None:
    """The target's SASL login (a JAAS config for Spark) becomes librdkafka's settings."""
    options = (
        ("kafka.security.protocol", "SASL_SSL"),
        ("kafka.sasl.mechanism", "PLAIN"),
        ("kafka.sasl.jaas.config", SECRET_JAAS),
    )
    got = exactly_once.client_settings("b:9093", options)
    assert got == client_config("b:9093", dict(options)).librdkafka()
    assert got["sasl.username"] == "svc" and got["sasl.password"] == "s3cr3t-Pa55"


def test_delivery_is_a_sink_option_and_a_project_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "queries").mkdir()
    (tmp_path / "sqlstream.yml").write_text(
        "name: p\nquery-paths: [queries]\ndefaults:\n  sink:\n    delivery: exactly_once\n"
    )
    (tmp_path / "queries" / "q.sql").write_text(
        "CREATE STREAM s (a STRING) FROM KAFKA (topic = 'in');\n"
        "INSERT INTO KAFKA TOPIC 'o1' SELECT a FROM s;\n"
        "INSERT INTO KAFKA TOPIC 'o2' WITH (delivery = 'at_least_once') SELECT a FROM s;\n"
    )
    monkeypatch.chdir(tmp_path)
    plan = compile_project(["queries"]).plan
    got = {s.topic: s.delivery for s in plan.sinks}
    assert got == {"o1": "exactly_once", "o2": "at_least_once"}


def test_an_unknown_checkpoint_never_shares_a_transactional_id() -> None:
    ids = {exactly_once.transactional_id(c) for c in ("p/a", "p/b", "q/a")}
    assert len(ids) == 3 and all(i.startswith("sqlstream-eos:") for i in ids)


def test_a_failed_batch_is_reported_with_the_writers_own_words() -> None:
    """A foreachBatch function that raises reaches the user as its message, not py4j's frames."""
    from sqlstream.spark.reason import reason

    text = (
        "[STREAM_FAILED] Query [id = 8d] terminated with exception: "
        "[FOREACH_BATCH_USER_FUNCTION_ERROR] An error occurred in the user provided function in "
        "foreach batch sink. Reason: An exception was raised by the Python Proxy. Return "
        "Message: Traceback (most recent call last):\n"
        '  File "/x/py4j/clientserver.py", line 644, in _call_proxy\n'
        "    return_value = getattr(self.pool[obj_id], method)(*params)\n"
        "RuntimeError: batch 3 not committed to topic out: Broker: Producer fenced\n"
        " SQLSTATE: 39000 SQLSTATE: XXKST\n=== Streaming Query ===\nIdentifier: q\n"
    )
    assert reason(Exception(text)) == "batch 3 not committed to topic out: Broker: Producer fenced"


_WINDOWED = "FROM s GROUP BY window(ts, '1 minute'), a"


@pytest.mark.parametrize(
    "select, warned",
    [
        # Stateful: a batch run again after a crash rebuilds state from other values.
        (f"SELECT a, max(rand()) AS r {_WINDOWED}", "RAND()"),
        (f"SELECT a, count(*) AS n, max(current_timestamp()) AS t {_WINDOWED}", "CURRENT"),
        (f"SELECT a, count(*) AS n {_WINDOWED}", None),
        # Stateless: one run of each batch is committed, and there is no state.
        ("SELECT a, uuid() AS id FROM s", None),
    ],
)
def test_a_nondeterministic_stateful_exactly_once_query_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, select: str, warned: str | None
) -> None:
    (tmp_path / "queries").mkdir()
    (tmp_path / "sqlstream.yml").write_text("name: p\nquery-paths: [queries]\n")
    (tmp_path / "queries" / "q.sql").write_text(
        "CREATE STREAM s (a STRING, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE)"
        " FROM KAFKA (topic = 'in');\n"
        f"INSERT INTO KAFKA TOPIC 'o' WITH (delivery = 'exactly_once')\n{select};\n"
    )
    monkeypatch.chdir(tmp_path)
    warnings = [w for w in compile_project(["queries"]).warnings if "exactly-once" in w.message]
    if warned is None:
        assert warnings == []
    else:
        (w,) = warnings
        assert w.message.startswith(warned) and w.location is not None
        assert w.location.line == 3


def test_a_bounded_run_writes_an_exactly_once_sink_with_the_kafka_batch_sink(
    connection: Connection,
) -> None:
    """No checkpoint, nothing to replay: the writer's options on Spark's Kafka batch write."""
    from test_bounded import BACKFILL

    from sqlstream.spark import bounded

    plain = bounded.steps(make_plan(), connection=connection, rng=BACKFILL)
    eos = bounded.steps(eos_plan(), connection=connection, rng=BACKFILL)

    def writes(steps: list[t.Any]) -> dict[str, list[tuple[t.Any, ...]]]:
        return {
            s.name: sorted(map(repr, s.chains[1].calls))
            for s in steps
            if isinstance(s, bounded.SaveQuery)
        }

    assert writes(eos) == writes(plain)


def test_what_an_exactly_once_batch_wrote_is_counted() -> None:
    """foreachBatch reports no numOutputRows (-1); the observed count stands in for it."""
    from sqlstream.spark import progress

    event = {
        "numInputRows": 12,
        "sink": {"numOutputRows": -1},
        "observedMetrics": {"big_1.transactional": {"written": 9}, "s.counts": {"dlq": 1}},
    }
    assert progress.written(event) == 9
    assert progress.written({**event, "observedMetrics": {}}) is None
