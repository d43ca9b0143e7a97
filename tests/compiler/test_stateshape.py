"""The state shape of a query, with no JVM: a table of query pairs, each the same shape or with
exactly the change the check reports; and the shapes of whole plans."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.stateshape import StateShape, changes, duration, operators, shape_of

W = "GROUP BY window(event_time, '5 minutes')"

# (before, after, what changed: [] when the state can be resumed)
PAIRS: list[tuple[str, str, list[str]]] = [
    # Not changes: names, aliases, case, formatting, stateless parts, the projection of the output.
    (
        f"SELECT window.start AS ws, sum(amount) AS total FROM s {W}",
        f"select window.end as we, SUM(Amount) as t2, 1 AS one from s where amount > 0 {W}",
        [],
    ),
    (
        f"SELECT user_id, count(*) AS n FROM s {W}, user_id",
        f"SELECT upper(user_id) AS u, count(*) + 1 AS n FROM s {W}, user_id",
        [],
    ),
    ("SELECT a FROM s WHERE a > 1", "SELECT a, b FROM s WHERE a > 2", []),
    (
        "SELECT sum(x) FROM s GROUP BY window(ts, '300 seconds')",
        "SELECT sum(x) FROM s GROUP BY window(ts, '5 minutes')",
        [],
    ),
    (
        "SELECT sum(x) FROM s GROUP BY window(ts, '5 minutes', '5 minutes')",
        "SELECT sum(x) FROM s GROUP BY window(ts, '5 minutes')",
        [],
    ),
    # Aggregates.
    (
        f"SELECT sum(amount) AS total FROM s {W}",
        f"SELECT avg(amount) AS total FROM s {W}",
        ["aggregate sum(amount) became avg(amount) in query q"],
    ),
    (
        f"SELECT sum(amount) FROM s {W}",
        f"SELECT sum(amount), count(*) FROM s {W}",
        ["aggregate count(*) was added in query q"],
    ),
    (
        f"SELECT sum(amount), max(amount) FROM s {W}",
        f"SELECT sum(amount) FROM s {W}",
        ["aggregate max(amount) was removed in query q"],
    ),
    (
        f"SELECT round(sum(amount), 2) FROM s {W}",
        f"SELECT round(sum(price), 2) FROM s {W}",
        ["aggregate sum(amount) became sum(price) in query q"],
    ),
    (
        f"SELECT count(DISTINCT a) FROM s {W}",
        f"SELECT count(a) FROM s {W}",
        ["aggregate count(DISTINCT a) became count(a) in query q"],
    ),
    (
        f"SELECT count(*) FILTER (WHERE a > 1) FROM s {W}",
        f"SELECT count(*) FROM s {W}",
        ["aggregate count(*) FILTER(WHERE a > 1) became count(*) in query q"],
    ),
    (
        f"SELECT try_sum(a) FROM s {W}",
        f"SELECT try_avg(a) FROM s {W}",
        ["aggregate try_sum(a) became try_avg(a) in query q"],
    ),
    (
        f"SELECT sum(a) FROM s {W} HAVING max(b) > 1",
        f"SELECT sum(a) FROM s {W}",
        ["aggregate max(b) was removed in query q"],
    ),
    # Grouping keys and windows.
    (
        f"SELECT count(*) FROM s {W}, user_id",
        f"SELECT count(*) FROM s {W}, account_id",
        ["grouping key user_id became account_id in query q"],
    ),
    (
        f"SELECT count(*) FROM s {W}",
        f"SELECT count(*) FROM s {W}, user_id",
        ["grouping key user_id was added in query q"],
    ),
    (
        f"SELECT count(*) FROM s {W}",
        "SELECT count(*) FROM s GROUP BY window(event_time, '10 minutes')",
        [
            "tumbling window of 5 minutes on event_time became tumbling window of 10 minutes on "
            "event_time in query q"
        ],
    ),
    (
        f"SELECT count(*) FROM s {W}",
        "SELECT count(*) FROM s GROUP BY window(event_time, '5 minutes', '1 minute')",
        [
            "tumbling window of 5 minutes on event_time became sliding window of 5 minutes every "
            "1 minute on event_time in query q"
        ],
    ),
    (
        f"SELECT count(*) FROM s {W}",
        "SELECT count(*) FROM s GROUP BY session_window(event_time, '5 minutes')",
        [
            "tumbling window of 5 minutes on event_time became session window with a gap of "
            "5 minutes on event_time in query q"
        ],
    ),
    # Joins and deduplication.
    (
        "SELECT * FROM a JOIN b ON a.id = b.id",
        "SELECT * FROM a LEFT JOIN b ON a.id = b.id",
        ["inner join became left join in query q"],
    ),
    (
        "SELECT * FROM a JOIN b ON a.id = b.id",
        "SELECT * FROM a JOIN b ON a.id = b.order_id",
        ["join condition a.id = b.id became a.id = b.order_id in query q"],
    ),
    (
        "SELECT * FROM a JOIN b ON a.id = b.id",
        "SELECT * FROM a JOIN c ON a.id = c.id",
        [
            "join side b became c in query q",
            "join condition a.id = b.id became a.id = c.id in query q",
        ],
    ),
    ("SELECT DISTINCT a, b FROM s", "SELECT DISTINCT a AS x, b FROM s", []),
    (
        "SELECT DISTINCT a, b FROM s",
        "SELECT DISTINCT a FROM s",
        ["deduplication key b was removed in query q"],
    ),
    # A stateless query that becomes stateful, and the other way.
    (
        "SELECT a FROM s",
        f"SELECT count(*) FROM s {W}",
        ["aggregation count(*) by tumbling window of 5 minutes on event_time in query q was added"],
    ),
    ("SELECT DISTINCT a FROM s", "SELECT a FROM s", ["deduplication by a in query q was removed"]),
    # An aggregate in a subquery is the same state as at the top.
    (
        f"SELECT * FROM (SELECT sum(a) AS t FROM s {W})",
        f"SELECT * FROM (SELECT min(a) AS t FROM s {W})",
        ["aggregate sum(a) became min(a) in query q"],
    ),
]


@pytest.mark.parametrize(("before", "after", "expected"), PAIRS)
def test_what_changed(before: str, after: str, expected: list[str]) -> None:
    old = StateShape("q", tuple(operators(before, "query q")))
    new = StateShape("q", tuple(operators(after, "query q")))
    assert changes(old, new) == expected
    assert (changes(new, old) == []) == (expected == [])  # a change is one both ways


def test_a_shape_survives_its_json() -> None:
    ops = operators(
        f"SELECT sum(a), count(*) FROM x JOIN y ON x.k = y.k {W}, user_id", "stream v"
    ) + operators("SELECT DISTINCT a FROM s", "query q")
    shape = StateShape("q", tuple(ops))
    assert StateShape.from_dict(shape.to_dict()) == shape
    assert [op.kind for op in shape.operators] == ["join", "aggregate", "distinct"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'5 minutes'", "5 minutes"),
        ("'300 seconds'", "5 minutes"),
        ("'1 minute'", "1 minute"),
        ("'90 seconds'", "90 seconds"),
        ("'2 hours'", "2 hours"),
        ("'1 day'", "1 day"),
        ("INTERVAL '1' HOUR", "1 hour"),
        ("'0 seconds'", "0 seconds"),
        ("'a fortnight'", "a fortnight"),
    ],
)
def test_durations_are_compared_by_length(text: str, expected: str) -> None:
    assert duration(text) == expected


def _plan(tmp_path: Path, sql: str) -> object:
    (tmp_path / "queries").mkdir(exist_ok=True)
    (tmp_path / "sqlstream.yml").write_text("name: shapes\n")
    (tmp_path / "queries" / "q.sql").write_text(textwrap.dedent(sql))
    return compile_project([str(tmp_path / "queries")]).plan


SOURCE = """
CREATE STREAM orders (
    user_id STRING, amount DOUBLE, event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '1' MINUTES
) FROM KAFKA (topic = 'orders');
"""


def test_the_shape_of_a_plan_includes_the_derived_streams_it_reads(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        SOURCE
        + """
    CREATE STREAM per_user AS
    SELECT window.end AS window_end, user_id, sum(amount) AS total
    FROM orders GROUP BY window(event_time, '5 minutes'), user_id;

    INSERT INTO KAFKA TOPIC 'out' SELECT * FROM per_user WHERE total > 10;
    INSERT INTO KAFKA TOPIC 'copy' SELECT user_id, amount FROM orders;
    """,
    )
    spend, copy = plan.sinks  # type: ignore[attr-defined]
    shape = shape_of(spend, plan)  # type: ignore[arg-type]
    assert shape.stateful
    (op,) = shape.operators
    assert (op.where, op.keys, op.aggregates) == ("stream per_user", ("user_id",), ("sum(amount)",))
    assert (
        op.window is not None
        and op.window.describe() == "tumbling window of 5 minutes on event_time"
    )
    assert not shape_of(copy, plan).stateful  # type: ignore[arg-type]
