"""A JDBC table end to end: a real PostgreSQL server (``pgserver``), the driver fetched by
Maven into `sqlstream run`'s own Spark session, the credentials from the profile.

One run as a process (``--trigger available-now``): each order meets the product row it names,
an order of an unknown product keeps nulls (LEFT JOIN), and the password appears nowhere: not in
the run's output, not in the compiled script.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from cliproc import SQLSTREAM
from cliproc import env as cli_env
from pgserver import USER, Postgres

from sqlstream.local.client import consume_all, create_topic, produce

pytestmark = pytest.mark.e2e


def test_orders_are_enriched_from_a_postgresql_table(
    postgres: Postgres, kafka_bootstrap: str, tmp_path: Path
) -> None:
    uid = uuid.uuid4().hex[:8]
    orders, out, table = f"orders-{uid}", f"enriched-{uid}", f"products_{uid}"
    postgres.sql(
        f"CREATE TABLE {table} (product TEXT PRIMARY KEY, category TEXT, price NUMERIC(8, 2));"
        f"INSERT INTO {table} VALUES ('a', 'toys', 9.50), ('b', 'books', 12.00);"
    )
    create_topic(kafka_bootstrap, orders, partitions=1)
    produce(
        kafka_bootstrap,
        orders,
        [(None, json.dumps({"order_id": o, "product": p})) for o, p in [("o1", "a"), ("o2", "z")]],
    )
    (tmp_path / "queries").mkdir()
    (tmp_path / "sqlstream.yml").write_text("name: pg\nprofile: pg\n")
    (tmp_path / "profiles.yml").write_text(
        "pg:\n  target: dev\n  outputs:\n    dev:\n"
        f"      bootstrap_servers: '{kafka_bootstrap}'\n"
        f"      checkpoint_root: {tmp_path / 'checkpoints'}\n"
        f"      jdbc:\n        user: {USER}\n"
        "        password: \"{{ env_var('PG_PASSWORD') }}\"\n"
    )
    (tmp_path / "queries" / "enrich.sql").write_text(
        f"""
CREATE STREAM orders (order_id STRING, product STRING)
FROM KAFKA (topic = '{orders}', starting_offsets = 'earliest');
CREATE TABLE products (product STRING, category STRING, price DECIMAL(8, 2), PRIMARY KEY (product))
FROM JDBC (url = '{postgres.url}', table = '{table}');

INSERT INTO KAFKA TOPIC '{out}'
SELECT o.order_id, p.category, p.price FROM orders o LEFT JOIN products p ON o.product = p.product;
"""
    )
    env = cli_env(PG_PASSWORD=postgres.password)
    compiled = subprocess.run(
        [str(SQLSTREAM), "compile", "queries"], cwd=tmp_path, env=env, capture_output=True,
        text=True, check=False, timeout=120,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stderr
    script = next((tmp_path / "target" / "scripts").glob("*.py")).read_text()
    assert "org.postgresql:postgresql" in script and postgres.password not in script
    assert "SQLSTREAM_JDBC_PASSWORD" in script  # a script reads it from its environment
    run = subprocess.run(
        [str(SQLSTREAM), "run", "queries", "--trigger", "available-now"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert postgres.password not in run.stdout + run.stderr
    got = [json.loads(r.value or b"null") for r in consume_all(kafka_bootstrap, out)]
    assert got == [
        {"order_id": "o1", "category": "toys", "price": 9.5},
        {"order_id": "o2", "category": None, "price": None},
    ]
