"""``sqlstream test`` with tables and a changelog sink, on the session's Spark: rows given for a
table as for a stream, and the expected rows of a CHANGELOG sink are its final value per key."""

from __future__ import annotations

import textwrap
import typing as t
from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project
from sqlstream.unittests import suite as testing

pytestmark = pytest.mark.e2e

SQL = """\
CREATE STREAM orders (order_id STRING, user_id STRING, product STRING, amount DOUBLE)
FROM KAFKA (topic = 'orders');
CREATE TABLE products (product STRING, category STRING, PRIMARY KEY (product))
FROM KAFKA (topic = 'products');

INSERT INTO KAFKA TOPIC 'enriched' WITH (name = 'enriched')
SELECT o.order_id, p.category FROM orders o LEFT JOIN products p ON o.product = p.product;

INSERT INTO KAFKA TOPIC 'spend' CHANGELOG KEY user_id WITH (name = 'spend')
SELECT user_id, sum(amount) AS spent FROM orders GROUP BY user_id;
"""

TESTS = """\
- name: orders meet their product, or nulls
  query: enriched
  given:
    orders:
      - {order_id: o1, product: a}
      - {order_id: o2, product: z}
    products:
      - {product: a, category: toys}
  expect:
    - {order_id: o1, category: toys}
    - {order_id: o2, category: null}
- name: the running total is the last value per user
  query: spend
  given:
    orders:
      - {user_id: ann, amount: 10}
      - {user_id: ann, amount: 2.5}
      - {user_id: bob, amount: 1}
  expect:
    - {user_id: ann, spent: 12.5}
    - {user_id: bob, spent: 1.0}
"""


def test_tables_take_rows_and_a_changelog_expects_the_final_value_per_key(
    spark: t.Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "queries").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    (tmp_path / "queries" / "q.sql").write_text(SQL)
    (tmp_path / "tests" / "q.yml").write_text(textwrap.dedent(TESTS))
    monkeypatch.chdir(tmp_path)
    compiled = compile_project()
    results = testing.run_tests(testing.load_tests(compiled), spark, compiled.plan.settings)
    assert len(results) == 2
    for r in results:
        assert r.passed, testing.format_result(r)
