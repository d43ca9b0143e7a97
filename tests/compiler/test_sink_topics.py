"""What a sink declares of its topic, and what its PARTITION clause needs: plain data in the plan
that `run`'s preflight reads (no JVM, no broker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.plan import Plan, TopicSpec

SOURCE = """
CREATE STREAM events (id BIGINT, v STRING)
FROM KAFKA (topic = 'events', on_error = 'dlq', dlq_topic = 'events.DLT', dlq_partitions = 3);
"""


def plan_of(tmp_path: Path, sql: str) -> Plan:
    (tmp_path / "queries").mkdir()
    (tmp_path / "sqlstream.yml").write_text("name: p\n")
    (tmp_path / "queries" / "q.sql").write_text(SOURCE + sql)
    return compile_project([str(tmp_path / "queries" / "q.sql")]).plan


def test_a_declared_topic_is_plain_data_and_no_spark_option(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
INSERT INTO KAFKA TOPIC 'out'
WITH (partitions = 6, replication_factor = 1, 'topic.cleanup.policy' = 'compact',
      'topic.retention.ms' = 86400000, 'kafka.linger.ms' = '5')
SELECT id, v FROM events;
""",
    )
    sink = plan.sinks[0]
    assert sink.topic_spec == TopicSpec(
        6, 1, {"cleanup.policy": "compact", "retention.ms": "86400000"}
    )
    # Topic configs are the broker's business: Spark's sink gets only the kafka.* options.
    assert sink.write_options == {"kafka.linger.ms": "5"}
    assert plan.sources[0].dlq_partitions == 3


def test_a_sink_that_declares_nothing_has_no_spec(tmp_path: Path) -> None:
    sink = plan_of(tmp_path, "INSERT INTO KAFKA TOPIC 'out' SELECT id, v FROM events;").sinks[0]
    assert sink.topic_spec is None
    assert sink.partition_sql is None and sink.partitions_needed is None


@pytest.mark.parametrize(
    ("partition", "needed"),
    [
        ("3", 4),
        ("pmod(id, 4)", 4),
        ("PMOD(hash(v), 12)", 12),
        ("id % 5", 5),
        ("(id % 5)", 5),
        ("CAST(id AS INT)", None),  # only the run can tell: the preflight says so
        ("pmod(id, length(v))", None),
    ],
)
def test_the_partitions_a_partition_clause_needs(
    tmp_path: Path, partition: str, needed: int | None
) -> None:
    sink = plan_of(
        tmp_path, f"INSERT INTO KAFKA TOPIC 'out' PARTITION {partition} SELECT id, v FROM events;"
    ).sinks[0]
    assert sink.partitions_needed == needed
    assert sink.partition_sql is not None
