"""Property: the Spark SQL sqlstream writes of a query means what the user wrote.

sqlstream rewrites a parsed query before it writes it (long AND/OR chains are rebalanced, a long
plain WHERE is written apart, leaves get positions), and each rewrite claims to print the same
text. Stock sqlglot's Spark dialect is the oracle: for conditions of every shape and length,
short and far past the rebalancing and the long-filter thresholds, with parentheses, NOT and
mixed AND/OR, what sqlstream writes must be what stock sqlglot writes of the same text.
(A rebalanced chain once dropped the parentheses of an operand: ``... AND (b OR c)`` was run
as ``... AND b OR c``.)
"""

from __future__ import annotations

import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlstream.compiler.syntax import QueryStatement, parse_statement, to_spark_sql
from sqlstream.compiler.syntax.spark import LONG_CHAIN, LONG_FILTER

COMPARISONS = ["a = 1", "b <> 'x'", "a + 1 > 2", "c IS NULL", "b LIKE 'y%'", "TRUE", "a IN (1, 2)"]


def condition(depth: int, long: bool = False) -> st.SearchStrategy[str]:
    """A comparison, or a chain of operands joined by AND / OR, each a comparison or a shorter
    condition in parentheses, maybe negated; with ``long``, also chains longer than
    ``LONG_CHAIN`` (rebalanced), some past ``LONG_FILTER`` nodes (written apart)."""
    leaf = st.sampled_from(COMPARISONS)
    if depth == 0:
        return leaf
    inner = condition(depth - 1)
    operand = st.one_of(leaf, inner.map(lambda c: f"({c})"), inner.map(lambda c: f"NOT ({c})"))
    chains = [st.lists(operand, min_size=2, max_size=6)]
    if long:
        chains.append(st.lists(operand, min_size=LONG_CHAIN + 1, max_size=LONG_CHAIN * 3))
    return st.one_of(leaf, *(c.flatmap(_joined) for c in chains))


def _joined(operands: list[str]) -> st.SearchStrategy[str]:
    joins = st.lists(st.sampled_from([" AND ", " OR "]), min_size=len(operands) - 1)
    return joins.map(lambda js: operands[0] + "".join(j + o for j, o in zip(js, operands[1:])))


def stock(sql: str) -> str:
    return sqlglot.parse_one(sql, dialect="spark").sql("spark", normalize_functions=False)


def ours(sql: str) -> str:
    tree = parse_statement(sql)
    assert isinstance(tree, QueryStatement)
    return to_spark_sql(tree.query)


@settings(max_examples=60, deadline=None)
@given(where=condition(2, long=True))
def test_a_query_is_written_as_stock_sqlglot_writes_it(where: str) -> None:
    sql = f"SELECT a FROM t WHERE {where}"
    assert ours(sql) == stock(sql)


def test_a_parenthesised_operand_of_a_rebalanced_chain_keeps_its_parentheses() -> None:
    terms = " AND ".join(f"a <> {i}" for i in range(LONG_CHAIN + 6))
    for tail in ("(b = 'x' OR b = 'y')", "NOT (b = 'x' OR c IS NULL)", "((b = 'x'))"):
        sql = f"SELECT a FROM t WHERE {terms} AND {tail}"
        assert ours(sql).endswith(f"AND {tail}")
        assert ours(sql) == stock(sql)


def test_a_long_plain_filter_with_a_parenthesised_or_keeps_it() -> None:
    terms = " AND ".join(f"a <> {i}" for i in range(LONG_FILTER))
    sql = f"SELECT a FROM t WHERE (b = 'x' OR b = 'y') AND {terms} AND (c = 1 OR a = 2)"
    assert ours(sql) == stock(sql)


# Whole queries: expressions of every kind, subqueries, joins, CTEs, set operations. A call
# sqlglot does not know is written in upper case by sqlstream (``my_udf`` -> ``MY_UDF``), as
# the oracle writes it with ``normalize_functions="upper"``.

NAMES = ["a", "b", "t.a", "`odd name`"]
LITERALS = ["1", "2.5", "'x'", "'it''s'", "NULL", "TRUE", "-3"]


def expression(depth: int) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(NAMES + LITERALS)
    if depth == 0:
        return leaf
    e = expression(depth - 1)
    pair = st.tuples(e, e)
    return st.one_of(
        leaf,
        st.tuples(e, st.sampled_from([" + ", " - ", " * ", " / ", " || ", " % "]), e).map("".join),
        e.map(lambda x: f"({x})"),
        e.map(lambda x: f"-({x})"),
        st.tuples(condition(1), e, e).map(
            lambda p: f"CASE WHEN {p[0]} THEN {p[1]} ELSE {p[2]} END"
        ),
        e.map(lambda x: f"CAST({x} AS STRING)"),
        pair.map(lambda p: f"coalesce({p[0]}, {p[1]})"),
        e.map(lambda x: f"my_udf({x})"),
        e.map(lambda x: f"upper({x})"),
        st.tuples(e, condition(1)).map(lambda p: f"if({p[1]}, {p[0]}, NULL)"),
    )


def query(depth: int) -> st.SearchStrategy[str]:
    items = st.lists(
        st.tuples(expression(2), st.sampled_from(["", " AS x", " y"])).map("".join),
        min_size=1,
        max_size=4,
    ).map(", ".join)
    sources = [st.just("t"), st.just("t JOIN u ON t.a = u.a"), st.just("t LEFT JOIN u USING (a)")]
    if depth:
        sources.append(query(depth - 1).map(lambda q: f"({q}) AS q"))
    where = st.one_of(st.just(""), condition(2).map(lambda c: f" WHERE {c}"))
    group = st.sampled_from(["", " GROUP BY a", " GROUP BY a, b HAVING count(*) > 1"])
    select = st.tuples(items, st.one_of(*sources), where, group).map(
        lambda p: f"SELECT {p[0]} FROM {p[1]}{p[2]}{p[3]}"
    )
    if not depth:
        return select
    inner = query(depth - 1)
    return st.one_of(
        select,
        st.tuples(inner, select).map(lambda p: f"WITH w AS ({p[0]}) {p[1]}"),
        st.tuples(select, inner).map(lambda p: f"{p[0]} UNION ALL {p[1]}"),
    )


@settings(max_examples=80, deadline=None)
@given(sql=query(1))
def test_any_query_is_written_as_stock_sqlglot_writes_it(sql: str) -> None:
    expected = sqlglot.parse_one(sql, dialect="spark").sql("spark", normalize_functions="upper")
    assert ours(sql) == expected
