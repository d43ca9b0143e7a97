"""The planner on valid input: what the plan carries (no JVM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.plan import Plan

EVENTS = """
CREATE STREAM events (
    UserId STRING KEY,
    Amount DOUBLE,
    event_time TIMESTAMP,
    trace STRING HEADER('trace-id'),
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'events');
"""


def plan_of(tmp_path: Path, sql: str, yml: str = "name: p\n") -> Plan:
    (tmp_path / "queries").mkdir()
    (tmp_path / "sqlstream.yml").write_text(yml)
    (tmp_path / "queries" / "q.sql").write_text(sql)
    return compile_project([str(tmp_path / "queries" / "q.sql")]).plan


def test_output_names_keep_the_case_written(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        EVENTS
        + """
INSERT INTO KAFKA TOPIC 'out' SELECT UserId, Amount * 2 AS DoubleAmount, UserId AS `User Id` \
FROM events;
""",
    )
    sink = plan.sinks[0]
    assert [f.name for f in sink.fields] == ["UserId", "DoubleAmount", "User Id"]
    value = next(e for e in sink.write_exprs if e.endswith("AS `value`"))
    assert "'UserId'" in value and "'DoubleAmount'" in value and "'User Id'" in value


def test_a_renamed_event_time_column_keeps_its_watermark(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        EVENTS
        + """
CREATE STREAM renamed AS SELECT UserId, Amount, event_time AS et FROM events;
INSERT INTO KAFKA TOPIC 'out'
SELECT window.end AS window_end, sum(Amount) AS total FROM renamed GROUP BY window(et, '5 minutes');
""",
    )
    assert [s.name for s in plan.sinks] == ["q_1"]
    assert plan.sinks[0].views == ["renamed"]


def test_headers_are_read_only_when_a_column_needs_them(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        EVENTS
        + """
CREATE STREAM plain (a STRING) FROM KAFKA (topic = 'plain');
INSERT INTO KAFKA TOPIC 'o1' SELECT UserId FROM events;
INSERT INTO KAFKA TOPIC 'o2' SELECT a FROM plain;
""",
    )
    assert plan.source("events").read_options["includeHeaders"] == "true"
    assert "includeHeaders" not in plan.source("plain").read_options


def test_names_checkpoints_and_defaults(tmp_path: Path) -> None:
    yml = (
        "name: shop\ndefaults:\n"
        "  source: {starting_offsets: earliest}\n"
        "  sink: {trigger: 5 seconds}\n"
    )
    plan = plan_of(
        tmp_path,
        EVENTS
        + """
INSERT INTO KAFKA TOPIC 'a' SELECT UserId FROM events;
INSERT INTO KAFKA TOPIC 'b' WITH (name = 'named', trigger = 'available_now') \
SELECT UserId FROM events;
""",
        yml,
    )
    first, second = plan.sinks
    assert (first.name, first.checkpoint) == ("q_1", "shop/q_1")
    assert (second.name, second.checkpoint) == ("named", "shop/named")
    assert first.trigger is not None and (first.trigger.kind, first.trigger.interval) == (
        "processing_time",
        "5 seconds",
    )
    assert second.trigger is not None and second.trigger.kind == "available_now"
    assert plan.source("events").read_options["startingOffsets"] == "earliest"
    assert plan.source("events").watermark_delay == "10 minutes"


@pytest.mark.parametrize(
    "trigger, kind, interval",
    [
        ("'10 seconds'", "processing_time", "10 seconds"),
        ("once", "once", None),
        ("available_now", "available_now", None),
        ("continuous '1 second'", "continuous", "1 second"),
        ("real_time", "real_time", None),
    ],
)
def test_trigger_forms(tmp_path: Path, trigger: str, kind: str, interval: str | None) -> None:
    plan = plan_of(
        tmp_path,
        EVENTS
        + f"""
INSERT INTO KAFKA TOPIC 'a' WITH (trigger = {trigger}) SELECT UserId FROM events;
""",
    )
    t = plan.sinks[0].trigger
    assert t is not None and (t.kind, t.interval) == (kind, interval)


OTHER = """
CREATE STREAM users (UserId STRING KEY, name STRING, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE) FROM KAFKA (topic = 'users');
"""

VIPS = """
CREATE TABLE vips (id STRING, PRIMARY KEY (id)) FROM FILES (path = 'vips.csv', format = 'csv');
"""

JOINED = "AND users.ts BETWEEN events.event_time AND events.event_time + INTERVAL 1 MINUTE"


@pytest.mark.parametrize(
    ("select", "fields"),
    [
        # A subquery needs no alias in Spark: sqlglot's qualify names it (qualify_tables).
        ("SELECT UserId, Amount FROM (SELECT UserId, Amount FROM events)", ["UserId", "Amount"]),
        ("SELECT UserId FROM (SELECT UserId FROM events) WHERE UserId > 'a'", ["UserId"]),
        ("SELECT x.UserId FROM (SELECT UserId FROM events) x", ["UserId"]),
        ("SELECT e.UserId FROM events AS e", ["UserId"]),
        (
            f"SELECT events.UserId, users.name FROM events JOIN users "
            f"ON events.UserId = users.UserId {JOINED}",
            ["UserId", "name"],
        ),
        (
            "WITH c AS (SELECT UserId, Amount FROM events) SELECT UserId, Amount FROM c",
            ["UserId", "Amount"],
        ),
        # Spark runs a subquery expression as a batch: over a reference table, not a stream.
        ("SELECT UserId FROM events WHERE UserId IN (SELECT id FROM vips)", ["UserId"]),
    ],
)
def test_the_shapes_of_from(tmp_path: Path, select: str, fields: list[str]) -> None:
    plan = plan_of(
        tmp_path,
        EVENTS + OTHER + VIPS + f"INSERT INTO KAFKA TOPIC 'out' KEY UserId {select};\n",
    )
    assert [f.name for f in plan.sinks[0].fields] == fields
