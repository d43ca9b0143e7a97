"""``validate``'s checks of what Spark would refuse or regret (no JVM): functions Spark has,
and the warnings (a TOPIC that can be NULL, PARTITION x % n, an unbounded inner join).

The errors are golden files under invalid/ (60 and up); what is valid and what warns is here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp

from sqlstream.compiler import spark_names, syntax
from sqlstream.compiler.facade import Compiled, compile_project
from sqlstream.errors import UserErrors

ORDERS = """\
CREATE STREAM orders (
    order_id STRING,
    user_id BIGINT KEY,
    region STRING,
    amount DOUBLE,
    tags ARRAY<STRING>,
    payload STRING,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');
CREATE STREAM payments (
    order_id STRING,
    paid DOUBLE,
    paid_time TIMESTAMP,
    WATERMARK FOR paid_time AS paid_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'payments');
CREATE STREAM clicks (order_id STRING, page STRING) FROM KAFKA (topic = 'clicks');
"""
HEADER_LINES = ORDERS.count("\n")


def compiled(tmp_path: Path, sql: str) -> Compiled:
    path = tmp_path / "q.sql"
    path.write_text(ORDERS + sql)
    return compile_project([str(path)])


# --- functions: a real Spark function is never refused --------------------------------------


def _calls(name: str) -> list[exp.Expr]:
    """``name(...)`` with the first argument list our parser accepts (lambdas and operators
    such as ``between`` or ``case`` parse no way: they are not calls)."""
    # Two arguments first: stock sqlglot's parser fails with an IndexError on map(a).
    for args in ("a, 1", "a", "", "a, 1, 2", "a, x -> x"):
        sql = f"SELECT {name}({args}) FROM s"
        try:
            return [syntax.parse_tokens(syntax.tokenize(sql), sql).query]  # type: ignore[attr-defined]
        except syntax.SyntaxProblem:
            continue
    return []


def test_the_table_is_spark_s_and_holds_the_streaming_functions() -> None:
    names = spark_names.functions()
    assert len(names) > 400
    for name in (
        "window",
        "session_window",
        "window_time",
        "from_json",
        "to_json",
        "named_struct",
        "pmod",
        "approx_count_distinct",
        "transform",
        "date_format",
    ):
        assert name in names


def test_no_function_of_the_table_reaches_the_check_as_unknown() -> None:
    """Every name sqlglot leaves anonymous is one the check looks up; none of Spark's fails."""
    parsed = 0
    for name in sorted(spark_names.functions()):
        for query in _calls(name):
            parsed += 1
            for call in query.find_all(exp.Anonymous):
                assert spark_names.is_function(str(call.name)), name
    assert parsed > 500


@pytest.mark.parametrize(
    "select",
    [
        "SELECT window.start AS s, count(*) AS n FROM orders "
        "GROUP BY window(event_time, '1 minute')",
        "SELECT session_window.start AS s, count(*) AS n FROM orders "
        "GROUP BY session_window(event_time, '5 minutes')",
        # The grouped call itself, selected whole (Spark accepts it; the check once did not).
        "SELECT window(event_time, '1 minute') AS w, count(*) AS n FROM orders "
        "GROUP BY window(event_time, '1 minute')",
        "SELECT session_window(event_time, '5 minutes') AS w, count(*) AS n FROM orders "
        "GROUP BY session_window(event_time, '5 minutes')",
        "SELECT from_json(payload, 'a INT, b STRING') AS parsed FROM orders",
        "SELECT to_json(named_struct('id', order_id, 'amount', amount)) AS j FROM orders",
        "SELECT pmod(user_id, 6) AS p, hash(order_id) AS h, xxhash64(order_id) AS x FROM orders",
        "SELECT transform(tags, t -> upper(t)) AS t, filter(tags, t -> t <> '') AS f FROM orders",
        "SELECT date_format(event_time, 'yyyy-MM') AS m, unix_timestamp(event_time) AS u "
        "FROM orders",
        "SELECT get_json_object(payload, '$.a') AS a, regexp_extract(payload, 'x(\\\\d+)', 1) AS r "
        "FROM orders",
        "SELECT nvl(region, 'x') AS r, ifnull(region, 'y') AS r2, nullif(region, '') AS r3, "
        "try_divide(amount, 2) AS d FROM orders",
        "SELECT array_contains(tags, 'a') AS c, size(tags) AS n, element_at(tags, 1) AS e, "
        "sha2(order_id, 256) AS s, base64(cast(order_id AS BINARY)) AS b FROM orders",
    ],
)
def test_spark_functions_pass(tmp_path: Path, select: str) -> None:
    result = compiled(tmp_path, f"INSERT INTO KAFKA TOPIC 'out' {select};\n")
    assert len(result.plan.sinks) == 1 and not result.warnings


def test_a_chained_aggregation_on_the_first_window_passes(tmp_path: Path) -> None:
    """Spark (3.4 and later) chains aggregations in append mode on the first one's window."""
    result = compiled(
        tmp_path,
        """
CREATE STREAM per_minute AS
SELECT window, user_id, sum(amount) AS total FROM orders
GROUP BY window(event_time, '1 minute'), user_id;
INSERT INTO KAFKA TOPIC 'out'
SELECT user_id, max(total) AS best FROM per_minute
GROUP BY window(window_time(window), '1 hour'), user_id;
""",
    )
    assert len(result.plan.sinks) == 1


def test_a_window_of_a_join_can_be_selected(tmp_path: Path) -> None:
    """Grouped by a window of one side of a join, ``window`` is the one window struct, not a
    column of each side (which made it ambiguous, reported as unknown)."""
    result = compiled(
        tmp_path,
        """
INSERT INTO KAFKA TOPIC 'out'
SELECT window.start AS starttime, o.order_id, max(p.paid) AS paid FROM orders AS o
JOIN payments AS p ON o.order_id = p.order_id
 AND p.paid_time BETWEEN o.event_time AND o.event_time + INTERVAL '1' HOUR
GROUP BY window(o.event_time, '10 minutes'), o.order_id;
""",
    )
    assert len(result.plan.sinks) == 1 and not result.warnings


# --- warnings --------------------------------------------------------------------------------

WARNS = [
    # (the statements after ORDERS, the line (1 = the first line after ORDERS), col, fragment)
    pytest.param(
        "INSERT INTO KAFKA TOPIC (CASE WHEN amount > 100 THEN 'big' END)\n"
        "SELECT order_id, amount FROM orders;\n",
        1,
        26,
        "the TOPIC can be NULL (a CASE without ELSE)",
        id="case-without-else",
    ),
    pytest.param(
        "INSERT INTO KAFKA TOPIC ('orders-' || region)\nSELECT order_id, region FROM orders;\n",
        1,
        39,
        "'region' can be NULL",
        id="nullable-column",
    ),
    pytest.param(
        "CREATE STREAM routed AS SELECT order_id,\n"
        "  CASE WHEN amount > 100 THEN 'big' END AS dest FROM orders;\n"
        "INSERT INTO KAFKA TOPIC (concat('o-', dest)) SELECT order_id, dest FROM routed;\n",
        3,
        39,
        "the TOPIC can be NULL ('dest' can be NULL)",
        id="through-a-derived-stream",
    ),
    pytest.param(
        "INSERT INTO KAFKA TOPIC 'out' PARTITION user_id % 5\n"
        "SELECT order_id, user_id FROM orders;\n",
        1,
        41,
        "PARTITION user_id % 5 is negative when user_id is",
        id="mod-partition",
    ),
    pytest.param(
        "INSERT INTO KAFKA TOPIC 'out' PARTITION hash(order_id) % 4\n"
        "SELECT order_id FROM orders;\n",
        1,
        41,
        "PARTITION hash(order_id) % 4 is negative",
        id="mod-of-hash",
    ),
    pytest.param(
        "INSERT INTO KAFKA TOPIC 'out'\n"
        "SELECT o.order_id, c.page FROM orders o JOIN clicks c ON o.order_id = c.order_id;\n",
        2,
        46,
        "state, which grows without limit: clicks has no WATERMARK",
        id="join-without-watermark",
    ),
    pytest.param(
        "INSERT INTO KAFKA TOPIC 'out'\n"
        "SELECT o.order_id, p.paid FROM orders o JOIN payments p ON o.order_id = p.order_id;\n",
        2,
        46,
        "does not bound the event times",
        id="join-without-time-bound",
    ),
    pytest.param(
        "INSERT INTO KAFKA TOPIC 'orders' SELECT order_id, amount FROM orders;\n",
        1,
        25,
        "this query writes topic 'orders', which it reads (stream 'orders')",
        id="writes-what-it-reads",
    ),
]


@pytest.mark.parametrize(("sql", "line", "col", "fragment"), WARNS)
def test_warnings(tmp_path: Path, sql: str, line: int, col: int, fragment: str) -> None:
    result = compiled(tmp_path, sql)
    assert len(result.plan.sinks) == 1  # a warning stops nothing
    [warning] = result.warnings
    assert warning.location is not None
    where = (warning.location.line - HEADER_LINES, warning.location.col)
    assert where == (line, col), warning.format()
    assert fragment in warning.message
    assert warning.hint
    assert warning.format().startswith(f"{warning.location}: warning: ")


def test_the_nullable_topic_hint_says_add_an_else(tmp_path: Path) -> None:
    result = compiled(tmp_path, WARNS[0].values[0])  # type: ignore[index]
    assert "add an ELSE" in (result.warnings[0].hint or "")
    result = compiled(tmp_path, WARNS[3].values[0])  # type: ignore[index]
    assert result.warnings[0].hint == "use pmod(user_id, 5), which is never negative"


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO KAFKA TOPIC (CASE WHEN amount > 100 THEN 'big' ELSE 'small' END)\n"
        "SELECT order_id, amount FROM orders;\n",
        "INSERT INTO KAFKA TOPIC (coalesce(region, 'unknown'))\n"
        "SELECT order_id, region FROM orders;\n",
        "INSERT INTO KAFKA TOPIC ('o-' || dest)\n"
        "SELECT order_id, CASE WHEN amount > 1 THEN 'a' ELSE 'b' END AS dest FROM orders;\n",
        "INSERT INTO KAFKA TOPIC 'out' PARTITION pmod(user_id, 5)\n"
        "SELECT order_id, user_id FROM orders;\n",
        "INSERT INTO KAFKA TOPIC 'out' PARTITION abs(hash(order_id)) % 6\n"
        "SELECT order_id FROM orders;\n",
        "INSERT INTO KAFKA TOPIC 'out'\n"
        "SELECT o.order_id, p.paid FROM orders o JOIN payments p ON o.order_id = p.order_id\n"
        "AND p.paid_time BETWEEN o.event_time AND o.event_time + INTERVAL '1' HOUR;\n",
    ],
    ids=["case-with-else", "coalesce", "computed-never-null", "pmod", "abs-mod", "bounded-join"],
)
def test_no_warning(tmp_path: Path, sql: str) -> None:
    assert compiled(tmp_path, sql).warnings == []


def test_warnings_are_shown_with_the_errors(tmp_path: Path) -> None:
    with pytest.raises(UserErrors) as info:
        compiled(
            tmp_path,
            """
INSERT INTO KAFKA TOPIC 'out' PARTITION user_id % 5 SELECT order_id, user_id FROM orders;
INSERT INTO KAFKA TOPIC 'out' SELECT upperr(region) AS r FROM orders;
""",
        )
    text = info.value.format()
    assert ": warning: PARTITION user_id % 5" in text
    assert ": error: unknown function 'upperr'" in text
    assert text.index("warning:") < text.index("error:")  # in file order
    assert text.endswith("1 error and 1 warning found")


def test_a_query_over_a_stream_in_error_gets_no_verdict_of_its_own(tmp_path: Path) -> None:
    """A misspelled type breaks the stream: the query reading it is not also called not
    append-only, nor warned about, for want of the stream's watermark."""
    path = tmp_path / "q.sql"
    path.write_text(
        "CREATE STREAM tx (user_id STRING, amount DOUBEL, ts TIMESTAMP,\n"
        "    WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE) FROM KAFKA (topic = 'tx');\n"
        "INSERT INTO KAFKA TOPIC ('out-' || user_id)\n"
        "SELECT window.end AS w, user_id, sum(amount) AS total FROM tx\n"
        "GROUP BY window(ts, '5 minutes'), user_id;\n"
    )
    with pytest.raises(UserErrors) as raised:
        compile_project([str(path)])
    messages = [e.message for e in raised.value.errors]
    assert messages[0] == "expected a type after column 'amount' of stream 'tx'"
    assert not [m for m in messages if "append-only" in m or "NULL" in m], messages
