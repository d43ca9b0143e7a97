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
