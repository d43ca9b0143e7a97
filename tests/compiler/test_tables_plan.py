"""Reference tables (no JVM): what the plan and the script say of a table and a stream-table
join. The refusals are golden files under invalid/ (310 and up)."""

from __future__ import annotations

from pathlib import Path

from test_codegen import FakeTarget

from sqlstream.compiler.facade import Compiled, compile_project
from sqlstream.project.connection import Connection
from sqlstream.spark import script as codegen
from sqlstream.spark import steps as st

PROJECT = """\
CREATE STREAM orders (order_id STRING, product STRING) FROM KAFKA (topic = 'orders');
CREATE TABLE products (product STRING, category STRING, PRIMARY KEY (product))
FROM KAFKA (topic = 'products', format = 'json', on_error = 'skip');
CREATE TABLE regions (product STRING, region STRING, PRIMARY KEY (product))
FROM FILES (path = 'data/regions.csv', format = 'csv');
CREATE STREAM enriched AS
SELECT o.order_id, o.product, p.category FROM orders o LEFT JOIN products p
ON o.product = p.product;

INSERT INTO KAFKA TOPIC 'with-region'
SELECT e.order_id, e.category, r.region FROM enriched e JOIN regions r ON e.product = r.product;

INSERT INTO KAFKA TOPIC 'plain' SELECT order_id FROM orders;
"""


def compiled(tmp_path: Path) -> Compiled:
    path = tmp_path / "q.sql"
    path.write_text(PROJECT)
    return compile_project([str(path)])


def test_a_sink_lists_the_tables_it_joins_through_derived_streams(tmp_path: Path) -> None:
    result = compiled(tmp_path)
    joined, plain = result.plan.sinks
    assert joined.tables == ["products", "regions"]
    assert plain.tables == []
    assert [t.name for t in result.plan.tables] == ["products", "regions"]
    assert result.warnings == []  # a join to a table keeps no state


def test_a_kafka_table_is_its_topic_read_whole_the_latest_record_per_key(tmp_path: Path) -> None:
    result = compiled(tmp_path)
    products = result.plan.tables[0]
    assert products.read_options["startingOffsets"] == "earliest"
    assert products.read_options["endingOffsets"] == "latest"
    assert [c.role for c in products.columns] == ["key", "value"]
    assert products.keep_filter is not None and products.keep_filter.startswith("NOT (")
    assert products.latest is not None and products.latest.startswith("max_by(")


def test_the_script_shows_each_table_read_before_the_query_joining_it(tmp_path: Path) -> None:
    result = compiled(tmp_path)
    connection = Connection.from_target(FakeTarget())
    kinds = [type(s).__name__ for s in st.steps(result.plan, connection=connection)]
    assert kinds == [
        "ReadSource",
        "ReadTable",
        "ReadTable",
        "CreateView",
        "StartQuery",
        "StartQuery",
    ]
    text = codegen.script(result.plan, connection=connection)
    kafka = text.index('spark.read.format("kafka")')
    assert text.index('.groupBy("product")') > kafka
    assert '.where("NOT __latest.__deleted")' in text
    assert 'spark.read.format("csv")' in text and '.load("data/regions.csv")' in text
    assert '.option("header", "true")' in text
    assert text.index('createOrReplaceTempView("regions")') < text.index("# Query")


def test_a_query_without_tables_reads_none(tmp_path: Path) -> None:
    result = compiled(tmp_path)
    plain = result.plan.sinks[1]
    connection = Connection.from_target(FakeTarget())
    kinds = [type(s).__name__ for s in st.steps(result.plan, plain, connection=connection)]
    assert kinds == ["ReadSource", "StartQuery"]
