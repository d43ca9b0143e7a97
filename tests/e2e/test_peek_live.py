"""``sqlstream peek`` as a user runs it: a real process on the shared broker, rows in the terminal,
and nothing left behind (no record in any topic, no checkpoint folder, no temporary folder).
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

import pytest
from cliproc import RunningCli, finished
from confluent_kafka.admin import AdminClient
from pipeline import Pipeline

from sqlstream.local.client import consume_all, create_topic, produce

SQL = """
CREATE STREAM orders (
    order_id STRING,
    user_id  STRING,
    amount   DOUBLE
) FROM KAFKA (topic = '{src}', starting_offsets = 'earliest');

INSERT INTO KAFKA TOPIC '{out}'
    KEY user_id
SELECT order_id, upper(user_id) AS user_id, amount
FROM orders
WHERE amount > 1;
"""

ORDERS = [
    {"order_id": "o1", "user_id": "u1", "amount": 5.0},
    {"order_id": "o2", "user_id": "u2", "amount": 0.5},
    {"order_id": "o3", "user_id": None, "amount": 12.25},
    {"order_id": "o4", "user_id": "u1", "amount": 7.0},
    {"order_id": "o5", "user_id": "u3", "amount": 100.0},
]


@pytest.fixture
def project(kafka_bootstrap: str, tmp_path: Path) -> dict[str, t.Any]:
    uid = uuid.uuid4().hex[:8]
    names = {"src": f"peek-in-{uid}", "out": f"peek-out-{uid}"}
    create_topic(kafka_bootstrap, names["src"], partitions=1)
    produce(kafka_bootstrap, names["src"], [(None, json.dumps(o).encode()) for o in ORDERS])
    Pipeline.create(tmp_path, kafka_bootstrap, SQL.format(**names), file="orders.sql")
    return {"root": tmp_path, "bootstrap": kafka_bootstrap, **names}


def _peek(args: t.Sequence[str], root: Path) -> subprocess.CompletedProcess[str]:
    return finished(["peek", *args], root, timeout=300)


def _left_behind(project: dict[str, t.Any]) -> tuple[set[str], set[Path]]:
    """What could be left behind: the broker's topics and peek's temporary folders."""
    topics = set(
        AdminClient({"bootstrap.servers": project["bootstrap"]}).list_topics(timeout=30).topics
    )
    return topics, set(Path(tempfile.gettempdir()).glob("sqlstream-peek-*"))


def _assert_nothing_left(project: dict[str, t.Any], before: tuple[set[str], set[Path]]) -> None:
    """No new topic (the sink's topic included), no record added, no checkpoint, no folder."""
    topics, folders = _left_behind(project)
    assert project["out"] not in topics
    assert topics - before[0] == set()
    assert len(consume_all(project["bootstrap"], project["src"])) == len(ORDERS)
    assert not (project["root"] / "checkpoints").exists()
    assert folders - before[1] == set()


def test_peek_a_query_file_shows_its_rows_and_stops_after_max(project: dict[str, t.Any]) -> None:
    before = _left_behind(project)
    proc = _peek(["queries/orders.sql", "--max", "3"], project["root"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[:5] == [
        "order_id | user_id | amount",
        "---------+---------+-------",
        "o1       | U1      |    5.0",
        "o3       | NULL    |  12.25",
        "o4       | U1      |    7.0",
    ], proc.stdout
    assert "o5" not in proc.stdout
    assert "peek orders_1 (queries/orders.sql:8)" in proc.stderr
    assert "stopped after 3 rows (--max)" in proc.stderr
    assert "Traceback" not in proc.stderr
    _assert_nothing_left(project, before)


def test_peek_sql_with_a_filter_as_json(project: dict[str, t.Any]) -> None:
    before = _left_behind(project)
    proc = _peek(
        [
            "--sql",
            "SELECT order_id, amount * 2 AS doubled FROM orders WHERE user_id = 'u1'",
            "--output",
            "json",
            "--timeout",
            "5",
        ],
        project["root"],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert rows == [{"order_id": "o1", "doubled": 10.0}, {"order_id": "o4", "doubled": 14.0}]
    assert "nothing arrived for 5 s (--timeout)" in proc.stderr
    _assert_nothing_left(project, before)


def test_a_mistake_in_sql_is_located_in_the_sql_text(project: dict[str, t.Any]) -> None:
    proc = _peek(["--sql", "SELECT order_id, amont FROM orders"], project["root"])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("<--sql>:1:18: error: unknown column 'amont' in orders"), (
        proc.stderr
    )
    assert "did you mean 'amount'?" in proc.stderr
    assert proc.stdout == ""


def test_ctrl_c_stops_a_peek_with_no_limit_and_exits_0(project: dict[str, t.Any]) -> None:
    before = _left_behind(project)
    running = RunningCli.start(["peek", "orders", "--max", "0"], project["root"], "orders")
    try:
        deadline = time.monotonic() + 240
        while not any(line.startswith("o5 ") for line in running.lines):
            assert running.proc.poll() is None, (running.lines, running.stderr())
            assert time.monotonic() < deadline, running.lines
            time.sleep(0.5)
        assert running.lines[0].split() == ["order_id", "|", "user_id", "|", "amount"]
        rc, stderr = running.stop(signal.SIGINT)
    finally:
        running.kill()
    assert rc == 0, stderr[-3000:]
    assert "stopped after 5 rows" in stderr
    _assert_nothing_left(project, before)
