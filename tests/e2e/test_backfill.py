"""Bounded runs (``sqlstream run --from X --until Y``) on a real broker and Spark, exact records.

A bounded run reads the range once as a batch job, writes through the same sinks (key, headers,
DLQ) as a streaming run, and leaves no checkpoint. One test runs the command as a process (exit
code, summary, no checkpoint folder); the others run ``bounded.run`` on the session's Spark.
"""

from __future__ import annotations

import json
import re
import subprocess
import typing as t
from pathlib import Path

import pytest
from cliproc import finished
from pipeline import Pipeline

from sqlstream.local.client import consume_all, create_topic, produce
from sqlstream.spark import bounded

pytestmark = pytest.mark.e2e

BASE_MS = 1_714_557_600_000
"""2024-05-01T10:00:00Z, the Kafka timestamp of the first record of the timestamp test."""


def _run(root: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``sqlstream run queries ARGS`` in ``root``, as a process."""
    return finished(["run", "queries", *args], root, timeout=timeout)


def j(**fields: t.Any) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def topics(bootstrap: str, *names: str) -> None:
    for name in names:
        create_topic(bootstrap, name, partitions=1)


def backfill(pipeline: Pipeline, spark: t.Any, start: str | None, end: str | None) -> list[str]:
    """``bounded.run`` of the pipeline's project; the lines it printed."""
    compiled = pipeline.compile()
    rng = bounded.parse_range(start, end)
    lines: list[str] = []
    assert (
        bounded.run(compiled.plan, compiled.connection(), rng, out=lines.append, spark=spark) == 0
    )
    return [
        re.sub(r"\(\S*/queries/", "(queries/", line) for line in lines
    ]  # paths as in the project


def test_backfill_of_offsets_0_to_99(kafka_bootstrap: str, topic_name: str, tmp_path: Path) -> None:
    """150 records in the topic, offsets 0..99 backfilled: exactly 100 written, with the key
    and headers a streaming run writes, and no checkpoint anywhere."""
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src, out)
    produce(kafka_bootstrap, src, [(f"u{i % 7}", j(n=i), [("trace", f"t{i}")]) for i in range(150)])
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM events (
            n     INT,
            user  STRING KEY,
            trace STRING HEADER('trace')
        ) FROM KAFKA (topic = '{src}', max_offsets_per_trigger = 10);

        INSERT INTO KAFKA TOPIC '{out}'
            KEY user
            HEADERS ('trace' = trace, 'via' = 'backfill')
        SELECT n, user, trace FROM events;
        """,
    )
    until = json.dumps({src: {"0": 100}})
    done = _run(tmp_path, "--from", "earliest", "--until", until, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        "query q_1 (queries/q.sql:8): read 100 from events; wrote 100" in done.stdout.splitlines()
    )
    written = consume_all(kafka_bootstrap, out)
    assert sorted(json.loads(r.value or b"")["n"] for r in written) == list(range(100))
    by_n = {json.loads(r.value or b"")["n"]: r for r in written}
    assert by_n[42].key == b"u0" and by_n[99].key == b"u1"
    assert by_n[42].headers == [("trace", b"t42"), ("via", b"backfill")]
    assert not (tmp_path / "checkpoints").exists()
    assert not list(tmp_path.rglob("sqlstream-state-shape.json"))


def test_a_timestamp_range(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    """--from (included) and --until (excluded) as ISO timestamps, on the records' Kafka time."""
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src, out)
    minute = 60_000
    produce(
        kafka_bootstrap, src, [(None, j(n=i), None, None, BASE_MS + i * minute) for i in range(6)]
    )
    pipeline = Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM ticks (n INT) FROM KAFKA (topic = '{src}');
        INSERT INTO KAFKA TOPIC '{out}' SELECT n FROM ticks;
        """,
    )
    lines = backfill(pipeline, spark, "2024-05-01T10:02:00Z", "2024-05-01 10:04:00")
    assert sorted(json.loads(r.value or b"")["n"] for r in consume_all(kafka_bootstrap, out)) == [
        2,
        3,
    ]
    assert "query q_1 (queries/q.sql:3): read 2 from ticks; wrote 2" in lines
    # A range after the last record: a partition with none at or after --from reads nothing.
    assert "read 0 from ticks; wrote 0" in backfill(pipeline, spark, "2030-01-01", None)[-1]
    assert not (tmp_path / "checkpoints").exists()


def test_a_malformed_record_in_the_range_goes_to_the_dlq(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    src, out, dlq = f"{topic_name}-in", f"{topic_name}-out", f"{topic_name}.DLT"
    topics(kafka_bootstrap, src, out, dlq)
    values = [j(n=0), b"not json", j(n=2), j(n=3), b"{"]
    produce(kafka_bootstrap, src, [(f"k{i}", v, [("h", "x")]) for i, v in enumerate(values)])
    pipeline = Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM nums (n INT)
        FROM KAFKA (topic = '{src}', on_error = 'dlq', dlq_topic = '{dlq}');
        INSERT INTO KAFKA TOPIC '{out}' SELECT n FROM nums;
        """,
    )
    lines = backfill(pipeline, spark, None, json.dumps({src: {"0": 4}}))  # offsets 0..3
    assert sorted(json.loads(r.value or b"")["n"] for r in consume_all(kafka_bootstrap, out)) == [
        0,
        2,
        3,
    ]
    dead = consume_all(kafka_bootstrap, dlq)
    assert [(r.key, r.value) for r in dead] == [
        (b"k1", b"not json")
    ]  # unchanged; offset 4 not read
    assert dead[0].headers[0] == ("h", b"x")
    assert any(key.startswith("sqlstream.error") for key, _ in dead[0].headers)
    assert lines[1:] == [
        "dead-letter query nums_dlq: wrote 1 malformed records of nums",
        "query q_1 (queries/q.sql:4): read 4 from nums, 1 malformed; wrote 3",
    ]


def test_a_windowed_query_includes_late_records(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    """In batch Spark ignores the watermark: a record a streaming run drops as late (10:00:30,
    after 10:05:00 moved the watermark past its window) is counted by a bounded run, and every
    window is written, the last one included."""
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src, out)
    times = ["10:00:10", "10:00:20", "10:05:00", "10:00:30"]
    produce(kafka_bootstrap, src, [(None, j(user="u", at=f"2024-05-01T{x}Z")) for x in times])
    pipeline = Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM clicks (
            user STRING,
            at   TIMESTAMP,
            WATERMARK FOR at AS at - INTERVAL '1' MINUTE
        ) FROM KAFKA (topic = '{src}');

        INSERT INTO KAFKA TOPIC '{out}'
        SELECT window.start AS minute, user, count(*) AS clicks
        FROM clicks
        GROUP BY window(at, '1 minute'), user;
        """,
    )
    backfill(pipeline, spark, "earliest", "latest")
    got = sorted(
        (json.loads(r.value or b"")["minute"], json.loads(r.value or b"")["clicks"])
        for r in consume_all(kafka_bootstrap, out)
    )
    assert [c for _, c in got] == [3, 1], got
    assert not (tmp_path / "checkpoints").exists()


def test_offsets_of_one_partition_of_two_are_refused_before_spark(
    kafka_bootstrap: str, topic_name: str, tmp_path: Path
) -> None:
    """Spark's batch source refuses offsets that do not name every partition, after the JVM's
    start and with its own assertion; the run refuses them at once, naming the partitions."""
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    create_topic(kafka_bootstrap, src, partitions=2)
    create_topic(kafka_bootstrap, out, partitions=1)
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM events (n INT) FROM KAFKA (topic = '{src}');
        INSERT INTO KAFKA TOPIC '{out}' SELECT n FROM events;
        """,
    )
    until = json.dumps({src: {"0": 10}})
    done = _run(tmp_path, "--until", until, timeout=120)
    assert done.returncode == 2, done.stderr[-3000:]
    assert (
        f"error: --until gives offsets of {src} partition(s) 0, but the topic has partition(s) 0, 1"
        in done.stderr
    )
    assert "hint: give every partition: 0, 1 (-1 is latest)" in done.stderr
    assert "Traceback" not in done.stderr and "Exception" not in done.stderr
