"""Every trigger a sink can take, on a real broker and the session's Spark, with exact records.

The other end-to-end tests use ``available_now``, which ends by itself. Here: a processing-time
trigger kept running while records arrive in two bursts, continuous mode, real-time mode (and a
stateful query it must refuse before anything starts), and ``once``. The long-running triggers
are started with ``Pipeline.running``, which stops the queries when the test has read what it
waits for.

Source topics have one partition: continuous and real-time modes run one long-lived task per
source partition, all at once, and the session is ``local[2]`` (two task slots). A query with
more partitions than slots does not fail: the partitions without a slot are simply not read
until a slot frees (in real-time mode, at the end of the batch: 5 minutes by default).
"""

from __future__ import annotations

import json
import time
import typing as t
from pathlib import Path

import pytest
from pipeline import Pipeline

from sqlstream.compiler.plan import Trigger
from sqlstream.errors import RunFailure, UserErrors
from sqlstream.local.client import Record, consume_all, create_topic, produce
from sqlstream.spark import runtime

pytestmark = pytest.mark.e2e

Row = tuple[bytes | None, bytes | None]
"""(key, value) of one output record."""


def j(**fields: t.Any) -> bytes:
    """The JSON Spark's ``to_json`` writes: fields in order, no blanks."""
    return json.dumps(fields, separators=(",", ":")).encode()


def rows(records: list[Record]) -> list[Row]:
    """(key, value) of records, sorted: Spark's tasks may interleave, and a list keeps doubles."""
    return sorted(((r.key, r.value) for r in records), key=lambda r: (r[0] or b"", r[1] or b""))


SOURCE = """
    CREATE STREAM orders (
        order_id   STRING,
        user_id    STRING,
        amount     DOUBLE,
        event_time TIMESTAMP,
        WATERMARK FOR event_time AS event_time - INTERVAL '10' SECONDS
    ) FROM KAFKA (topic = '{src}', starting_offsets = 'earliest');
"""


def stateless(src: str, out: str, trigger: str) -> str:
    """A JSON filter/project/key query. The source has a WATERMARK (which continuous mode leaves
    out) and fails on a malformed record (the default ``on_error``: a ``raise_error`` filter)."""
    return (
        SOURCE.format(src=src)
        + f"""

        INSERT INTO KAFKA TOPIC '{out}'
            KEY concat('user-', user_id)
            WITH (trigger = {trigger})
        SELECT order_id, user_id, amount * 2 AS doubled FROM orders WHERE amount > 10;
        """
    )


def order(order_id: str, user_id: str, amount: float) -> tuple[None, bytes]:
    event_time = "2020-01-01T10:00:00Z"
    return (None, j(order_id=order_id, user_id=user_id, amount=amount, event_time=event_time))


MALFORMED = r"malformed record in stream orders at \S+/0@3: not valid JSON"


def expected(*orders: tuple[str, str, float]) -> list[Row]:
    return sorted(
        (f"user-{u}".encode(), j(order_id=o, user_id=u, doubled=a * 2)) for o, u, a in orders
    )


def topics(bootstrap: str, *names: str) -> None:
    for name in names:
        create_topic(bootstrap, name, partitions=1)


# --------------------------------------------------------------------------------------------
# Processing time: two bursts while the query runs, each in its own micro-batch
# --------------------------------------------------------------------------------------------


def test_processing_time_two_bursts(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src, out)
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, stateless(src, out, "'1 second'"))
    with pipeline.running(spark, Trigger("processing_time", "1 second")) as queries:
        produce(kafka_bootstrap, src, [order("o1", "u1", 25.0), order("o2", "u2", 5.0)])
        first = pipeline.wait_for(out, 1, queries)
        produce(kafka_bootstrap, src, [order("o3", "u1", 12.5), order("o4", "u3", 40.0)])
        both = pipeline.wait_for(out, 3, queries)
        (query,) = queries
        # A batch's progress is reported after its records are written: wait for the last one.
        deadline = time.monotonic() + 30
        while (
            sum(p["numInputRows"] for p in query.recentProgress) < 4 and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        batches = [p for p in query.recentProgress if p["numInputRows"] > 0]

    assert rows(first) == expected(("o1", "u1", 25.0))
    assert rows(both) == expected(("o1", "u1", 25.0), ("o3", "u1", 12.5), ("o4", "u3", 40.0))
    # The second burst was produced after the first one's output was read: a later batch.
    assert len(batches) >= 2, [p["batchId"] for p in query.recentProgress]
    assert sum(p["numInputRows"] for p in batches) == 4


# --------------------------------------------------------------------------------------------
# Continuous and real time: stateless queries only; records flow through without micro-batches
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql_trigger", "trigger"),
    [
        ("'continuous 1 second'", Trigger("continuous", "1 second")),
        ("real_time", Trigger("real_time")),
    ],
    ids=["continuous", "real_time"],
)
def test_stateless_modes(
    kafka_bootstrap: str,
    spark: t.Any,
    topic_name: str,
    tmp_path: Path,
    sql_trigger: str,
    trigger: Trigger,
) -> None:
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src, out)
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, stateless(src, out, sql_trigger))
    # The decoding's error filter runs in these modes too: a malformed record fails the query.
    with pytest.raises(AssertionError, match=MALFORMED):
        with pipeline.running(spark, trigger) as queries:
            produce(kafka_bootstrap, src, [order("o1", "u1", 25.0), order("o2", "u2", 5.0)])
            produce(kafka_bootstrap, src, [order("o3", "u1", 12.5)])
            got = pipeline.wait_for(out, 2, queries)
            produce(kafka_bootstrap, src, [(None, b"not json")])
            pipeline.wait_for(out, 3, queries, timeout=30)  # fails when the query does

    assert rows(got) == expected(("o1", "u1", 25.0), ("o3", "u1", 12.5))
    assert rows(consume_all(kafka_bootstrap, out)) == rows(got)


def test_real_time_refuses_a_stateful_query(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src, out)
    produce(kafka_bootstrap, src, [order("o1", "u1", 25.0)])
    windowed = (
        SOURCE.format(src=src)
        + f"""
        INSERT INTO KAFKA TOPIC '{out}' WITH (trigger = {{trigger}})
        SELECT window.start AS window_start, sum(amount) AS total
        FROM orders
        GROUP BY window(event_time, '5 seconds');
        """
    )
    # The planner refuses it at the GROUP BY.
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, windowed.format(trigger="real_time"))
    with pytest.raises(UserErrors) as info:
        pipeline.compile()
    (error,) = info.value.errors
    assert error.message == "real-time mode cannot run an aggregation: it keeps state"
    assert error.location is not None and (error.location.line, error.location.col) == (13, 18)

    # A run's --trigger real_time over a plan compiled for another trigger: the runtime's check
    # refuses it before any query starts.
    pipeline.write(windowed.format(trigger="'1 second'"))
    compiled = pipeline.compile()
    with pytest.raises(
        RunFailure, match=r"real-time mode cannot run a stateful query \(Aggregate\)"
    ):
        runtime.start(
            compiled.plan, spark, compiled.connection(), trigger_override=Trigger("real_time")
        )
    assert not [q for q in spark.streams.active if q.name == compiled.plan.sinks[0].name]
    assert consume_all(kafka_bootstrap, out) == []


def test_continuous_beside_a_windowed_query_is_refused_before_anything_starts(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    """The windowed query keeps the source's watermark; Spark refuses the continuous one."""
    src, out, agg = f"{topic_name}-in", f"{topic_name}-out", f"{topic_name}-agg"
    topics(kafka_bootstrap, src, out, agg)
    pipeline = Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        SOURCE.format(src=src)
        + f"""
        INSERT INTO KAFKA TOPIC '{out}' WITH (trigger = 'continuous 1 second')
        SELECT order_id FROM orders;

        INSERT INTO KAFKA TOPIC '{agg}' WITH (trigger = '1 second')
        SELECT window.start AS window_start, sum(amount) AS total
        FROM orders
        GROUP BY window(event_time, '5 seconds');
        """,
    )
    compiled = pipeline.compile()
    with pytest.raises(RunFailure, match="EventTimeWatermark") as info:
        runtime.start(compiled.plan, spark, compiled.connection())
    assert "run it on its own with --select" in str(info.value)
    names = {s.name for s in compiled.plan.sinks}
    assert not [q for q in spark.streams.active if q.name in names]


# --------------------------------------------------------------------------------------------
# Once: one batch, then the query ends by itself
# --------------------------------------------------------------------------------------------


def test_once(kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path) -> None:
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src, out)
    produce(
        kafka_bootstrap,
        src,
        [order("o1", "u1", 25.0), order("o2", "u2", 5.0), order("o3", "u1", 12.5)],
    )
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, stateless(src, out, "once"))
    (query,) = pipeline.run(spark, trigger=Trigger("once"), timeout=60)

    assert rows(pipeline.wait_for(out, 2)) == expected(("o1", "u1", 25.0), ("o3", "u1", 12.5))
    assert [p["batchId"] for p in query.recentProgress] == [0]
