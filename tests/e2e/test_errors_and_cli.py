"""Malformed records under each ``on_error``, and the command line as a user runs it.

Part 1 runs SQL on the session's SparkSession (``Pipeline``): one input topic with good records,
invalid JSON, a type mismatch, an undecodable key and a tombstone, read with ``skip``, ``dlq`` and
``fail``. Part 2 runs ``sqlstream`` in a subprocess (each starts a JVM, so there are few: a
finite run, a failing run, a SIGTERM) and in-process through click's runner for what needs no
process of its own (``explain``, a query refused before it starts). Part 3 runs the script that
``compile`` writes with ``spark-submit`` and compares its records with those of ``run``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import typing as t
import uuid
from pathlib import Path

import pytest

from sqlstream import kafkaclient, runtime
from sqlstream.kafkaclient import Record

from pipeline import AVAILABLE_NOW, Pipeline

pytestmark = pytest.mark.e2e

VENV_BIN = Path(sys.executable).parent
SQLSTREAM = VENV_BIN / "sqlstream"
ERROR_HEADERS = (
    "sqlstream.error.reason",
    "sqlstream.error.topic",
    "sqlstream.error.partition",
    "sqlstream.error.offset",
    "sqlstream.error.query",
)


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _read(bootstrap: str, topic: str) -> list[Record]:
    return kafkaclient.consume_all(bootstrap, topic, missing_ok=True)


def _content(records: t.Iterable[Record]) -> list[tuple[t.Any, ...]]:
    """Keys, values and headers, sorted: what two runs must agree on (not offsets)."""
    return sorted(
        ((r.key, r.value, tuple(r.headers)) for r in records),
        key=repr,
    )


# --------------------------------------------------------------------------------------------
# Part 1: malformed records under skip, dlq and fail
# --------------------------------------------------------------------------------------------

GOOD = [
    ("1", json.dumps({"id": "a", "amount": 1.5}), [("trace", "t-a")], 0),
    ("6", json.dumps({"id": "f", "amount": 6.0}), None, 1),
    # A missing field is not malformed: it is NULL.
    ("7", json.dumps({"id": "g"}), [("trace", "t-g"), ("empty", None)], 1),
]
BAD = {
    # name: (key, value, headers, partition)
    "invalid json": ("2", "not json {", [("trace", "t-b"), ("trace", "dup"), ("nil", None)], 0),
    "type mismatch": ("3", json.dumps({"id": "c", "amount": "abc"}), None, 1),
    "undecodable key": ("x", json.dumps({"id": "d", "amount": 4.0}), [("trace", "t-d")], 0),
}
TOMBSTONE = ("5", None, [("trace", "t-e")], 1)

EXPECTED_GOOD_VALUES = {
    b'{"k":1,"id":"a","amount":1.5}',
    b'{"k":6,"id":"f","amount":6.0}',
    b'{"k":7,"id":"g","amount":null}',
}


def _malformed_sql(src_topic: str, out_topic: str, on_error: str, dlq_topic: str | None = None) -> str:
    dlq = f", dlq_topic = '{dlq_topic}'" if dlq_topic else ""
    # No HEADER column: the DLQ must still carry the original headers.
    return f"""
CREATE STREAM src (
    id     STRING,
    k      INT KEY,
    amount DOUBLE
) FROM KAFKA (topic = '{src_topic}', starting_offsets = 'earliest', on_error = '{on_error}'{dlq});

INSERT INTO KAFKA TOPIC '{out_topic}' KEY k WITH (name = 'q_{on_error}')
SELECT k, id, amount FROM src;
"""


@pytest.fixture(scope="module")
def malformed_input(kafka_bootstrap: str) -> dict[str, t.Any]:
    """The input topic (2 partitions) and every record as the broker stored it."""
    topic = f"malformed-{_uid()}"
    kafkaclient.create_topic(kafka_bootstrap, topic, partitions=2)
    records = [*GOOD[:1], BAD["invalid json"], BAD["type mismatch"], TOMBSTONE,
               BAD["undecodable key"], *GOOD[1:]]
    kafkaclient.produce(kafka_bootstrap, topic, records)
    stored = kafkaclient.consume_all(kafka_bootstrap, topic)
    assert len(stored) == len(records)

    def find(value: str | None, key: str) -> Record:
        want = value.encode() if value is not None else None
        (hit,) = [r for r in stored if r.value == want and r.key == key.encode()]
        return hit

    return {
        "topic": topic,
        "stored": stored,
        "bad": {name: find(v[1], v[0]) for name, v in BAD.items()},
        "good": [find(v[1], v[0]) for v in GOOD],
        "tombstone": find(None, TOMBSTONE[0]),
    }


def _malformed_counts(queries: t.Sequence[t.Any], name: str) -> int:
    q = next(q for q in queries if q.name == name)
    total = 0
    for p in q.recentProgress:
        metrics = p.observedMetrics or {}
        if "src.malformed" in metrics:
            total += int(metrics["src.malformed"]["malformed"])
    return total


def test_skip_drops_malformed_records_and_counts_them(
    kafka_bootstrap: str, spark: t.Any, malformed_input: dict[str, t.Any], tmp_path: Path
) -> None:
    out = f"skip-out-{_uid()}"
    pipe = Pipeline.create(tmp_path, kafka_bootstrap, _malformed_sql(malformed_input["topic"], out, "skip"))

    queries = pipe.run(spark)

    assert [q.name for q in queries] == ["q_skip"]
    got = _read(kafka_bootstrap, out)
    assert {r.value for r in got} == EXPECTED_GOOD_VALUES
    assert sorted(r.key for r in got) == [b"1", b"6", b"7"]
    # invalid JSON, type mismatch, undecodable key; the tombstone is not malformed.
    assert _malformed_counts(queries, "q_skip") == 3
    last = queries[0].lastProgress
    assert "src.malformed" in (last.observedMetrics or {})


def test_dlq_keeps_original_bytes_and_adds_error_headers(
    kafka_bootstrap: str, spark: t.Any, malformed_input: dict[str, t.Any], tmp_path: Path
) -> None:
    out, dlq = f"dlq-out-{_uid()}", f"dlq-dlq-{_uid()}"
    src_topic = malformed_input["topic"]
    pipe = Pipeline.create(tmp_path, kafka_bootstrap, _malformed_sql(src_topic, out, "dlq", dlq))

    queries = pipe.run(spark)

    assert sorted(q.name for q in queries) == ["q_dlq", "src_dlq"]
    good = _read(kafka_bootstrap, out)
    assert {r.value for r in good} == EXPECTED_GOOD_VALUES
    dead = _read(kafka_bootstrap, dlq)
    assert len(dead) == len(BAD)
    # Nothing lost, nothing twice: good + DLQ = every record but the tombstone.
    assert len(good) + len(dead) == len(malformed_input["stored"]) - 1

    by_value = {r.value: r for r in dead}
    expected_reason = {
        "invalid json": ("json",),
        "type mismatch": ("amount", '"abc"', "DOUBLE"),
        "undecodable key": ("key", '"x"', "INT"),
    }
    for name, original in malformed_input["bad"].items():
        record = by_value.get(original.value)
        assert record is not None, f"{name} is not in the DLQ"
        assert record.key == original.key
        n = len(original.headers)
        assert record.headers[:n] == original.headers, name
        added = record.headers[n:]
        assert [k for k, _ in added] == list(ERROR_HEADERS), name
        values = {k: (v or b"").decode() for k, v in added}
        reason = values["sqlstream.error.reason"]
        assert reason.strip(), name
        for word in expected_reason[name]:
            assert word.lower() in reason.lower(), (name, reason)
        assert values["sqlstream.error.topic"] == src_topic
        assert values["sqlstream.error.partition"] == str(original.partition)
        assert values["sqlstream.error.offset"] == str(original.offset)
        assert values["sqlstream.error.query"] == "src_dlq"
    # The null-valued original header stays a header with a null value.
    json_bad = by_value[malformed_input["bad"]["invalid json"].value]
    assert ("nil", None) in json_bad.headers
    assert _malformed_counts(queries, "q_dlq") == 3


def test_fail_stops_the_query_naming_stream_topic_partition_offset(
    kafka_bootstrap: str, spark: t.Any, malformed_input: dict[str, t.Any], tmp_path: Path
) -> None:
    out = f"fail-out-{_uid()}"
    src_topic = malformed_input["topic"]
    pipe = Pipeline.create(tmp_path, kafka_bootstrap, _malformed_sql(src_topic, out, "fail"))
    compiled = pipe.compile()

    queries = runtime.start(compiled.plan, spark, compiled.connection(), trigger_override=AVAILABLE_NOW)
    try:
        (q,) = queries
        with pytest.raises(Exception) as info:  # noqa: PT011 - StreamingQueryException
            q.awaitTermination(180)
        assert q.exception() is not None
    finally:
        for q in queries:
            if q.isActive:
                q.stop()
    message = runtime.reason(info.value)
    match = re.search(rf"malformed record in stream src at {re.escape(src_topic)}/(\d+)@(\d+): (.+)", message)
    assert match, message
    at = (int(match.group(1)), int(match.group(2)))
    bad = {(r.partition, r.offset): name for name, r in malformed_input["bad"].items()}
    assert at in bad, (at, bad)
    assert "\tat " not in message
