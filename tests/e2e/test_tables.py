"""Reference tables end to end: a stream joined to a Kafka table and a files table, on the real
broker and Spark, while both change.

One running project (a processing-time trigger): a table update and a delete between two
stream records, then the records of each sink in offset order: the earlier records are never
re-emitted, the later ones see the new value; the inner join drops what the table lacks, the
LEFT join keeps it with nulls.
"""

from __future__ import annotations

import json
import typing as t
import uuid
from pathlib import Path

import pytest
from pipeline import Pipeline

from sqlstream.compiler.plan import Trigger
from sqlstream.local.client import create_topic, produce

pytestmark = pytest.mark.e2e


def _rows(records: t.Sequence[t.Any]) -> list[tuple[str, str | None, str | None]]:
    out = []
    for r in records:
        value = json.loads(r.value)
        out.append((value["order_id"], value["category"], value.get("region")))
    return out


def test_stream_table_joins_see_the_table_as_it_is_when_each_record_arrives(
    spark: t.Any, kafka_bootstrap: str, tmp_path: Path
) -> None:
    uid = uuid.uuid4().hex[:8]
    orders, products = f"orders-{uid}", f"products-{uid}"
    left, inner, static = f"left-{uid}", f"inner-{uid}", f"static-{uid}"
    for topic in (orders, products, left, inner, static):
        create_topic(kafka_bootstrap, topic, partitions=1)
    regions = tmp_path / "regions.csv"
    regions.write_text("product,region\na,north\nb,south\n")
    sql = f"""
CREATE STREAM orders (order_id STRING, product STRING)
FROM KAFKA (topic = '{orders}', starting_offsets = 'earliest');
CREATE TABLE products (product STRING, category STRING, PRIMARY KEY (product))
FROM KAFKA (topic = '{products}', format = 'json');
CREATE TABLE regions (product STRING, region STRING, PRIMARY KEY (product))
FROM FILES (path = '{regions}', format = 'csv');

INSERT INTO KAFKA TOPIC '{left}'
SELECT o.order_id, p.category, r.region FROM orders o
LEFT JOIN products p ON o.product = p.product
LEFT JOIN regions r ON o.product = r.product;

INSERT INTO KAFKA TOPIC '{inner}'
SELECT o.order_id, p.category FROM orders o JOIN products p ON o.product = p.product;

INSERT INTO KAFKA TOPIC '{static}'
SELECT o.order_id, v.label AS category FROM orders o
LEFT JOIN (VALUES ('a', 'A')) AS v(product, label) ON o.product = v.product;
"""
    pipeline = Pipeline.create(tmp_path / "project", kafka_bootstrap, sql)

    def order(order_id: str, product: str) -> None:
        produce(
            kafka_bootstrap,
            orders,
            [(None, json.dumps({"order_id": order_id, "product": product}))],
        )

    produce(
        kafka_bootstrap,
        products,
        [("a", json.dumps({"category": "toys"})), ("b", json.dumps({"category": "books"}))],
    )
    with pipeline.running(spark, Trigger("processing_time", "1 second")) as queries:
        order("o1", "a")
        order("o2", "c")  # no such product
        pipeline.wait_for(left, 2, queries, timeout=120)
        # The table changes: a is renamed, b deleted (a tombstone).
        produce(kafka_bootstrap, products, [("a", json.dumps({"category": "games"})), ("b", None)])
        order("o3", "a")
        order("o4", "b")
        got_left = pipeline.wait_for(left, 4, queries, timeout=120)
        got_inner = pipeline.wait_for(inner, 2, queries, timeout=60)
        got_static = pipeline.wait_for(static, 4, queries, timeout=60)
    assert _rows(got_left) == [
        ("o1", "toys", "north"),
        ("o2", None, None),
        ("o3", "games", "north"),
        ("o4", None, "south"),
    ]
    assert _rows(got_inner) == [("o1", "toys", None), ("o3", "games", None)]
    # A LEFT JOIN to an inline VALUES list (a static relation) keeps the unmatched orders.
    assert _rows(got_static) == [
        ("o1", "A", None),
        ("o2", None, None),
        ("o3", "A", None),
        ("o4", None, None),
    ]
