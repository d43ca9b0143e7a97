"""Spark's failures in sqlstream's words, located in the user's file (no JVM: the texts are
Spark's, as a run printed them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlstream.errors import RunFailure, UserError
from sqlstream.spark import reason as r

UNRESOLVED = (
    "[UNRESOLVED_ROUTINE] Cannot resolve routine `UPPERR` on search path [`system`.`builtin`, "
    "`system`.`session`, `spark_catalog`.`default`]. SQLSTATE: 42883; line 1 pos 16"
)


def _same(text: str) -> str:
    return text


def test_an_unknown_function_is_located_at_the_users_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.sql").write_text(
        "-- upperr( in a comment is not the call\n"
        "INSERT INTO KAFKA TOPIC 'out'\n"
        "SELECT user_id,\n"
        "       upperr (action) AS a\n"
        "FROM transactions;\n"
    )
    err = r.failure(
        "a.sql:2: query a_1",
        Exception(UNRESOLVED),
        redact=_same,
        file="a.sql",
        line=2,
        sql="SELECT user_id, UPPERR(action) AS a FROM transactions",
    )
    assert isinstance(err, UserError) and err.location is not None
    assert (err.location.line, err.location.col, err.location.length) == (4, 8, 6)
    assert err.message == "query a_1: unknown function upperr"
    assert "built-in functions" in (err.hint or "")


def test_the_name_at_sparks_position_when_the_message_quotes_none(tmp_path: Path) -> None:
    path = tmp_path / "b.sql"
    path.write_text("CREATE STREAM v AS\nSELECT id,\n  bogus + 1 AS x FROM s;\n")
    loc = r.locate(
        "something is wrong here; line 1 pos 11", str(path), 1, "SELECT id, bogus + 1 AS x FROM s"
    )
    assert loc is not None and (loc.line, loc.col) == (3, 3)


@pytest.mark.parametrize(
    ("spark", "ours", "hint"),
    [
        (
            "[KAFKA_NULL_TOPIC_IN_DATA] The Kafka message data sent to the producer contains a "
            "null topic. Use the `topic` option for setting a default topic.",
            "TOPIC expression is NULL",
            "ELSE",
        ),
        (
            "Job aborted due to stage failure: Task 0 in stage 1.0 failed 1 times, most recent "
            "failure: Lost task 0.0 in stage 1.0 (TID 1) (localhost executor driver): Compacted "
            "topic cannot accept message without key in topic partition h7-decl-1\n"
            "Driver stacktrace:",
            "topic 'h7-decl' is compacted",
            "KEY",
        ),
        (
            "[STATE_STORE_VALUE_SCHEMA_NOT_COMPATIBLE] ... set spark.sql.streaming.stateStore."
            "stateSchemaCheck to false",
            "state was written by a different version",
            "never turn Spark's state schema check off",
        ),
        (
            "Partition 4 of topic out with partition count 1 is not present in metadata after "
            "60000 ms.",
            "PARTITION gave 4, but topic 'out' has 1 partition(s)",
            "pmod(x, 1)",
        ),
        (
            # What registerJavaFunction says on Spark 4.2 when the jar is not built.
            "Can not load class sqlstream.protobuf.Decode, please make sure it is on the "
            "classpath.",
            "sqlstream's own jar (the class sqlstream.protobuf.Decode) is not on Spark's classpath",
            "make setup",
        ),
        (
            "batch 7 not committed to topic out: Kafka did not answer for 300 s"
            " (send_offsets_to_transaction did not return within 40 s)",
            "batch 7 not committed to topic out",
            "brokers of bootstrap_servers are up",
        ),
        (
            "batch 7 not committed to topic out: Producer fenced (another run of this query, with"
            " transactional id sqlstream-eos:p/q, fenced this one)",
            "fenced this one",
            "stop the other run of this query",
        ),
    ],
)
def test_sparks_advice_is_replaced(spark: str, ours: str, hint: str) -> None:
    err = r.failure("query q", Exception(spark), redact=_same)
    assert isinstance(err, RunFailure)
    text = str(err)
    assert ours in text and "hint: " in text and hint in text.split("hint: ", 1)[1]
    assert (
        "`topic` option" not in text and "to false" not in text and "Driver stacktrace" not in text
    )
    assert len(text.splitlines()) == 2
