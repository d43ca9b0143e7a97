"""A broken file blocks only what depends on it, as a user sees it: ``sqlstream run
queries/a.sql --trigger available-now`` as a process over a real broker, with an error in
queries/b.sql (which a.sql does not read), runs a.sql's query and says b.sql was not checked.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from cliproc import finished, summary
from pipeline import Pipeline

from sqlstream.local import client as kafkaclient

pytestmark = pytest.mark.e2e

A_SQL = """
CREATE STREAM orders (id INT, amount DOUBLE) FROM KAFKA (
    topic = '{orders}', starting_offsets = 'earliest'
);
INSERT INTO KAFKA TOPIC '{big}' WITH (name = 'big_orders')
SELECT id, amount FROM orders WHERE amount > 10;
"""

B_SQL = "INSERT INTO KAFKA TOPIC '{small}' SELECT id, nope FROM orders;\n"


def test_run_of_a_file_runs_it_despite_an_error_in_another(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    uid = uuid.uuid4().hex[:8]
    topics = {name: f"select-{name}-{uid}" for name in ("orders", "big", "small")}
    for name in ("orders", "big"):
        kafkaclient.create_topic(kafka_bootstrap, topics[name], partitions=1)
    kafkaclient.produce(
        kafka_bootstrap,
        topics["orders"],
        [
            (None, json.dumps({"id": i, "amount": amount}))
            for i, amount in enumerate([5.0, 50.0, 500.0])
        ],
    )
    root = tmp_path
    pipeline = Pipeline.create(root, kafka_bootstrap, A_SQL.format(**topics), file="a.sql")
    pipeline.write(B_SQL.format(**topics), file="b.sql")
    proc = finished(["run", "queries/a.sql", "--trigger", "available-now"], root, timeout=400)
    assert proc.returncode == 0, (proc.stdout, proc.stderr[-3000:])
    col = B_SQL.format(**topics).index("nope") + 1
    assert (
        f"queries/b.sql:1:{col}: warning: not checked: unknown column 'nope' in orders "
        "(not read by the selection)"
    ) in proc.stderr.splitlines()
    assert list(summary(proc.stdout.splitlines())) == ["big_orders"]
    written = kafkaclient.consume_all(kafka_bootstrap, topics["big"])
    assert sorted(json.loads(r.value)["id"] for r in written) == [1, 2]
    assert kafkaclient.consume_all(kafka_bootstrap, topics["small"], missing_ok=True) == []
