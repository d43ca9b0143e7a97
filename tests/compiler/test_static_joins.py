"""Joins of a stream to a static relation (an inline ``VALUES`` list, a CTE over one): what the
planner accepts. Spark joins each micro-batch to the relation, so the stream's side may be kept
whole (LEFT with the stream on the left, RIGHT with it on the right); the refusals are golden
files under invalid/ (300 and up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project
from sqlstream.errors import UserErrors

ORDERS = """\
CREATE STREAM orders (order_id STRING, product STRING, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '10' SECONDS) FROM KAFKA (topic = 'orders');
CREATE STREAM returns (order_id STRING, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '10' SECONDS) FROM KAFKA (topic = 'returns');
"""
PRODUCTS = "(VALUES ('a', 'toys'), ('b', 'books')) AS p(product, category)"
CTE = "WITH p AS (SELECT * FROM VALUES ('a', 'toys') AS t(product, category))\n"
CTE_OF_CTE = (
    "WITH base AS (SELECT * FROM VALUES ('a', 'toys') AS t(product, category)),\n"
    "p AS (SELECT product, upper(category) AS category FROM base)\n"
)

ACCEPTED = [
    pytest.param(
        f"SELECT o.order_id, p.category FROM orders o LEFT JOIN {PRODUCTS} "
        "ON o.product = p.product",
        id="left-join-values",
    ),
    pytest.param(
        CTE + "SELECT o.order_id, p.category FROM orders o LEFT JOIN p ON o.product = p.product",
        id="left-join-cte-over-values",
    ),
    pytest.param(
        CTE_OF_CTE
        + "SELECT o.order_id, p.category FROM orders o LEFT JOIN p ON o.product = p.product",
        id="left-join-cte-over-cte",
    ),
    pytest.param(
        f"SELECT o.order_id, p.category FROM {PRODUCTS} RIGHT JOIN orders o "
        "ON o.product = p.product",
        id="values-right-join-stream",
    ),
    pytest.param(
        f"SELECT o.order_id, p.category FROM orders o JOIN {PRODUCTS} ON o.product = p.product",
        id="inner-join-values-keeps-no-state",
    ),
    pytest.param(
        f"SELECT o.order_id, p.category, q.category AS c2 FROM orders o LEFT JOIN {PRODUCTS} "
        "ON o.product = p.product LEFT JOIN (VALUES ('a', 'x')) AS q(product, category) "
        "ON o.product = q.product",
        id="two-left-joins-to-values",
    ),
]


def compiled(tmp_path: Path, query: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "q.sql"
    path.write_text(f"{ORDERS}INSERT INTO KAFKA TOPIC 'out'\n{query};\n")
    return compile_project([str(path)])


@pytest.mark.parametrize("query", ACCEPTED)
def test_a_stream_joined_to_a_static_relation_is_accepted_without_warning(
    tmp_path: Path, query: str
) -> None:
    result = compiled(tmp_path, query)
    [sink] = result.plan.sinks
    assert "JOIN" in sink.sql
    assert result.warnings == []


REFUSED = [
    pytest.param(
        "SELECT o.order_id, r.ts AS r_ts FROM orders o LEFT JOIN returns r "
        "ON o.order_id = r.order_id",
        "LEFT OUTER join of streams needs a time bound",
        id="stream-stream-left-unbounded",
    ),
    pytest.param(
        "WITH r AS (SELECT * FROM returns)\n"
        "SELECT o.order_id, r.ts AS r_ts FROM orders o LEFT JOIN r ON o.order_id = r.order_id",
        "LEFT OUTER join of streams needs a time bound",
        id="cte-over-a-stream-is-a-stream",
    ),
    pytest.param(
        f"SELECT o.order_id, p.category FROM orders o RIGHT JOIN {PRODUCTS} "
        "ON o.product = p.product",
        "RIGHT OUTER join of a stream to a static relation",
        id="stream-right-join-values",
    ),
]


@pytest.mark.parametrize(("query", "fragment"), REFUSED)
def test_outer_joins_that_cannot_be_final_stay_refused(
    tmp_path: Path, query: str, fragment: str
) -> None:
    with pytest.raises(UserErrors) as info:
        compiled(tmp_path, query)
    [error] = info.value.errors
    assert fragment in error.message
    assert error.hint
