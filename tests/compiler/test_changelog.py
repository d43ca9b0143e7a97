"""CHANGELOG sinks (no JVM): what is accepted, what the plan and the script say of it. The
refusals are golden files under invalid/ (303 and up)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_codegen import FakeTarget

from sqlstream.compiler.facade import Compiled, compile_project
from sqlstream.errors import UserErrors
from sqlstream.project.connection import Connection
from sqlstream.spark import script as codegen

PAYMENTS = """\
CREATE STREAM payments (user_id STRING, region STRING, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '10' SECONDS) FROM KAFKA (topic = 'payments');
"""


def compiled(tmp_path: Path, sql: str) -> Compiled:
    path = tmp_path / "q.sql"
    path.write_text(PAYMENTS + sql)
    return compile_project([str(path)])


ACCEPTED = [
    pytest.param(
        "INSERT INTO KAFKA TOPIC 'spend' CHANGELOG KEY user_id\n"
        "SELECT user_id, sum(amount) AS spent FROM payments GROUP BY user_id;\n",
        id="running-total",
    ),
    pytest.param(
        "INSERT INTO KAFKA TOPIC 'spend' CHANGELOG KEY (region, user_id)\n"
        "SELECT user_id, region, count(*) AS n FROM payments GROUP BY user_id, region;\n",
        id="two-columns-in-any-order",
    ),
    pytest.param(
        "INSERT INTO KAFKA TOPIC 'spend' CHANGELOG KEY u\n"
        "SELECT lower(user_id) AS u, sum(amount) AS spent FROM payments GROUP BY lower(user_id);\n",
        id="grouping-expression-selected-by-alias",
    ),
    pytest.param(
        "INSERT INTO KAFKA TOPIC 'spend' CHANGELOG KEY (window, user_id)\n"
        "SELECT window, user_id, sum(amount) AS spent FROM payments\n"
        "GROUP BY window(ts, '1 hour'), user_id;\n",
        id="windowed-early-results",
    ),
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_a_changelog_sink_runs_in_update_mode_into_a_compacted_topic(
    tmp_path: Path, sql: str
) -> None:
    result = compiled(tmp_path, sql)
    [sink] = result.plan.sinks
    assert sink.changelog
    assert sink.topic_spec is not None
    assert sink.topic_spec.configs == {"cleanup.policy": "compact"}
    assert any(e.endswith(" AS `key`") for e in sink.write_exprs)
    script = codegen.script(result.plan, connection=Connection.from_target(FakeTarget()))
    assert '.outputMode("update")' in script


def test_a_declared_topic_keeps_its_partitions_and_configs(tmp_path: Path) -> None:
    result = compiled(
        tmp_path,
        "INSERT INTO KAFKA TOPIC 'spend' CHANGELOG KEY user_id\n"
        "WITH (partitions = 3, 'topic.cleanup.policy' = 'compact,delete',"
        " 'topic.retention.ms' = '60000')\n"
        "SELECT user_id, sum(amount) AS spent FROM payments GROUP BY user_id;\n",
    )
    spec = result.plan.sinks[0].topic_spec
    assert spec is not None and spec.partitions == 3
    assert spec.configs == {"cleanup.policy": "compact,delete", "retention.ms": "60000"}


def test_an_append_only_sink_stays_in_append_mode(tmp_path: Path) -> None:
    result = compiled(tmp_path, "INSERT INTO KAFKA TOPIC 'out' SELECT user_id FROM payments;\n")
    [sink] = result.plan.sinks
    assert not sink.changelog and sink.topic_spec is None
    script = codegen.script(result.plan, connection=Connection.from_target(FakeTarget()))
    assert '.outputMode("append")' in script


def test_the_refusal_of_a_running_total_names_the_opt_in(tmp_path: Path) -> None:
    with pytest.raises(UserErrors) as info:
        compiled(
            tmp_path,
            "INSERT INTO KAFKA TOPIC 'spend'\n"
            "SELECT user_id, region, sum(amount) AS spent FROM payments\n"
            "GROUP BY user_id, region;\n",
        )
    [error] = info.value.errors
    assert "CHANGELOG KEY (user_id, region)" in (error.hint or "")


def test_a_derived_stream_that_aggregates_is_still_refused_under_a_changelog_sink(
    tmp_path: Path,
) -> None:
    """CHANGELOG applies to the sink's own aggregation; a stream it reads stays append-only."""
    with pytest.raises(UserErrors) as info:
        compiled(
            tmp_path,
            "CREATE STREAM totals AS SELECT user_id, sum(amount) AS spent FROM payments"
            " GROUP BY user_id;\n"
            "INSERT INTO KAFKA TOPIC 'spend' CHANGELOG KEY user_id\n"
            "SELECT user_id, max(spent) AS top FROM totals GROUP BY user_id;\n",
        )
    assert any("not append-only" in e.message for e in info.value.errors)
