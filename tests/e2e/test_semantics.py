"""What a sqlstream query means, end to end: SQL files in, exact Kafka records out.

Each test produces records to a real broker, runs a project with the ``available_now`` trigger
on the session's Spark (``Pipeline``), and asserts the exact records of the output topics: key,
value, headers and partition. Event times are fixed dates in the past, so nothing depends on the
clock. Spark streaming runs cost seconds each on two cores, so related sinks share one project
(one run starts all its queries) and the two-run scenarios share one fixture.
"""

from __future__ import annotations

import json
import typing as t
import uuid
from pathlib import Path

import pytest
from pipeline import Pipeline

from sqlstream.local.client import consume_all, create_topic, produce

pytestmark = pytest.mark.e2e

Row = tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]], int]
"""(key, value, headers, partition) of one output record."""


def records(bootstrap: str, topic: str) -> list[Row]:
    """The records of ``topic`` as (key, value, headers, partition), in a stable order.

    Sorted rather than in offset order where Spark's tasks may interleave; a list, not a set, so
    a record written twice shows up twice.
    """
    got = consume_all(bootstrap, topic, missing_ok=True)
    return in_order([(r.key, r.value, r.headers, r.partition) for r in got])


def in_order(rows: list[Row]) -> list[Row]:
    """Rows sorted by partition, key, value, headers (None first)."""
    return sorted(rows, key=lambda r: (r[3], r[0] or b"", r[1] or b"", repr(r[2])))


def values(bootstrap: str, topic: str) -> list[bytes | None]:
    return sorted(
        (r.value for r in consume_all(bootstrap, topic, missing_ok=True)), key=lambda v: v or b""
    )


def j(**fields: t.Any) -> bytes:
    """The JSON Spark's ``to_json`` writes: fields in order, no blanks."""
    return json.dumps(fields, separators=(",", ":")).encode()


def topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    for name in names:
        create_topic(bootstrap, name, partitions=partitions)


# --------------------------------------------------------------------------------------------
# 1. JSON in, filter and project through a derived stream, JSON out with a key
# --------------------------------------------------------------------------------------------


def test_json_filter_project_key_through_derived_stream(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src, out)
    produce(
        kafka_bootstrap,
        src,
        [
            (None, j(order_id="o1", user_id="u1", amount=25.0, note="gift")),
            (None, j(order_id="o2", user_id="u2", amount=5.0, note="small")),  # filtered out
            (None, j(order_id="o3", user_id="u1", amount=12.5)),  # note missing -> null
            (None, j(order_id="o4", user_id="u3", amount=None, note="x")),  # null amount: filtered
            (None, j(order_id="o5", user_id=None, amount=99.0, note=None, extra=1)),  # null key
        ],
    )
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM orders (
            order_id STRING,
            user_id  STRING,
            amount   DOUBLE,
            note     STRING
        ) FROM KAFKA (topic = '{src}', starting_offsets = 'earliest');

        CREATE STREAM big_orders AS
        SELECT order_id, user_id, amount * 2 AS doubled, upper(note) AS note
        FROM orders
        WHERE amount > 10;

        INSERT INTO KAFKA TOPIC '{out}'
            KEY concat('user-', user_id)
        SELECT order_id, user_id, doubled, note FROM big_orders;
        """,
    ).run(spark)

    assert records(kafka_bootstrap, out) == in_order(
        [
            (b"user-u1", j(order_id="o1", user_id="u1", doubled=50.0, note="GIFT"), [], 0),
            (b"user-u1", j(order_id="o3", user_id="u1", doubled=25.0, note=None), [], 0),
            # concat with a null is null: a null key, not the text "null"
            (None, j(order_id="o5", user_id=None, doubled=198.0, note=None), [], 0),
        ]
    )


# --------------------------------------------------------------------------------------------
# 2. A windowed aggregate with a watermark: final windows only, late records dropped on restart
# --------------------------------------------------------------------------------------------


def _event(minute: int, second: int, amount: int) -> tuple[None, bytes]:
    return (None, j(event_time=f"2020-01-01T10:{minute:02d}:{second:02d}Z", amount=amount))


def _window(start: str, end: str, total: int, n: int) -> bytes:
    return j(
        window_start=f"2020-01-01T10:{start}:00.000Z",
        window_end=f"2020-01-01T10:{end}:00.000Z",
        total=total,
        n=n,
    )


def test_windowed_aggregate_emits_final_windows_and_drops_late_records_across_restart(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    """5-minute windows, watermark = max event time - 10 minutes; a window is written once,
    when the watermark passes its end.

    Spark applies the watermark a batch computes in the *next* batch. With ``available_now``
    Spark 4 does run a final no-data batch when the watermark moved in the last batch (it stops
    only when no batch, with or without data, is needed). To be deterministic either way, the
    source reads 4 records per batch (``max_offsets_per_trigger``, one partition, so batches are
    exact) and the last batch of each run never moves the watermark: the windows closed by a run
    are closed by a batch that still has data after it, and the final no-data batch (if any) has
    nothing more to close.
    """
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src, out)
    pipeline = Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM events (
            amount     BIGINT,
            event_time TIMESTAMP,
            WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
        ) FROM KAFKA (topic = '{src}', starting_offsets = 'earliest', max_offsets_per_trigger = 4);

        INSERT INTO KAFKA TOPIC '{out}'
        SELECT window.start AS window_start, window.end AS window_end,
               sum(amount) AS total, count(*) AS n
        FROM events
        GROUP BY window(event_time, '5 minutes');
        """,
    )

    # Run 1. Batch 0 (4 records): max 10:22, so the watermark becomes 10:12. Batch 1 (2 records,
    # neither newer than 10:22) runs with watermark 10:12: [10:00, 10:05) and [10:05, 10:10) are
    # final; [10:10, 10:15) (ends after 10:12) and [10:20, 10:25) stay open.
    produce(
        kafka_bootstrap,
        src,
        [
            _event(1, 0, 1),
            _event(3, 0, 2),
            _event(6, 0, 4),
            _event(22, 0, 8),
            _event(13, 0, 16),  # batch 1: not late (10:13 > 10:12)
            _event(21, 0, 32),  # batch 1
        ],
    )
    pipeline.run(spark)
    first = [
        _window("00", "05", 1 + 2, 2),
        _window("05", "10", 4, 1),
    ]
    assert values(kafka_bootstrap, out) == sorted(first)

    # Run 2, from the checkpoint (the watermark 10:12 is in it). Batch 2: a LATE record for the
    # closed window [10:00, 10:05) (dropped), a record for the open [10:10, 10:15), and 10:40
    # which moves the watermark to 10:30. Batch 3 (one record, not newer than 10:40) runs with
    # watermark 10:30: [10:10, 10:15) and [10:20, 10:25) become final; [10:35, 10:40) and
    # [10:40, 10:45) stay open.
    produce(
        kafka_bootstrap,
        src,
        [
            _event(2, 0, 100),  # late: its window was written and its state dropped
            _event(14, 0, 64),
            _event(40, 0, 128),
            _event(35, 0, 256),
            _event(36, 0, 512),  # batch 3
        ],
    )
    queries = pipeline.run(spark)
    assert values(kafka_bootstrap, out) == sorted(
        first
        + [
            _window("10", "15", 16 + 64, 2),
            _window("20", "25", 8 + 32, 2),
        ]
    )
    dropped = sum(
        op.get("numRowsDroppedByWatermark", 0)
        for p in queries[0].recentProgress
        for op in p.stateOperators
    )
    assert dropped == 1
    assert all(r.key is None for r in consume_all(kafka_bootstrap, out))


# --------------------------------------------------------------------------------------------
# 3. Per-row topic routing
# --------------------------------------------------------------------------------------------


def test_per_row_topic_routing(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    src, high, low = f"{topic_name}-in", f"{topic_name}-high", f"{topic_name}-low"
    topics(kafka_bootstrap, src, high, low)
    produce(
        kafka_bootstrap,
        src,
        [(None, j(id=str(i), amount=a)) for i, a in enumerate([50, 150, 100, 101, 0])],
    )
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM payments (id STRING, amount INT)
        FROM KAFKA (topic = '{src}', starting_offsets = 'earliest');

        INSERT INTO KAFKA TOPIC (CASE WHEN amount > 100 THEN '{topic_name}-high'
                                      ELSE '{topic_name}-low' END)
            KEY id
        SELECT id, amount FROM payments;
        """,
    ).run(spark)

    assert records(kafka_bootstrap, high) == [
        (b"1", j(id="1", amount=150), [], 0),
        (b"3", j(id="3", amount=101), [], 0),
    ]
    assert records(kafka_bootstrap, low) == [
        (b"0", j(id="0", amount=50), [], 0),
        (b"2", j(id="2", amount=100), [], 0),
        (b"4", j(id="4", amount=0), [], 0),
    ]


# --------------------------------------------------------------------------------------------
# 4. An explicit partition
# --------------------------------------------------------------------------------------------


def test_explicit_partition(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src)
    topics(kafka_bootstrap, out, partitions=3)
    produce(kafka_bootstrap, src, [(None, j(id=str(i))) for i in range(9)])
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM items (id STRING) FROM KAFKA (topic = '{src}', starting_offsets = 'earliest');

        INSERT INTO KAFKA TOPIC '{out}'
            KEY CAST(id AS INT) + 100
            PARTITION CAST(id AS INT) % 3
        SELECT id FROM items;
        """,
    ).run(spark)

    got = consume_all(kafka_bootstrap, out)
    assert sorted((r.partition, r.key, r.value) for r in got) == sorted(
        # a non-string KEY is written as the UTF-8 of its string form
        (i % 3, str(i + 100).encode(), j(id=str(i)))
        for i in range(9)
    )


# --------------------------------------------------------------------------------------------
# 5. Headers read and written
# --------------------------------------------------------------------------------------------


def test_headers_read_and_written(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    src, named, passed = f"{topic_name}-in", f"{topic_name}-named", f"{topic_name}-passed"
    topics(kafka_bootstrap, src, named, passed)
    inputs: dict[str, list[tuple[str, bytes | None]] | None] = {
        "1": [("trace-id", b"first"), ("x", b"\x00\xff"), ("trace-id", b"last")],  # last wins
        "2": None,  # no headers at all
        "3": [("other", b"v")],  # no trace-id
        "4": [("trace-id", b"t4"), ("empty", None)],  # a header with a null value
    }
    produce(kafka_bootstrap, src, [(None, j(id=i), h) for i, h in inputs.items()])
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM traced (
            id    STRING,
            trace STRING HEADER('trace-id'),
            hs    ARRAY<STRUCT<key STRING, value BINARY>> HEADERS
        ) FROM KAFKA (topic = '{src}', starting_offsets = 'earliest');

        INSERT INTO KAFKA TOPIC '{named}'
            KEY id
            HEADERS ('trace-id' = trace, 'source' = 'sqlstream', 'n' = CAST(NULL AS STRING))
        SELECT id, trace FROM traced;

        INSERT INTO KAFKA TOPIC '{passed}'
            KEY id
            HEADERS hs
        SELECT id, hs FROM traced;
        """,
    ).run(spark)

    def written(trace: bytes | None) -> list[tuple[str, bytes | None]]:
        return [("trace-id", trace), ("source", b"sqlstream"), ("n", None)]

    assert records(kafka_bootstrap, named) == [
        (b"1", j(id="1", trace="last"), written(b"last"), 0),
        (b"2", j(id="2", trace=None), written(None), 0),
        (b"3", j(id="3", trace=None), written(None), 0),
        (b"4", j(id="4", trace="t4"), written(b"t4"), 0),
    ]
    # The HEADERS column is the record's header array as it is (NULL without headers), and
    # HEADERS <expr> writes it back unchanged: order, repeated keys, binary and null values.
    # In the JSON value, binary header values are base64 ("AP8=" is 00 ff).
    hs_json = {
        "1": [
            {"key": "trace-id", "value": "Zmlyc3Q="},
            {"key": "x", "value": "AP8="},
            {"key": "trace-id", "value": "bGFzdA=="},
        ],
        "2": None,
        "3": [{"key": "other", "value": "dg=="}],
        "4": [{"key": "trace-id", "value": "dDQ="}, {"key": "empty", "value": None}],
    }
    assert records(kafka_bootstrap, passed) == [
        (i.encode(), j(id=i, hs=hs_json[i]), h or [], 0) for i, h in inputs.items()
    ]


# --------------------------------------------------------------------------------------------
# 6. Several topics: a list and a pattern, with the topic as metadata
# --------------------------------------------------------------------------------------------


def test_multi_topic_subscribe_and_pattern_with_topic_metadata(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    # topic_name holds only [A-Za-z0-9_-] (no dot here), so it is a literal in a Java regex.
    a, b, c = (f"{topic_name}-in-{x}" for x in "abc")
    other = f"{topic_name}-other"
    out_list, out_pattern = f"{topic_name}-out-list", f"{topic_name}-out-pattern"
    topics(kafka_bootstrap, a, b, c, other, out_list, out_pattern)
    for topic in (a, b, c, other):
        produce(kafka_bootstrap, topic, [(None, j(id=f"{topic[-1]}{i}")) for i in range(2)])
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM listed (
            id  STRING,
            src STRING METADATA FROM 'topic'
        ) FROM KAFKA (topics = '{a}, {b}', starting_offsets = 'earliest');

        CREATE STREAM matched (
            id  STRING,
            src STRING METADATA FROM 'topic',
            p   INT METADATA FROM 'partition',
            o   BIGINT METADATA FROM 'offset'
        ) FROM KAFKA (topic_pattern = '{topic_name}-in-.*', starting_offsets = 'earliest');

        INSERT INTO KAFKA TOPIC '{out_list}' SELECT id, src FROM listed;
        INSERT INTO KAFKA TOPIC '{out_pattern}' SELECT id, src, p, o FROM matched;
        """,
    ).run(spark)

    assert values(kafka_bootstrap, out_list) == sorted(
        j(id=f"{t[-1]}{i}", src=t) for t in (a, b) for i in range(2)
    )
    assert values(kafka_bootstrap, out_pattern) == sorted(
        j(id=f"{t[-1]}{i}", src=t, p=0, o=i) for t in (a, b, c) for i in range(2)
    )


# --------------------------------------------------------------------------------------------
# 7 and 8. Two runs over one topic: starting offsets, and a restart from the checkpoint
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_runs(
    kafka_bootstrap: str, spark: t.Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, t.Any]:
    """One input topic read by an ``earliest`` and a ``latest`` source, each to its own topic.

    Records 0-2 are produced before the first run, 3-5 between the runs. The outputs are read
    after each run.
    """
    prefix = f"t-two-runs-{uuid.uuid4().hex[:8]}"
    src, early, late = f"{prefix}-in", f"{prefix}-earliest", f"{prefix}-latest"
    topics(kafka_bootstrap, src, early, late)
    pipeline = Pipeline.create(
        tmp_path_factory.mktemp("two_runs"),
        kafka_bootstrap,
        f"""
        CREATE STREAM from_earliest (id STRING)
        FROM KAFKA (topic = '{src}', starting_offsets = 'earliest');

        CREATE STREAM from_latest (id STRING)
        FROM KAFKA (topic = '{src}', starting_offsets = 'latest');

        INSERT INTO KAFKA TOPIC '{early}' KEY id SELECT id FROM from_earliest;
        INSERT INTO KAFKA TOPIC '{late}' KEY id SELECT id FROM from_latest;
        """,
    )
    produce(kafka_bootstrap, src, [(str(i), j(id=str(i))) for i in range(3)])
    pipeline.run(spark)
    after_first = {
        "earliest": records(kafka_bootstrap, early),
        "latest": records(kafka_bootstrap, late),
    }
    produce(kafka_bootstrap, src, [(str(i), j(id=str(i))) for i in range(3, 6)])
    pipeline.run(spark)
    after_second = {
        "earliest": records(kafka_bootstrap, early),
        "latest": records(kafka_bootstrap, late),
    }
    return {"first": after_first, "second": after_second}


def _ids(*ids: int) -> list[Row]:
    return [(str(i).encode(), j(id=str(i)), [], 0) for i in ids]


def test_starting_offsets_earliest_against_latest(two_runs: dict[str, t.Any]) -> None:
    # earliest reads what was there before the first start; latest does not...
    assert two_runs["first"]["earliest"] == _ids(0, 1, 2)
    assert two_runs["first"]["latest"] == []
    # ...but its first run fixed its starting point in the checkpoint, so records produced
    # after it are read by the next run.
    assert two_runs["second"]["latest"] == _ids(3, 4, 5)


def test_restart_resumes_from_checkpoint_without_rereading(two_runs: dict[str, t.Any]) -> None:
    assert two_runs["second"]["earliest"] == _ids(0, 1, 2, 3, 4, 5)


# --------------------------------------------------------------------------------------------
# 9. Keys written and read
# --------------------------------------------------------------------------------------------


def test_keys_written_and_read(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    text_in, json_in, raw_in = (f"{topic_name}-{f}-in" for f in ("text", "json", "raw"))
    struct_out, none_out, raw_out = (f"{topic_name}-{k}-key" for k in ("struct", "no", "raw"))
    topics(kafka_bootstrap, text_in, json_in, raw_in, struct_out, none_out, raw_out)
    produce(
        kafka_bootstrap,
        text_in,
        [("42", j(name="a")), ("-7", j(name="b")), (None, j(name="c"))],
    )
    produce(
        kafka_bootstrap,
        json_in,
        [
            ('{"region": "eu", "shard": 3}', j(v="x")),
            ('{"shard": 1, "region": "us", "ignored": true}', j(v="y")),
            ('{"region": "ap"}', j(v="z")),  # a missing key field is null
            (None, j(v="w")),  # a null key: every KEY column null
        ],
    )
    produce(kafka_bootstrap, raw_in, [(b"\x00\xff\xfe", j(v="bytes")), (None, j(v="none"))])
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM by_number (
            n    INT KEY,
            name STRING
        ) FROM KAFKA (topic = '{text_in}', key_format = 'text', starting_offsets = 'earliest');

        CREATE STREAM by_region (
            region STRING KEY,
            shard  INT KEY,
            v      STRING
        ) FROM KAFKA (topic = '{json_in}', key_format = 'json', starting_offsets = 'earliest');

        CREATE STREAM by_bytes (
            k BINARY KEY,
            v STRING
        ) FROM KAFKA (topic = '{raw_in}', key_format = 'raw', starting_offsets = 'earliest');

        INSERT INTO KAFKA TOPIC '{struct_out}'
            KEY (name, n)
        SELECT name, n, n + 1 AS next FROM by_number;

        INSERT INTO KAFKA TOPIC '{none_out}'
        SELECT region, shard, v FROM by_region;

        INSERT INTO KAFKA TOPIC '{raw_out}'
            KEY k
        SELECT k, v FROM by_bytes;
        """,
    ).run(spark)

    # n is an INT: a JSON number, and arithmetic works on it.
    assert records(kafka_bootstrap, struct_out) == [
        (j(name="a", n=42), j(name="a", n=42, next=43), [], 0),
        (j(name="b", n=-7), j(name="b", n=-7, next=-6), [], 0),
        (j(name="c", n=None), j(name="c", n=None, next=None), [], 0),
    ]
    assert records(kafka_bootstrap, none_out) == in_order(
        [
            (None, j(region="eu", shard=3, v="x"), [], 0),
            (None, j(region="us", shard=1, v="y"), [], 0),
            (None, j(region="ap", shard=None, v="z"), [], 0),
            (None, j(region=None, shard=None, v="w"), [], 0),
        ]
    )
    # A BINARY key is read and written as it is (in the JSON value it is base64).
    assert records(kafka_bootstrap, raw_out) == [
        (None, j(k=None, v="none"), [], 0),
        (b"\x00\xff\xfe", j(k="AP/+", v="bytes"), [], 0),
    ]


# --------------------------------------------------------------------------------------------
# Column names keep the case the user wrote
# --------------------------------------------------------------------------------------------


def test_json_field_names_keep_their_case(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src, out)
    produce(kafka_bootstrap, src, [(None, j(UserId="U", Amount=2.5))])
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM s (UserId STRING, Amount DOUBLE)
        FROM KAFKA (topic = '{src}', starting_offsets = 'earliest');

        INSERT INTO KAFKA TOPIC '{out}'
            KEY (UserId, Amount)
        SELECT UserId, Amount * 2 AS DoubleAmount, UserId AS `User Id`, Amount FROM s;
        """,
    ).run(spark)

    assert records(kafka_bootstrap, out) == [
        (
            j(UserId="U", Amount=2.5),
            j(UserId="U", DoubleAmount=5.0, **{"User Id": "U"}, Amount=2.5),
            [],
            0,
        )
    ]


def test_watermark_survives_a_rename_in_a_derived_stream(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    topics(kafka_bootstrap, src, out)
    # Batch 0 (3 records) moves the watermark to 10:20; batch 1 (10:25, not newer) closes
    # [10:00, 10:05) whether or not a final no-data batch runs (see the windowed test above).
    produce(
        kafka_bootstrap, src, [_event(1, 0, 1), _event(2, 0, 2), _event(30, 0, 4), _event(25, 0, 8)]
    )
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM events (
            amount     BIGINT,
            event_time TIMESTAMP,
            WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
        ) FROM KAFKA (topic = '{src}', starting_offsets = 'earliest', max_offsets_per_trigger = 3);

        CREATE STREAM renamed AS SELECT amount, event_time AS et FROM events;

        INSERT INTO KAFKA TOPIC '{out}'
        SELECT window.start AS window_start, window.end AS window_end,
               sum(amount) AS total, count(*) AS n
        FROM renamed
        GROUP BY window(et, '5 minutes');
        """,
    ).run(spark)

    assert values(kafka_bootstrap, out) == [_window("00", "05", 3, 2)]
