"""A long plain WHERE (thousands of comparisons) takes a short cut through qualify and the
generator (``syntax.plain_columns``): the cut must change nothing a user sees. Each case is
compiled twice, with the cut and with it switched off, and the two must agree: the Spark SQL
of every query, or every error with its place."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp
from sqlglot.tokens import Token

from sqlstream.compiler import syntax
from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.syntax import spark
from sqlstream.errors import UserErrors

STREAMS = """CREATE STREAM s0 (id STRING KEY, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE) FROM KAFKA (topic = 't0');
CREATE STREAM s1 (id STRING KEY, amount DOUBLE, ts TIMESTAMP) FROM KAFKA (topic = 't1');
"""


def _filter(terms: int, odd: str = "amount", mistake: str | None = None) -> str:
    """``terms`` comparisons joined by AND and OR; term 150 is ``mistake`` if given."""
    parts = [
        mistake if mistake and i == 150 else f"{odd} <> {i}" if i % 2 else f"id <> 'x{i}'"
        for i in range(terms)
    ]
    return "".join(
        p + ("" if i == terms - 1 else " OR " if i % 50 == 49 else " AND ")
        for i, p in enumerate(parts)
    )


def _sink(where: str, select: str = "id, amount", source: str = "s0") -> str:
    return f"INSERT INTO KAFKA TOPIC 'o' KEY id\nSELECT {select} FROM {source}\nWHERE {where};\n"


CASES = {
    "valid": STREAMS + _sink(_filter(400)),
    "valid, parenthesised and negated": STREAMS
    + _sink("NOT (" + _filter(300) + ") OR (amount + 1) * 2 > -3 AND id IS NOT NULL"),
    "valid, a derived stream": STREAMS
    + f"CREATE STREAM v AS SELECT id, amount AS amt FROM s0 WHERE {_filter(300)};\n"
    + _sink(_filter(300, odd="amt"), select="id, amt", source="v"),
    "valid, a qualified and a quoted column": STREAMS
    + _sink(_filter(300, mistake="s0.amount > 1 AND `Amount` < 9")),
    "unknown column": STREAMS + _sink(_filter(400, mistake="amout <> 1")),
    "two unknown columns": STREAMS
    + _sink("bogus <> 0 AND " + _filter(400, mistake="amout <> 1") + " AND zzz <> 2"),
    "two unknown columns, the first deep in": STREAMS
    + _sink(_filter(400, mistake="amout <> 1") + " AND zzz <> 2"),
    "unknown column of a stream": STREAMS + _sink(_filter(400, mistake="s0.amout <> 1")),
    "unknown stream qualifier": STREAMS + _sink(_filter(400, mistake="zz.amount <> 1")),
    "unknown column in a derived stream": STREAMS
    + f"CREATE STREAM v AS SELECT id, amount AS amt FROM s0 WHERE {_filter(300)};\n"
    + _sink(_filter(300, odd="amt", mistake="amount > 0"), select="id, amt", source="v"),
    "ambiguous column": STREAMS
    + _sink(
        _filter(300, odd="a.amount", mistake="amount > 0").replace("id <>", "a.id <>"),
        select="a.id, a.amount",
        source="s0 a JOIN s1 b ON a.id = b.id AND a.ts BETWEEN b.ts AND b.ts + INTERVAL 1 MINUTE",
    ).replace("KEY id", "KEY a.id"),
}


def _outcome(root: Path, text: str) -> object:
    (root / "q.sql").write_text(text)
    try:
        compiled = compile_project([str(root / "q.sql")])
    except UserErrors as e:
        return [(err.message, err.location, err.hint) for err in e.errors]
    plan = compiled.full_plan or compiled.plan
    return [v.sql for v in plan.views] + [s.sql for s in plan.sinks]


@pytest.mark.parametrize("case", list(CASES))
def test_the_short_cut_changes_nothing(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = CASES[case]
    with_cut = _outcome(tmp_path, text)
    monkeypatch.setattr(spark, "LONG_FILTER", 10**9)  # no condition is long: no short cut
    without = _outcome(tmp_path, text)
    assert with_cut == without
    assert isinstance(with_cut, list) and with_cut
    kind = str if case.startswith("valid") else tuple  # the Spark SQL, or the errors
    assert all(isinstance(item, kind) for item in with_cut), with_cut


def test_a_long_plain_filter_is_one_and_other_conditions_are_not() -> None:
    tree = spark.parse_query(*_query_tokens("SELECT id FROM s0 WHERE " + _filter(100)))
    where = tree.args["where"].this
    columns = syntax.plain_columns(where)
    assert columns is not None and len(columns) == 100
    assert all(isinstance(c, exp.Column) for c in columns)
    short = spark.parse_query(*_query_tokens("SELECT id FROM s0 WHERE " + _filter(10)))
    assert syntax.plain_columns(short.args["where"].this) is None  # too short to matter
    called = spark.parse_query(
        *_query_tokens("SELECT id FROM s0 WHERE " + _filter(200, mistake="abs(amount) > 1"))
    )
    assert syntax.plain_columns(called.args["where"].this) is None  # a function call


def test_writing_a_long_filter_leaves_the_tree_as_it_was() -> None:
    tree = spark.parse_query(*_query_tokens("SELECT id FROM s0 WHERE " + _filter(400) + " LIMIT 3"))
    keys = list(tree.args)
    where = tree.args["where"]
    expected = tree.sql("spark", normalize_functions=False)  # the generator's own, on a copy
    assert syntax.to_spark_sql(tree) == expected
    assert list(tree.args) == keys and tree.args["where"] is where and where.parent is tree
    assert syntax.to_spark_sql(tree) == expected


def _query_tokens(sql: str) -> tuple[list[Token], str]:
    return spark.tokenize(sql), sql
