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


def test_ls_shows_each_table_and_the_queries_joining_it(tmp_path: Path) -> None:
    from sqlstream.spark.target import listing, listing_text

    data = listing(compiled(tmp_path))
    products, regions = data["tables"]
    assert products["from"] == "kafka" and products["where"] == "topic products"
    assert products["key"] == ["product"] and products["read_by"] == ["q_1"]
    assert regions["where"] == "csv data/regions.csv"
    text = listing_text(data)
    assert "tables:\n  products" in text and "joined by q_1" in text


def test_a_jdbc_table_reads_with_the_targets_credentials_never_the_plans(
    tmp_path: Path,
) -> None:
    (tmp_path / "sqlstream.yml").write_text("name: shop\nprofile: shop\n")
    (tmp_path / "profiles.yml").write_text(
        "shop:\n  target: dev\n  outputs:\n    dev:\n"
        "      jdbc: {user: app, password: 'pg-S3cret-pw'}\n"
    )
    (tmp_path / "q.sql").write_text(
        "CREATE STREAM orders (order_id STRING, product STRING) FROM KAFKA (topic = 'orders');\n"
        "CREATE TABLE products (product STRING, category STRING, PRIMARY KEY (product))\n"
        "FROM JDBC (url = 'jdbc:postgresql://db:5432/shop', table = 'public.products');\n"
        "INSERT INTO KAFKA TOPIC 'out'\n"
        "SELECT o.order_id, p.category FROM orders o JOIN products p ON o.product = p.product;\n"
    )
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = compile_project(["q.sql"])
    finally:
        os.chdir(cwd)
    [table] = result.plan.tables
    assert table.packages == ["org.postgresql:postgresql:42.7.4"]
    assert table.read_options["driver"] == "org.postgresql.Driver"
    connection = result.connection()
    assert connection.secret_setting("jdbc.password") == "pg-S3cret-pw"
    assert connection.redact("password pg-S3cret-pw") == "password ****"
    text = codegen.script(result.plan, connection=connection)
    assert "pg-S3cret-pw" not in text
    assert 'os.environ["SQLSTREAM_JDBC_PASSWORD"]' in text or "SQLSTREAM_JDBC_PASSWORD" in text
    assert "--packages org.apache.spark" in text and ",org.postgresql:postgresql:42.7.4" in text
