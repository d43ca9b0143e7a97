"""Every record counted, as a user sees it: ``sqlstream run --trigger available-now`` as a
process over a real broker, its progress lines, its summary and the dead-letter records.

Two streams, one project, one run (a module fixture):

- ``events``: good records, one malformed record of each DLQ reason and tombstones, all sent to
  the dead-letter topic (``on_error = 'dlq'``, ``on_tombstone = 'dlq'``) by a stateless query: its
  counts add up to what it read.
- ``clicks``: a windowed count, read three records a batch (``max_offsets_per_trigger``) so that
  the watermark moves between batches and a record of an old window arrives late; malformed
  records are skipped and tombstones skipped (the default), and both are counted.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
import uuid

import pytest
from cliproc import PROGRESS, SQLSTREAM, summary
from cliproc import env as cli_env
from pipeline import Pipeline

from sqlstream.local import client as kafkaclient
from sqlstream.local.client import Record

pytestmark = pytest.mark.e2e

UNUSED_BROKER = "127.0.0.1:1"


def _event(id_: int, amount: t.Any = 1.0) -> str:
    return json.dumps({"id": id_, "amount": amount})


# key -> (value, headers); the key names the record in the DLQ.
EVENTS: list[tuple[str, str | None, list[tuple[str, str]]]] = [
    ("good-1", _event(1), []),
    ("plain-text", "hello", []),
    ("good-2", _event(2, 2.5), []),
    ("truncated", '{"id": 3, "amount":', [("src", "test")]),
    ("blank", "  ", []),
    ("array", "[1, 2]", []),
    ("tombstone-1", None, [("src", "test"), ("why", "deleted")]),
    ("wrong-type", _event(4, "lots"), []),
    ("good-3", _event(5, 3.0), []),
    ("tombstone-2", None, []),
    ("good-4", _event(6, 4.0), []),
]
REASONS = {
    "plain-text": b"not valid JSON",
    "truncated": b"not valid JSON",
    "blank": b"empty value",
    "array": b"JSON, but not an object",
    "wrong-type": b'field amount cannot be converted to DOUBLE: "lots"',
    "tombstone-1": b"tombstone (null value)",
    "tombstone-2": b"tombstone (null value)",
}


def _click(minute: int) -> str:
    return json.dumps({"page": "home", "at": f"2024-01-01T10:{minute:02d}:00Z"})


# Three a batch. The first moves the watermark to 10:09. Spark 4.2 drops a row as late against
# the watermark of the batch before (``eventTimeWatermarkForLateEvents``), so a row of 10:02 in
# the second batch would still be counted into its window; in the third it is dropped.
CLICKS: list[tuple[str, str | None]] = [
    ("c0", _click(0)),
    ("c1", _click(1)),
    ("c2", _click(10)),
    ("c3", _click(11)),
    ("c4", "{oops"),
    ("c5", None),
    ("c6", _click(2)),
    ("c7", _click(20)),
    ("c8", _click(21)),
]

SQL = """
CREATE STREAM events (id INT, amount DOUBLE, k STRING KEY) FROM KAFKA (
    topic = '{events}', starting_offsets = 'earliest',
    on_error = 'dlq', on_tombstone = 'dlq', dlq_topic = '{dlq}'
);
CREATE STREAM clicks (
    page STRING, at TIMESTAMP,
    WATERMARK FOR at AS at - INTERVAL '1' MINUTE
) FROM KAFKA (
    topic = '{clicks}', starting_offsets = 'earliest', max_offsets_per_trigger = 3,
    on_error = 'skip'
);

INSERT INTO KAFKA TOPIC '{events_out}' KEY k WITH (name = 'events_out')
SELECT k, id, amount FROM events;

INSERT INTO KAFKA TOPIC '{clicks_out}' WITH (name = 'clicks_per_window')
SELECT window.end AS window_end, count(*) AS n
FROM clicks GROUP BY window(at, '5 minutes');
"""


@pytest.fixture(scope="module")
def counted(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, t.Any]:
    uid = uuid.uuid4().hex[:8]
    topics = {
        name: f"counts-{name}-{uid}"
        for name in ("events", "dlq", "clicks", "events_out", "clicks_out")
    }
    for topic in topics.values():  # one partition each: batches and offsets are predictable
        kafkaclient.create_topic(kafka_bootstrap, topic, partitions=1)
    kafkaclient.produce(kafka_bootstrap, topics["events"], EVENTS)
    kafkaclient.produce(kafka_bootstrap, topics["clicks"], CLICKS)
    root = tmp_path_factory.mktemp("counts-project")
    Pipeline.create(root, UNUSED_BROKER, SQL.format(**topics))
    proc = subprocess.run(
        [
            str(SQLSTREAM),
            "run",
            "queries",
            "--trigger",
            "available-now",
            "--bootstrap-servers",
            kafka_bootstrap,
        ],
        cwd=root,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    return {"proc": proc, "topics": topics, "lines": proc.stdout.splitlines()}


def _totals(lines: t.Sequence[str], query: str) -> dict[str, int]:
    """The counts of ``query``'s progress lines, summed over its batches."""
    mine = [m for m in map(PROGRESS.match, lines) if m and m["name"] == query]
    assert mine, (query, lines)
    keys = ("rows", "written", "dlq", "skipped", "late", "tombstones")
    return {k: sum(int(m[k] or 0) for m in mine) for k in keys}


def test_the_run_ends_with_a_summary_of_every_query(counted: dict[str, t.Any]) -> None:
    proc = counted["proc"]
    assert proc.returncode == 0, (proc.stdout, proc.stderr[-3000:])
    assert summary(counted["lines"]) == {
        # 11 read = 4 written + 5 dlq + 2 tombstones
        "events_out": "read 11, written 4, dlq 5, skipped 0, late 0, tombstones 2",
        # 7 bad records: 5 malformed, 2 tombstones
        "events_dlq": "read 11, written 7 (dead-letter query of events)",
        # 9 read: 1 skipped, 1 late, 1 tombstone, 6 counted into windows; the two windows that
        # closed are written (10:00-10:05 and 10:10-10:15), the one of 10:20 is still open
        "clicks_per_window": "read 9, written 2, dlq 0, skipped 1, late 1, tombstones 1"
        " (stateful: written counts results, each of many records)",
    }, proc.stdout


def test_the_progress_lines_count_each_batch(counted: dict[str, t.Any]) -> None:
    lines = counted["lines"]
    assert _totals(lines, "events_out") == {
        "rows": 11,
        "written": 4,
        "dlq": 5,
        "skipped": 0,
        "late": 0,
        "tombstones": 2,
    }
    assert _totals(lines, "events_dlq")["written"] == 7
    clicks = _totals(lines, "clicks_per_window")
    assert (clicks["rows"], clicks["skipped"], clicks["late"], clicks["tombstones"]) == (9, 1, 1, 1)
    # The late record arrived in the third batch.
    late = [
        m
        for m in map(PROGRESS.match, lines)
        if m and m["name"] == "clicks_per_window" and int(m["late"] or 0)
    ]
    assert [m["batch"] for m in late] == ["2"], lines


def test_each_dlq_record_says_why(counted: dict[str, t.Any], kafka_bootstrap: str) -> None:
    dead: list[Record] = kafkaclient.consume_all(kafka_bootstrap, counted["topics"]["dlq"])
    reasons = {(r.key or b"").decode(): dict(r.headers).get("sqlstream.error.reason") for r in dead}
    assert reasons == REASONS
    tombstone = next(r for r in dead if r.key == b"tombstone-1")
    assert tombstone.value is None
    assert tombstone.headers[:2] == [("src", b"test"), ("why", b"deleted")]  # kept, in order
    written = kafkaclient.consume_all(kafka_bootstrap, counted["topics"]["events_out"])
    assert sorted((r.key or b"").decode() for r in written) == [
        "good-1",
        "good-2",
        "good-3",
        "good-4",
    ]
