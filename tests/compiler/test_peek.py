"""``sqlstream peek`` without a JVM: how rows read in the terminal (a table of cases), what a
``--sql`` text or a name resolves to, and the step description peek runs (the run's sources and
views, the sources' start replaced by ``--from``, no dead-letter query, nothing written)."""

from __future__ import annotations

import datetime as dt
import decimal
import typing as t
from pathlib import Path

import pytest

from sqlstream.cli.peek import cell, json_line, table
from sqlstream.compiler import peek
from sqlstream.errors import UserErrors
from sqlstream.spark import peek as spark_peek
from sqlstream.spark import steps as st

CELLS = [
    (None, "NULL"),
    (True, "true"),
    (False, "false"),
    (12, "12"),
    (2.5, "2.5"),
    (decimal.Decimal("10.50"), "10.50"),
    ("plain text", "plain text"),
    ("two\nlines\tand a tab", "two\\nlines\\tand a tab"),
    (dt.datetime(2020, 1, 1, 10, 5), "2020-01-01 10:05:00"),
    (dt.datetime(2020, 1, 1, 10, 5, 0, 120000), "2020-01-01 10:05:00.120000"),
    (dt.date(2020, 1, 2), "2020-01-02"),
    (b"\x00\xff", "0x00ff"),
    ({"start": dt.datetime(2020, 1, 1), "end": None}, "{start: 2020-01-01 00:00:00, end: NULL}"),
    ([1, None, "a"], "[1, NULL, a]"),
]


@pytest.mark.parametrize(("value", "text"), CELLS, ids=[repr(c[0])[:30] for c in CELLS])
def test_a_value_reads_as(value: t.Any, text: str) -> None:
    assert cell(value) == text


TABLES: list[tuple[str, list[str], list[tuple[t.Any, ...]], list[str]]] = [
    (
        "widths from the values, numbers right-aligned, NULL shown",
        ["id", "user", "amount"],
        [("o1", "u1", 5.0), ("o22", None, 12.25)],
        [
            "id  | user | amount",
            "----+------+-------",
            "o1  | u1   |    5.0",
            "o22 | NULL |  12.25",
        ],
    ),
    (
        "a long value is cut with an ellipsis, at 40 characters",
        ["v"],
        [("x" * 50,)],
        ["v", "-" * 40, "x" * 39 + "…"],
    ),
    (
        "a header wider than its values",
        ["a_long_column_name", "n"],
        [("a", 1)],
        ["a_long_column_name | n", "-------------------+--", "a                  | 1"],
    ),
    (
        "a column of NULLs and numbers is still a number column",
        ["n"],
        [(None,), (7,)],
        ["n", "----", "NULL", "   7"],
    ),
    (
        "booleans are text, not numbers",
        ["ok"],
        [(True,), (False,)],
        ["ok", "-----", "true", "false"],
    ),
    ("no rows: the header", ["a", "b"], [], ["a | b", "--+--"]),
]


@pytest.mark.parametrize(
    ("columns", "rows", "lines"), [c[1:] for c in TABLES], ids=[c[0] for c in TABLES]
)
def test_a_batch_reads_as_a_table(
    columns: list[str], rows: list[tuple[t.Any, ...]], lines: list[str]
) -> None:
    assert table(columns, rows) == lines


JSON_LINES = [
    (["a", "b"], ("x", None), '{"a": "x", "b": null}'),
    (["t"], (dt.datetime(2020, 1, 1, 10, 0),), '{"t": "2020-01-01T10:00:00"}'),
    (["bin"], (b"\x00\xff",), '{"bin": "AP8="}'),
    (["d"], (decimal.Decimal("1.5"),), '{"d": 1.5}'),
    (["w"], ({"start": dt.date(2020, 1, 1)},), '{"w": {"start": "2020-01-01"}}'),
    (["s"], ("é",), '{"s": "é"}'),
]


@pytest.mark.parametrize(("columns", "row", "line"), JSON_LINES)
def test_a_row_as_json(columns: list[str], row: tuple[t.Any, ...], line: str) -> None:
    assert json_line(columns, row) == line


SQL = """
CREATE STREAM orders (
    order_id STRING,
    amount   DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '1' MINUTE
) FROM KAFKA (topic = 'orders', starting_offsets = 'earliest', on_error = 'dlq', \
dlq_topic = 'orders.DLT');

CREATE STREAM big AS SELECT * FROM orders WHERE amount > 10;

INSERT INTO KAFKA TOPIC 'big-orders' KEY order_id SELECT order_id, amount FROM big;

INSERT INTO KAFKA TOPIC 'totals'
SELECT window.end AS window_end, sum(amount) AS total FROM orders \
GROUP BY window(event_time, '5 minutes');
"""


@pytest.fixture
def options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> peek.ProjectOptions:
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "orders.sql").write_text(SQL)
    (tmp_path / "sqlstream.yml").write_text("name: shop\nprofile: shop\n")
    (tmp_path / "profiles.yml").write_text(
        "shop:\n  target: dev\n  outputs:\n    dev:\n      bootstrap_servers: 'localhost:9092'\n"
    )
    monkeypatch.chdir(tmp_path)
    return peek.ProjectOptions()


def _error(options: peek.ProjectOptions, sql: str) -> str:
    with pytest.raises(UserErrors) as raised:
        peek.peek_sql(options, sql)
    return raised.value.format()


INVALID_SQL = [
    ("SELECT order_id, amont FROM orders", "<--sql>:1:18: error: unknown column 'amont' in orders"),
    ("SELECT * FROM ordrs", "<--sql>:1:15: error: unknown stream 'ordrs'"),
    ("SELECT 1", "<--sql>:1:1: error: this SELECT reads no stream"),
    (
        "SELECT order_id, count(*) FROM orders GROUP BY order_id",
        "<--sql>:1:48: error: not append-only",
    ),
    (
        "SELECT * FROM orders ORDER BY amount",
        "<--sql>:1:31: error: not append-only: ORDER BY sorts a stream",
    ),
    (
        "CREATE STREAM x AS SELECT * FROM orders",
        "<--sql>:1:1: error: --sql takes one SELECT statement",
    ),
    (
        "SELECT * FROM orders; SELECT * FROM big",
        "<--sql>:1:23: error: --sql takes one SELECT statement",
    ),
    (" ", "error: --sql is empty"),
]


@pytest.mark.parametrize(("sql", "message"), INVALID_SQL)
def test_a_mistake_in_sql_is_located_in_its_text(
    options: peek.ProjectOptions, sql: str, message: str
) -> None:
    assert _error(options, sql).startswith(message)


def test_sql_reads_the_project_streams(options: peek.ProjectOptions) -> None:
    _, query = peek.peek_sql(options, "SELECT order_id FROM big WHERE amount < 100")
    assert (query.name, query.place, query.sources, query.views) == (
        "peek",
        "<--sql>",
        ["orders"],
        ["big"],
    )
    assert query.sql == "SELECT order_id FROM big WHERE amount < 100"
    assert not query.waits_for_watermark


NAMES = [
    ("orders_1", "orders_1", "queries/orders.sql:11", False),
    ("orders_2", "orders_2", "queries/orders.sql:13", True),
    ("big", "big", "stream big", False),
    ("ORDERS", "orders", "stream orders", False),
]


@pytest.mark.parametrize(("what", "name", "place", "waits"), NAMES)
def test_a_name_resolves_to(
    options: peek.ProjectOptions, what: str, name: str, place: str, waits: bool
) -> None:
    _, query = peek.peek_named(options, what)
    assert (query.name, query.place, query.waits_for_watermark) == (name, place, waits)


def test_a_file_of_two_queries_asks_for_one_and_an_unknown_name_suggests(
    options: peek.ProjectOptions,
) -> None:
    with pytest.raises(UserErrors, match="holds 2 queries; peek shows one"):
        peek.peek_named(options, "queries/orders.sql")
    with pytest.raises(UserErrors, match="did you mean .orders_2."):
        peek.peek_named(options, "orders_3")


def test_the_description_reads_like_the_run_writes_nothing_and_starts_from_from(
    options: peek.ProjectOptions,
) -> None:
    compiled, query = peek.peek_named(options, "orders_1")
    connection = compiled.connection()
    steps, frame = spark_peek.description(
        peek.needed_plan(compiled, query), query, connection, "latest"
    )
    assert [type(s).__name__ for s in steps] == ["ReadSource", "CreateView"]
    run_steps = st.steps(compiled.plan, "orders_1", connection=connection)
    assert any(isinstance(s, st.StartQuery) and s.kind == "dlq" for s in run_steps)
    run_read = next(s for s in run_steps if isinstance(s, st.ReadSource))
    starts = [
        c.args
        for c in steps[0].chains[0].calls
        if c.name == "option" and c.args[0] == "startingOffsets"
    ]
    assert starts == [("startingOffsets", "latest")]
    assert (
        steps[0].chains[1:] == run_read.chains[1:]
    )  # decoding, malformed records, watermark, view
    assert steps[1] == next(s for s in run_steps if isinstance(s, st.CreateView))
    assert frame.calls == (st.call("sql", "SELECT order_id, amount FROM big"),)
    assert not any(
        c.name in ("writeStream", "start") for s in steps for ch in s.chains for c in ch.calls
    )


def test_without_from_the_sources_start_where_they_say(options: peek.ProjectOptions) -> None:
    compiled, query = peek.peek_named(options, "orders")
    steps, _ = spark_peek.description(
        peek.needed_plan(compiled, query), query, compiled.connection()
    )
    starts = [
        c.args
        for c in steps[0].chains[0].calls
        if c.name == "option" and c.args[0] == "startingOffsets"
    ]
    assert starts == [("startingOffsets", "earliest")]
