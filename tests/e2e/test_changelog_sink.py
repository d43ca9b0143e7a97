"""A CHANGELOG sink end to end: a running total per key on the real broker and Spark.

Two runs of one project over one checkpoint (``available_now``, so nothing depends on timing):
the first writes every group's total so far, the second only the groups its new records
changed, each a record keyed by the group, in the order of the runs; the topic `run` creates is
compacted, so it holds the latest total per key, which another project reads back as a table.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from pipeline import Pipeline

from sqlstream.compiler.facade import compile_project
from sqlstream.errors import RunFailure
from sqlstream.kafka import preflight
from sqlstream.kafka.admin import Cluster
from sqlstream.local.client import consume_all, create_topic, produce
from sqlstream.project.clientconfig import client_config

pytestmark = pytest.mark.e2e


def test_a_running_total_writes_each_change_keyed_by_its_group(
    spark: object, kafka_bootstrap: str, tmp_path: Path
) -> None:
    source, out = f"pay-{uuid.uuid4().hex[:8]}", f"spend-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, source, partitions=1)
    sql = (
        "CREATE STREAM payments (user_id STRING, amount BIGINT)\n"
        f"FROM KAFKA (topic = '{source}', starting_offsets = 'earliest');\n"
        f"INSERT INTO KAFKA TOPIC '{out}' CHANGELOG KEY user_id WITH (partitions = 1)\n"
        "SELECT user_id, sum(amount) AS spent, count(*) AS n FROM payments GROUP BY user_id;\n"
    )
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, sql)
    compiled = compile_project([str(tmp_path / "queries")])
    notes = preflight.check(compiled.plan, compiled.connection())
    assert any(f"created topic '{out}'" in n and "cleanup.policy=compact" in n for n in notes)
    info = Cluster(client_config(kafka_bootstrap, {})).describe(out)
    assert info.configs.get("cleanup.policy") == "compact"

    def pay(*rows: tuple[str, int]) -> None:
        produce(
            kafka_bootstrap,
            source,
            [(u, json.dumps({"user_id": u, "amount": a})) for u, a in rows],
        )

    def changes() -> list[tuple[str, dict[str, object]]]:
        got = consume_all(kafka_bootstrap, out)
        return [((r.key or b"").decode(), json.loads(r.value or b"null")) for r in got]

    pay(("ann", 10), ("bob", 5), ("ann", 1))
    pipeline.run(spark)
    first = changes()
    assert sorted(first, key=lambda c: c[0]) == [
        ("ann", {"user_id": "ann", "spent": 11, "n": 2}),
        ("bob", {"user_id": "bob", "spent": 5, "n": 1}),
    ]
    pay(("ann", 7))
    pipeline.run(spark)
    # Only the group that changed is written again: after the first run's records, in order.
    assert changes() == [*first, ("ann", {"user_id": "ann", "spent": 18, "n": 3})]

    # Another project reads the changelog back as a table: the latest total per user.
    lookups = f"lookups-{uuid.uuid4().hex[:8]}"
    answers = f"answers-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, lookups, partitions=1)
    reader = Pipeline.create(
        tmp_path / "reader",
        kafka_bootstrap,
        "CREATE STREAM lookups (user_id STRING)\n"
        f"FROM KAFKA (topic = '{lookups}', starting_offsets = 'earliest');\n"
        "CREATE TABLE spend (user_id STRING, spent BIGINT, n BIGINT, PRIMARY KEY (user_id))\n"
        f"FROM KAFKA (topic = '{out}');\n"
        f"INSERT INTO KAFKA TOPIC '{answers}'\n"
        "SELECT l.user_id, s.spent FROM lookups l LEFT JOIN spend s ON l.user_id = s.user_id;\n",
        name="reader",
    )
    produce(
        kafka_bootstrap, lookups, [(u, json.dumps({"user_id": u})) for u in ("ann", "bob", "cid")]
    )
    reader.run(spark)
    got = [json.loads(r.value or b"null") for r in consume_all(kafka_bootstrap, answers)]
    assert got == [
        {"user_id": "ann", "spent": 18},
        {"user_id": "bob", "spent": 5},
        {"user_id": "cid", "spent": None},
    ]


@pytest.mark.parametrize(
    ("config", "refused"),
    [({}, True), ({"cleanup.policy": "delete"}, True), ({"cleanup.policy": "compact"}, False)],
)
def test_an_existing_changelog_topic_must_be_compacted(
    kafka_bootstrap: str, tmp_path: Path, config: dict[str, str], refused: bool
) -> None:
    source, out = f"pay-{uuid.uuid4().hex[:8]}", f"spend-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, source, partitions=1)
    create_topic(kafka_bootstrap, out, partitions=1, config=config)
    sql = (
        "CREATE STREAM payments (user_id STRING, amount BIGINT)\n"
        f"FROM KAFKA (topic = '{source}');\n"
        f"INSERT INTO KAFKA TOPIC '{out}' CHANGELOG KEY user_id\n"
        "SELECT user_id, sum(amount) AS spent FROM payments GROUP BY user_id;\n"
    )
    Pipeline.create(tmp_path, kafka_bootstrap, sql)
    compiled = compile_project([str(tmp_path / "queries")])
    if not refused:
        preflight.check(compiled.plan, compiled.connection())
        return
    with pytest.raises(RunFailure) as info:
        preflight.check(compiled.plan, compiled.connection())
    message = str(info.value)
    assert f"writes a changelog to topic '{out}', which is not compacted" in message
    assert "(cleanup.policy=delete)" in message
    assert f"`sqlstream topics delete {out}`" in message
