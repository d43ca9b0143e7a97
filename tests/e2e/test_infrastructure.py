"""The test infrastructure itself: a jar-started Kafka broker, the client helpers, Spark's
connector.

If these fail, every other end-to-end test would fail for a reason that is not the code under
test; run them first when the environment changes.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from sqlstream.errors import RunFailure
from sqlstream.local import broker as localkafka
from sqlstream.local.client import consume_all, create_topic, produce

N = 100


def _records(n: int = N) -> list[tuple[str, str, list[tuple[str, bytes | None]]]]:
    return [
        (
            f"user-{i % 7}",
            f'{{"order_id": "o-{i}", "amount": {i}.5}}',
            [("trace-id", f"trace-{i}".encode()), ("seq", str(i).encode()), ("empty", None)],
        )
        for i in range(n)
    ]


def test_produce_then_consume_all_returns_exact_records(
    kafka_bootstrap: str, topic_name: str
) -> None:
    create_topic(kafka_bootstrap, topic_name, partitions=1)
    assert produce(kafka_bootstrap, topic_name, _records()) == N

    got = consume_all(kafka_bootstrap, topic_name)

    assert [r.offset for r in got] == list(range(N))
    assert [(r.key, r.value, r.headers) for r in got] == [
        (k.encode(), v.encode(), h) for k, v, h in _records()
    ]
    assert got[42].header("trace-id") == b"trace-42"
    assert all(r.timestamp and r.timestamp > 0 for r in got)


def test_consume_all_reads_every_partition(kafka_bootstrap: str, topic_name: str) -> None:
    create_topic(kafka_bootstrap, topic_name, partitions=3)
    produce(
        kafka_bootstrap,
        topic_name,
        [(None, f"v{i}", None, i % 3) for i in range(30)] + [(b"k", None)],  # a null value too
    )

    got = consume_all(kafka_bootstrap, topic_name)

    assert len(got) == 31
    assert {r.partition for r in got} == {0, 1, 2}
    assert sorted(r.value for r in got if r.value is not None) == sorted(
        f"v{i}".encode() for i in range(30)
    )
    assert [r.key for r in got if r.value is None] == [b"k"]


def test_consume_all_of_missing_topic(kafka_bootstrap: str, topic_name: str) -> None:
    assert consume_all(kafka_bootstrap, topic_name, missing_ok=True) == []


def test_spark_batch_reads_records_and_headers(
    kafka_bootstrap: str, topic_name: str, spark: t.Any
) -> None:
    create_topic(kafka_bootstrap, topic_name)
    produce(kafka_bootstrap, topic_name, _records())

    df = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", kafka_bootstrap)
        .option("subscribe", topic_name)
        .option("startingOffsets", "earliest")
        .option("includeHeaders", "true")
        .load()
    )
    rows = (
        df.selectExpr(
            "CAST(key AS STRING) AS key",
            "CAST(value AS STRING) AS value",
            "offset",
            "CAST(filter(headers, h -> h.key = 'trace-id')[0].value AS STRING) AS trace_id",
            "size(headers) AS n_headers",
        )
        .orderBy("offset")
        .collect()
    )

    assert len(rows) == N
    assert rows[7]["key"] == "user-0"
    assert rows[7]["value"] == '{"order_id": "o-7", "amount": 7.5}'
    assert rows[7]["trace_id"] == "trace-7"
    assert {r["n_headers"] for r in rows} == {3}


def test_spark_batch_write_is_read_back(
    kafka_bootstrap: str, topic_name: str, spark: t.Any
) -> None:
    out = f"{topic_name}-out"
    create_topic(kafka_bootstrap, out, partitions=2)
    df = spark.createDataFrame(
        [(f"k{i}", f"value-{i}", i % 2) for i in range(20)], "key STRING, value STRING, p INT"
    ).selectExpr(
        "key",
        "value",
        "p AS partition",
        "array(named_struct('key', 'source', 'value', CAST('sqlstream' AS BINARY))) AS headers",
    )
    (
        df.write.format("kafka")
        .option("kafka.bootstrap.servers", kafka_bootstrap)
        .option("topic", out)
        .save()
    )

    got = consume_all(kafka_bootstrap, out)

    assert sorted((r.key, r.value) for r in got) == sorted(
        (f"k{i}".encode(), f"value-{i}".encode()) for i in range(20)
    )
    assert {(r.key, r.partition) for r in got} == {(f"k{i}".encode(), i % 2) for i in range(20)}
    assert {tuple(r.headers) for r in got} == {(("source", b"sqlstream"),)}


def test_spark_streaming_kafka_to_kafka_available_now(
    kafka_bootstrap: str, topic_name: str, spark: t.Any, tmp_path: Path
) -> None:
    out = f"{topic_name}-out"
    create_topic(kafka_bootstrap, topic_name, partitions=2)
    produce(kafka_bootstrap, topic_name, [(f"k{i}", f"{i}", None, i % 2) for i in range(50)])

    query = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", kafka_bootstrap)
        .option("subscribe", topic_name)
        .option("startingOffsets", "earliest")
        .load()
        .selectExpr("key", "CAST(CAST(value AS STRING) AS INT) * 2 AS doubled")
        .selectExpr("key", "CAST(doubled AS STRING) AS value")
        .writeStream.format("kafka")
        .option("kafka.bootstrap.servers", kafka_bootstrap)
        .option("topic", out)
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)
    assert query.exception() is None

    got = consume_all(kafka_bootstrap, out)
    assert sorted((r.key, int(r.value)) for r in got) == sorted(
        (f"k{i}".encode(), 2 * i) for i in range(50)
    )


def test_up_on_running_state_dir_returns_same_broker(
    kafka_broker: localkafka.Broker | None,
) -> None:
    if kafka_broker is None:
        pytest.skip("the session broker is external (SQLSTREAM_TEST_BOOTSTRAP)")
    assert localkafka.status(kafka_broker.state_dir) == kafka_broker

    again = localkafka.up(port=0, state_dir=kafka_broker.state_dir, wait=10)

    assert again == kafka_broker
    assert localkafka.ping(again.bootstrap)


def test_down_stops_broker_and_restart_keeps_data(tmp_path: Path, topic_name: str) -> None:
    state_dir = tmp_path / "kafka"
    broker = localkafka.up(port=localkafka.free_port(), state_dir=state_dir)
    try:
        assert localkafka.status(state_dir) == broker
        create_topic(broker.bootstrap, topic_name)
        produce(broker.bootstrap, topic_name, [("k", "v", [("h", b"1")])])

        assert localkafka.down(state_dir) is True
        assert localkafka.status(state_dir) is None
        assert not localkafka.ping(broker.bootstrap, timeout=0.5)
        assert localkafka.down(state_dir) is False

        restarted = localkafka.up(port=0, state_dir=state_dir)  # formatted storage is reused
        got = consume_all(restarted.bootstrap, topic_name)
        assert [(r.key, r.value, r.headers) for r in got] == [(b"k", b"v", [("h", b"1")])]
    finally:
        localkafka.down(state_dir)
    assert localkafka.status(state_dir) is None


def test_up_on_a_taken_port_fails_clearly(
    kafka_broker: localkafka.Broker | None, tmp_path: Path
) -> None:
    if kafka_broker is None:
        pytest.skip("the session broker is external (SQLSTREAM_TEST_BOOTSTRAP)")
    with pytest.raises(RunFailure, match="already in use"):
        localkafka.up(port=kafka_broker.port, state_dir=tmp_path / "kafka2")
    assert localkafka.status(tmp_path / "kafka2") is None


def test_kafka_commands_find_the_projects_broker_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kafka up`` at the root, ``status`` in queries/, ``down`` in queries/sub: one broker."""
    from click.testing import CliRunner

    from sqlstream.cli.main import cli

    root = tmp_path / "proj"
    (root / "queries" / "sub").mkdir(parents=True)
    (root / "sqlstream.yml").write_text("name: shop\n")
    runner = CliRunner()

    def kafka(cwd: Path, *args: str) -> tuple[int, str]:
        monkeypatch.chdir(cwd)
        result = runner.invoke(cli, ["kafka", *args])
        return result.exit_code, result.output

    code, out = kafka(root / "queries", "up", "--port", str(localkafka.free_port()))
    try:
        assert code == 0, out
        broker = localkafka.status(root / ".sqlstream" / "kafka")
        assert broker is not None and f"bootstrap servers {broker.bootstrap}" in out
        assert not (root / "queries" / ".sqlstream").exists()

        assert kafka(root / "queries", "status") == (
            0,
            f"kafka is up: bootstrap servers {broker.bootstrap} (pid {broker.pid})\n",
        )
        assert kafka(root / "queries" / "sub", "down") == (0, "kafka stopped\n")
        assert kafka(root, "status") == (1, "kafka is not running\n")
    finally:
        localkafka.down(root / ".sqlstream" / "kafka")
