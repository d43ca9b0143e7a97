"""avro-confluent as the compiler plans it from the lock file (no registry, no JVM): the
writers by id, the reader of the declared columns, the sink's id, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.schemas import LOCK_FILE, Version, field_differences, write_lock
from sqlstream.errors import UserErrors

W1 = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "int"}]}
W2 = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [{"name": "id", "type": "long"}, {"name": "note", "type": "string", "default": ""}],
}
OUT = {
    "type": "record",
    "name": "out_value",
    "fields": [{"name": "id", "type": ["null", "long"], "default": None}],
}
SQL = """
CREATE STREAM orders (id BIGINT, note STRING)
FROM KAFKA (topic = 'orders', format = 'avro-confluent');
INSERT INTO KAFKA TOPIC 'out' {key} FORMAT avro-confluent {with_} SELECT {select} FROM orders;
"""


def _project(tmp_path: Path, select: str = "id", with_: str = "", key: str = "") -> Path:
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "q.sql").write_text(SQL.format(select=select, with_=with_, key=key))
    write_lock(
        tmp_path / LOCK_FILE,
        {
            "orders-value": [Version(1, 11, json.dumps(W1)), Version(2, 12, json.dumps(W2))],
            "out-value": [Version(1, 13, json.dumps(OUT))],
        },
    )
    return tmp_path


def test_each_writer_by_its_id_and_the_declared_columns_as_reader(tmp_path: Path) -> None:
    plan = compile_project([str(_project(tmp_path) / "queries")]).plan
    (parse,) = [e for e in plan.sources[0].decoding.parse_exprs if "from_avro" in e]
    assert parse.count("from_avro(substring(`value`, 6)") == 2
    assert "WHEN substring(`value`, 1, 5) = X'000000000B' THEN" in parse
    assert "WHEN substring(`value`, 1, 5) = X'000000000C' THEN" in parse
    # The reader: the declared columns, nullable, named as the latest writer (and its namespace).
    reader = json.loads(parse.split("'avroSchema', '")[1].split("')")[0])
    assert (reader["name"], reader["namespace"]) == ("Order", "shop")
    assert [(f["name"], f["type"]) for f in reader["fields"]] == [
        ("id", ["null", "long"]),
        ("note", ["null", "string"]),
        ("__sqlstream_ok", "boolean"),
    ]
    reason = plan.sources[0].decoding.reason_expr
    for text in ("no magic byte 0", "unknown schema id", "does not decode with schema id"):
        assert text in reason
    value = plan.sinks[0].write_exprs[1]
    assert value.startswith("concat(X'000000000D', to_avro(named_struct('id', `id`), '")


def test_a_sink_schema_the_subject_lacks_says_which_fields_differ(tmp_path: Path) -> None:
    select = "CAST(id AS STRING) AS id, note"
    with pytest.raises(UserErrors) as info:
        compile_project([str(_project(tmp_path, select=select) / "queries")])
    (error,) = info.value.errors
    assert "not registered under subject 'out-value'" in error.message
    assert "+note null|string, id: null|long -> null|string" in error.message
    assert error.location is not None and error.location.line == 4


def test_auto_register_offline_says_run_registers_it(tmp_path: Path) -> None:
    project = _project(tmp_path, select="id, note", with_="WITH (auto_register = true)")
    with pytest.raises(UserErrors) as info:
        compile_project([str(project / "queries")])
    assert "not yet registered under subject 'out-value'" in info.value.errors[0].message


def test_auto_register_of_the_target_offline_says_run_registers_it(tmp_path: Path) -> None:
    """The target's schema_registry default holds offline too: the sink is not refused as if
    auto_register were unset."""
    project = _project(tmp_path, select="id, note")
    (project / "sqlstream.yml").write_text("name: shop\nprofile: shop\n")
    (project / "profiles.yml").write_text(
        "shop:\n  target: dev\n  outputs:\n    dev:\n      schema_registry:\n"
        "        url: http://127.0.0.1:1\n        auto_register: true\n"
    )
    with pytest.raises(UserErrors) as info:
        compile_project([str(project / "queries")])
    (error,) = info.value.errors
    assert "not yet registered under subject 'out-value'" in error.message
    assert "sqlstream registry lock" in (error.hint or "")


def test_field_differences() -> None:
    old = {"fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}]}
    new = {"fields": [{"name": "a", "type": "long"}, {"name": "c", "type": ["null", "int"]}]}
    assert field_differences(old, new) == "+c null|int, -b, a: int -> long"


def test_columns_left_out_come_from_the_latest_schema(tmp_path: Path) -> None:
    millis = {
        "type": "record",
        "name": "Order",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "kind", "type": {"type": "enum", "name": "K", "symbols": ["A", "B"]}},
            {"name": "note", "type": ["null", "string"], "default": None},
        ],
    }
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "q.sql").write_text(
        "CREATE STREAM orders FROM KAFKA (topic = 'orders', format = 'avro-confluent');\n"
        "INSERT INTO KAFKA TOPIC 'out' SELECT * FROM orders;\n"
    )
    write_lock(tmp_path / LOCK_FILE, {"orders-value": [Version(1, 5, json.dumps(millis))]})
    plan = compile_project([str(tmp_path / "queries")]).plan
    assert [(c.name, c.type) for c in plan.sources[0].columns] == [
        ("id", "BIGINT"),
        ("at", "TIMESTAMP"),
        ("kind", "STRING"),
        ("note", "STRING"),
    ]
    (parse,) = [e for e in plan.sources[0].decoding.parse_exprs if "from_avro" in e]
    reader = json.loads(parse.split("'avroSchema', '")[1].split("')")[0])
    # The writer's own types where they read the same: millis stays millis, the enum an enum.
    assert reader["fields"][1]["type"] == ["null", millis["fields"][1]["type"]]
    assert reader["fields"][2]["type"][1]["type"] == "enum"


def test_a_sink_key_in_avro_confluent(tmp_path: Path) -> None:
    key = {
        "type": "record",
        "name": "out_key",
        "fields": [{"name": "id", "type": ["null", "long"], "default": None}],
    }
    project = _project(tmp_path, key="KEY id", with_="WITH (key_format = 'avro-confluent')")
    write_lock(
        project / LOCK_FILE,
        {
            "orders-value": [Version(2, 12, json.dumps(W2))],
            "out-value": [Version(1, 13, json.dumps(OUT))],
            "out-key": [Version(1, 14, json.dumps(key))],
        },
    )
    (sink,) = compile_project([str(project / "queries")]).plan.sinks
    assert sink.write_exprs[0].startswith("concat(concat(X'000000000E', to_avro(named_struct(")
    assert sink.write_exprs[0].endswith(" AS `key`")


def test_a_json_sink_with_an_avro_key_needs_spark_avro(tmp_path: Path) -> None:
    """spark-avro is on the session when only a sink's KEY is avro-confluent (its to_avro)."""
    from sqlstream.spark.steps import avro_needed

    key = {
        "type": "record",
        "name": "out_key",
        "fields": [{"name": "id", "type": ["null", "long"], "default": None}],
    }
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "q.sql").write_text(
        "CREATE STREAM orders (id BIGINT) FROM KAFKA (topic = 'orders');\n"
        "INSERT INTO KAFKA TOPIC 'out' KEY id WITH (key_format = 'avro-confluent')\n"
        "SELECT id FROM orders;\n"
    )
    write_lock(tmp_path / LOCK_FILE, {"out-key": [Version(1, 14, json.dumps(key))]})
    plan = compile_project([str(tmp_path / "queries")]).plan
    assert plan.sinks[0].key_format == "avro-confluent"
    assert avro_needed(plan)
