"""json-confluent as the compiler plans it from the lock file (no registry, no JVM): the prefix
checks and the json decoder on the payload, columns from the JSON Schema's properties, the sink's
derived JSON Schema and its id, the lock's ``schemaType``, and the errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.schemas import LOCK_FILE, Version, read_lock, write_lock
from sqlstream.errors import UserErrors

CLICKS = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "score": {"type": ["number", "null"]},
        "ok": {"type": "boolean"},
        "at": {"type": "string", "format": "date-time"},
        "day": {"oneOf": [{"type": "null"}, {"type": "string", "format": "date"}]},
        "user": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {}}},
        },
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}
OUT = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "out_value",
    "type": "object",
    "properties": {"id": {"type": ["integer", "null"]}},
}


def _project(tmp_path: Path, sql: str, subjects: dict[str, list[Version]]) -> Path:
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    (tmp_path / "queries").mkdir(exist_ok=True)
    (tmp_path / "queries" / "q.sql").write_text(sql)
    write_lock(tmp_path / LOCK_FILE, subjects)
    return tmp_path / "queries"


def _json(schema: object, version: int = 1, id_: int = 21) -> Version:
    return Version(version, id_, json.dumps(schema), "JSON")


DECLARED = """
CREATE STREAM clicks (uid STRING KEY, id BIGINT, score DOUBLE)
FROM KAFKA (topic = 'clicks', format = 'json-confluent', key_format = 'json-confluent');
INSERT INTO KAFKA TOPIC 'out' KEY id FORMAT json-confluent
    WITH (key_format = 'json-confluent') SELECT id FROM clicks;
"""
KEY_IN = {"type": "object", "properties": {"uid": {"type": "string"}}}
KEY_OUT = {**OUT, "title": "out_key"}


def test_the_prefix_is_checked_then_the_payload_read_as_json(tmp_path: Path) -> None:
    subjects = {
        "clicks-value": [_json(CLICKS, 1, 21), _json(CLICKS, 2, 22)],
        "clicks-key": [_json(KEY_IN, 1, 23)],
        "out-value": [_json(OUT, 1, 24)],
        "out-key": [_json(KEY_OUT, 1, 25)],
    }
    plan = compile_project([str(_project(tmp_path, DECLARED, subjects))]).plan
    (source,) = plan.sources
    parses = source.decoding.parse_exprs
    assert any("from_json(CAST(substring(`value`, 6) AS STRING)" in e for e in parses)
    assert any("from_json(CAST(substring(`key`, 6) AS STRING)" in e for e in parses)
    reason = source.decoding.reason_expr
    # The ids known are those of the lock, value and key each its own.
    assert "NOT IN (X'0000000015', X'0000000016')" in reason
    assert "NOT IN (X'0000000017')" in reason
    order = [reason.index(s) for s in ("no magic byte 0", "unknown schema id", "not valid JSON")]
    assert order == sorted(order)  # the prefix first: its reasons win
    assert "key: not valid JSON" in reason
    (sink,) = plan.sinks
    key, value = sink.write_exprs[0], sink.write_exprs[1]
    assert value.startswith("concat(X'0000000018', CAST(to_json(named_struct('id', `id`), ")
    assert value.endswith(" AS BINARY)) AS `value`")
    assert key.startswith("concat(concat(X'0000000019', CAST(to_json(named_struct('id', `id`)")


def test_columns_left_out_come_from_the_properties(tmp_path: Path) -> None:
    clicks = json.loads(json.dumps(CLICKS))
    clicks["properties"]["user"]["properties"]["tags"]["items"] = {"type": "string"}
    sql = (
        "CREATE STREAM clicks FROM KAFKA (topic = 'clicks', format = 'json-confluent');\n"
        "INSERT INTO KAFKA TOPIC 'out' SELECT * FROM clicks;\n"
    )
    plan = compile_project([str(_project(tmp_path, sql, {"clicks-value": [_json(clicks)]}))]).plan
    assert [(c.name, c.type) for c in plan.sources[0].columns] == [
        ("id", "BIGINT"),
        ("score", "DOUBLE"),
        ("ok", "BOOLEAN"),
        ("at", "TIMESTAMP"),
        ("day", "DATE"),
        ("user", "STRUCT<name: STRING, tags: ARRAY<STRING>>"),
        ("counts", "MAP<STRING, BIGINT>"),
    ]


@pytest.mark.parametrize(
    ("prop", "message"),
    [
        ({}, "has no type"),
        ({"type": ["string", "integer"]}, "has type ['string', 'integer']"),
        ({"$ref": "#/definitions/x"}, "is a reference (#/definitions/x)"),
        ({"type": "array", "items": {}}, "property 'f[]' of the latest JSON Schema has no type"),
        ({"type": "object"}, "is an object without properties"),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "anyOf of 2 non-null schemas"),
    ],
)
def test_properties_it_cannot_map_are_located_errors(
    tmp_path: Path, prop: dict, message: str
) -> None:
    schema = {"type": "object", "properties": {"f": prop}}
    sql = "CREATE STREAM clicks FROM KAFKA (topic = 'clicks', format = 'json-confluent');\n"
    with pytest.raises(UserErrors) as info:
        compile_project([str(_project(tmp_path, sql, {"clicks-value": [_json(schema)]}))])
    (error,) = info.value.errors
    assert message in error.message
    assert error.location is not None and (error.location.line, error.location.col) == (1, 15)
    assert error.hint and "declare the stream's columns" in error.hint


def test_the_sink_schema_is_a_nullable_object_of_the_output(tmp_path: Path) -> None:
    sql = (
        "CREATE STREAM s (a BIGINT, at TIMESTAMP, b BINARY) FROM KAFKA (topic = 't');\n"
        "INSERT INTO KAFKA TOPIC 'out' FORMAT json-confluent WITH (auto_register = true)\n"
        "SELECT a, at, b, named_struct('x', a, 'ys', array(1.5D)) AS s, map('k', a) AS m FROM s;\n"
    )
    with pytest.raises(UserErrors) as info:  # offline: run registers it, compile says so
        compile_project([str(_project(tmp_path, sql, {}))])
    assert "not yet registered under subject 'out-value'" in info.value.errors[0].message
    from sqlstream.compiler.schematypes import json_object

    derived = json_object(
        "out_value",
        [
            ("a", "BIGINT"),
            ("at", "TIMESTAMP"),
            ("b", "BINARY"),
            ("s", "STRUCT<x: BIGINT, ys: ARRAY<DOUBLE>>"),
            ("m", "MAP<STRING, BIGINT>"),
        ],
    )
    (tmp_path / LOCK_FILE).unlink()
    write_lock(tmp_path / LOCK_FILE, {"out-value": [_json(derived, 1, 40)]})
    (sink,) = compile_project([str(tmp_path / "queries")]).plan.sinks
    assert sink.write_exprs[1].startswith("concat(X'0000000028', ")
    assert derived["properties"] == {
        "a": {"type": ["integer", "null"]},
        "at": {"type": ["string", "null"], "format": "date-time"},
        "b": {"type": ["string", "null"], "contentEncoding": "base64"},
        "s": {
            "type": ["object", "null"],
            "properties": {
                "x": {"type": ["integer", "null"]},
                "ys": {"type": ["array", "null"], "items": {"type": ["number", "null"]}},
            },
        },
        "m": {"type": ["object", "null"], "additionalProperties": {"type": ["integer", "null"]}},
    }


def test_a_subject_of_another_schema_type_is_refused(tmp_path: Path) -> None:
    avro = {"type": "record", "name": "c", "fields": [{"name": "id", "type": "long"}]}
    sql = "CREATE STREAM clicks FROM KAFKA (topic = 'clicks', format = 'json-confluent');\n"
    subjects = {"clicks-value": [Version(3, 9, json.dumps(avro))]}
    with pytest.raises(UserErrors) as info:
        compile_project([str(_project(tmp_path, sql, subjects))])
    (error,) = info.value.errors
    assert error.message == (
        "subject 'clicks-value' holds AVRO schemas (version 3, id 9), not JSON"
    )
    assert error.hint and "format avro-confluent" in error.hint


def test_a_json_sink_schema_the_subject_lacks_says_which_properties_differ(
    tmp_path: Path,
) -> None:
    sql = (
        "CREATE STREAM s (a BIGINT) FROM KAFKA (topic = 't');\n"
        "INSERT INTO KAFKA TOPIC 'out' FORMAT json-confluent SELECT CAST(a AS STRING) AS id, a\n"
        "FROM s;\n"
    )
    with pytest.raises(UserErrors) as info:
        compile_project([str(_project(tmp_path, sql, {"out-value": [_json(OUT)]}))])
    (error,) = info.value.errors
    assert "+a integer|null, id: integer|null -> string|null" in error.message


def test_the_lock_writes_schema_type_only_when_not_avro(tmp_path: Path) -> None:
    lock = tmp_path / LOCK_FILE
    write_lock(lock, {"a": [Version(1, 1, "{}")], "b": [Version(1, 2, "{}", "JSON")]})
    raw = json.loads(lock.read_text())["subjects"]
    assert raw == {
        "a": [{"version": 1, "id": 1, "schema": "{}"}],
        "b": [{"version": 1, "id": 2, "schema": "{}", "schemaType": "JSON"}],
    }
    assert read_lock(lock)["b"][0].schema_type == "JSON"
    assert read_lock(lock)["a"][0].schema_type == "AVRO"


def test_the_standalone_script_decodes_and_encodes_the_same(tmp_path: Path) -> None:
    import ast

    from sqlstream.spark import script as codegen

    subjects = {
        "clicks-value": [_json(CLICKS, 1, 21)],
        "clicks-key": [_json(KEY_IN, 1, 23)],
        "out-value": [_json(OUT, 1, 24)],
        "out-key": [_json(KEY_OUT, 1, 25)],
    }
    compiled = compile_project([str(_project(tmp_path, DECLARED, subjects))])
    text = codegen.script(compiled.plan, connection=compiled.connection())
    ast.parse(text)  # valid Python
    assert "substring(`value`, 6)" in text and "X'0000000018'" in text
    assert "spark-avro" not in text  # json-confluent needs no package beside Kafka's


def test_a_sink_subject_of_another_schema_type_is_refused(tmp_path: Path) -> None:
    avro = {"type": "record", "name": "o", "fields": [{"name": "a", "type": "long"}]}
    sql = (
        "CREATE STREAM s (a BIGINT) FROM KAFKA (topic = 't');\n"
        "INSERT INTO KAFKA TOPIC 'out' FORMAT json-confluent SELECT a FROM s;\n"
    )
    subjects = {"out-value": [Version(1, 3, json.dumps(avro))]}
    with pytest.raises(UserErrors) as info:
        compile_project([str(_project(tmp_path, sql, subjects))])
    (error,) = info.value.errors
    assert "subject 'out-value' holds AVRO schemas (version 1, id 3), not JSON" in error.message
    assert error.location is not None and (error.location.line, error.location.col) == (2, 38)
