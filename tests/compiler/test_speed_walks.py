"""The walks that skip a long plain WHERE find what the full walks find, in the same order."""

from __future__ import annotations

import pytest
from sqlglot import exp

from sqlstream.compiler import syntax
from sqlstream.compiler.syntax.spark import parse_query

LONG = " AND ".join(f"(amount <> {i} OR id = 'x{i}')" for i in range(100))

QUERIES = [
    "SELECT id FROM s WHERE amount > 1",
    f"SELECT id, window(ts, '5 minutes') AS w FROM s WHERE {LONG}",
    f"WITH c AS (SELECT id, ts FROM s) SELECT c.id FROM c JOIN t ON c.id = t.id WHERE {LONG}",
    f"SELECT id FROM s WHERE {LONG} AND id IN (SELECT id FROM t)",
    f"SELECT id FROM s WHERE {LONG} AND upper(id) = 'A'",
    f"SELECT id, count(*) FROM s WHERE {LONG} GROUP BY window(ts, '1 minute'), id",
    f"SELECT id FROM s WHERE {LONG} UNION ALL SELECT id FROM t WHERE {LONG}",
]

KINDS = [exp.Select, exp.Anonymous, exp.Table, exp.CTE, exp.Join, exp.Window, exp.Column]


def _parse(sql: str) -> exp.Expr:
    return parse_query(syntax.tokenize(sql), sql)


@pytest.mark.parametrize("sql", QUERIES)
@pytest.mark.parametrize("kind", KINDS)
def test_find_all_finds_what_sqlglot_finds(sql: str, kind: type[exp.Expr]) -> None:
    query = _parse(sql)
    assert [id(n) for n in syntax.find_all(query, kind)] == [id(n) for n in query.find_all(kind)]


@pytest.mark.parametrize("sql", QUERIES)
def test_walk_skips_only_the_inside_of_a_long_plain_filter(sql: str) -> None:
    query = _parse(sql)
    condition = syntax.long_filter(query)
    inside = (
        {id(n) for n in condition.walk() if n is not condition} if condition is not None else set()
    )
    expected = [id(n) for n in query.walk() if id(n) not in inside]
    assert [id(n) for n in syntax.walk(query)] == expected


def test_a_long_filter_is_known_by_its_kind_and_size() -> None:
    assert syntax.long_filter(_parse(QUERIES[1])) is not None
    assert syntax.long_filter(_parse(QUERIES[0])) is None  # short
    assert syntax.long_filter(_parse(QUERIES[3])) is None  # a subquery in it
    assert syntax.long_filter(_parse(QUERIES[4])) is None  # a call in it
    pruned = sum(1 for _ in syntax.walk(_parse(QUERIES[1])))
    assert pruned < sum(1 for _ in _parse(QUERIES[1]).walk()) // 10


def test_the_columns_of_a_long_filter_are_those_of_plain_columns() -> None:
    query, other = _parse(QUERIES[1]), _parse(QUERIES[5])
    condition, other_condition = syntax.long_filter(query), syntax.long_filter(other)
    assert condition is not None and other_condition is not None
    for cond in (condition, other_condition, condition):  # the memo follows the condition asked
        columns = syntax.long_filter_columns(cond)
        assert columns is not None
        assert [id(c) for c in columns] == [id(c) for c in syntax.plain_columns(cond) or []]
