"""`validate` refuses a call in a clause, or a column in an aggregation, where Spark's analyser
refuses it, and no other.

Each query goes to both: to the compiler (no JVM), as a bare SELECT over a stream, and to the
session's Spark, over an empty view of the same columns. The refusals are those of
``checks.MISPLACED`` and ``checks._aggregation``; the queries that pass are their near misses (a
subquery's aggregate, HAVING, array functions, a lambda, grouping by an expression or an alias,
FILTER, GROUP BY ALL). The caret positions are the compiler's tests (tests/compiler/invalid).
"""

from __future__ import annotations

import typing as t
import uuid
from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project
from sqlstream.errors import UserErrors

pytestmark = pytest.mark.e2e

COLUMNS = "user_id STRING, n INT, tags ARRAY<STRING>, ts TIMESTAMP"

CASES = [
    ("SELECT user_id FROM {v} WHERE count(*) > 1", "INVALID_WHERE_CONDITION"),
    (
        "SELECT user_id FROM {v} WHERE sum(n) OVER (PARTITION BY user_id) > 1",
        "WINDOW_FUNCTION_NOT_ALLOWED_IN_CLAUSE",
    ),
    ("SELECT user_id FROM {v} WHERE explode(tags) = 'a'", "UNSUPPORTED_GENERATOR.OUTSIDE_SELECT"),
    ("SELECT user_id, count(*) FROM {v} GROUP BY user_id, max(n)", "GROUP_BY_AGGREGATE"),
    ("SELECT user_id, n FROM {v} GROUP BY user_id", "MISSING_AGGREGATION"),
    ("SELECT user_id, count(*) FROM {v}", "MISSING_GROUP_BY"),
    ("SELECT max(count(*)) FROM {v} GROUP BY user_id", "NESTED_AGGREGATE_FUNCTION"),
    ("SELECT user_id FROM {v} WHERE n > (SELECT max(n) FROM {v})", None),
    ("SELECT upper(user_id), count(*) FROM {v} GROUP BY upper(user_id)", None),
    ("SELECT user_id AS u, count(*) AS c, c + 1 FROM {v} GROUP BY u", None),
    ("SELECT c.user_id, n + 1, count(*) FROM {v} c GROUP BY user_id, n", None),
    ("SELECT user_id, n FROM {v} GROUP BY ALL", None),
    ("SELECT user_id, count(*) FILTER (WHERE n > 1) FROM {v} GROUP BY user_id", None),
    ("SELECT user_id, transform(collect_list(n), x -> x + 1) FROM {v} GROUP BY user_id", None),
    ("SELECT user_id, max(n) OVER (PARTITION BY user_id) FROM {v}", None),
    ("SELECT user_id, count(*) FROM {v} GROUP BY user_id HAVING count(*) > 1", None),
    ("SELECT user_id FROM {v} WHERE array_max(tags) = 'a'", None),
    ("SELECT user_id FROM {v} WHERE exists(tags, t -> t = 'a')", None),
]


WORDS = ("is not allowed in", "not in GROUP BY", "an aggregate inside an aggregate")


@pytest.fixture(scope="module")
def view(spark: t.Any) -> str:
    name = f"clicks_{uuid.uuid4().hex[:8]}"
    spark.createDataFrame([], COLUMNS).createOrReplaceTempView(name)
    return name


def _validate(tmp_path: Path, view: str, query: str) -> list[str]:
    path = tmp_path / "q.sql"
    path.write_text(f"CREATE STREAM {view} ({COLUMNS}) FROM KAFKA (topic = 'clicks');\n{query};\n")
    try:
        compile_project([str(path)])
    except UserErrors as e:
        return [error.message for error in e.errors]
    return []


def _spark_condition(spark: t.Any, query: str) -> str | None:
    from pyspark.errors import AnalysisException

    try:
        spark.sql(query)  # analysed (and refused) here, not run
    except AnalysisException as e:
        return str(e.getCondition())
    return None


@pytest.mark.parametrize(("query", "condition"), CASES, ids=[c[0][:50] for c in CASES])
def test_validate_refuses_what_spark_refuses(
    spark: t.Any, view: str, tmp_path: Path, query: str, condition: str | None
) -> None:
    sql = query.format(v=view)
    assert _spark_condition(spark, sql) == condition
    errors = _validate(tmp_path, view, sql)
    if condition is None:
        assert errors == []
    else:
        assert len(errors) == 1 and any(w in errors[0] for w in WORDS), errors


# --- on a stream: what Spark refuses when the query starts, in append mode ---------------------

STREAM_COLUMNS = "user_id STRING, n INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE"

STREAM_CASES = [
    ("SELECT user_id FROM {s} WHERE n IN (SELECT n FROM {s})", "STREAMING_QUERY"),
    ("SELECT user_id, (SELECT max(n) FROM {s}) AS m FROM {s}", "STREAMING_QUERY"),
    ("SELECT user_id FROM {s} WHERE EXISTS (SELECT 1 FROM {s} x WHERE x.n > 1)", "STREAMING_QUERY"),
    ("SELECT user_id FROM {s} TABLESAMPLE (10 PERCENT)", "Sampling is not supported"),
    ("SELECT user_id FROM {s} CROSS JOIN {s} AS t", "AMBIGUOUS_REFERENCE"),
    ("SELECT user_id FROM {s} WHERE user_id IN (SELECT id FROM {t})", None),
    (
        "SELECT window(ts, '1 minute') AS w, count(*) AS c FROM {s} "
        "GROUP BY window(ts, '1 minute')",
        None,
    ),
    (
        "SELECT user_id, session_window(ts, '5 minutes') AS w, count(*) AS c FROM {s} "
        "GROUP BY session_window(ts, '5 minutes'), user_id",
        None,
    ),
]
STREAM_WORDS = ("not supported on streams", "is ambiguous")


@pytest.fixture(scope="module")
def stream_views(spark: t.Any) -> tuple[str, str]:
    """A stream (Spark's rate source, with a watermark) and a static table of ids."""
    suffix = uuid.uuid4().hex[:8]
    stream, table = f"events_{suffix}", f"vips_{suffix}"
    spark.readStream.format("rate").load().selectExpr(
        "cast(value AS STRING) AS user_id", "cast(value AS INT) AS n", "timestamp AS ts"
    ).withWatermark("ts", "1 minute").createOrReplaceTempView(stream)
    spark.createDataFrame([("1",)], "id STRING").createOrReplaceTempView(table)
    return stream, table


def _spark_at_start(spark: t.Any, query: str, checkpoint: Path) -> str | None:
    """What Spark says when the query starts in append mode (None: it started)."""
    try:
        started = (
            spark.sql(query)
            .writeStream.format("noop")
            .outputMode("append")
            .option("checkpointLocation", str(checkpoint))
            .start()
        )
    except Exception as e:  # AnalysisException, or the checker's own
        return str(e)
    started.stop()
    return None


@pytest.mark.parametrize(("query", "says"), STREAM_CASES, ids=[c[0][:50] for c in STREAM_CASES])
def test_validate_refuses_on_a_stream_what_spark_refuses(
    spark: t.Any, stream_views: tuple[str, str], tmp_path: Path, query: str, says: str | None
) -> None:
    stream, table = stream_views
    sql = query.format(s=stream, t=table)
    refused = _spark_at_start(spark, sql, tmp_path / "checkpoint")
    assert (refused is None) if says is None else (refused is not None and says in refused)
    path = tmp_path / "q.sql"
    path.write_text(
        f"CREATE STREAM {stream} ({STREAM_COLUMNS}) FROM KAFKA (topic = 'events');\n"
        f"CREATE TABLE {table} (id STRING, PRIMARY KEY (id)) FROM FILES "
        "(path = 'vips.csv', format = 'csv');\n"
        f"INSERT INTO KAFKA TOPIC 'out' {sql};\n"
    )
    try:
        compile_project([str(path)])
        errors: list[str] = []
    except UserErrors as e:
        errors = [error.message for error in e.errors]
    if says is None:
        assert errors == []
    else:
        assert len(errors) == 1 and any(w in errors[0] for w in STREAM_WORDS), errors
