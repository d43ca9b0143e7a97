"""Nested Avro types for avro-confluent, both ways, without a JVM: the Spark type each registered
Avro type reads as (columns from the lock), the Avro schema a sink's Spark types are written with
(unique record names), the reader schema of declared nested columns, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlstream.compiler import schematypes as st
from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.schemas import LOCK_FILE, Version, avro_reader, write_lock
from sqlstream.compiler.schematypes import SchemaProblem

ADDRESS = {
    "type": "record",
    "name": "Address",
    "namespace": "shop",
    "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": ["null", "int"]}],
}

READS = [
    (ADDRESS, "STRUCT<city: STRING, zip: INT>"),
    ({"type": "array", "items": "long"}, "ARRAY<BIGINT>"),
    ({"type": "array", "items": ADDRESS}, "ARRAY<STRUCT<city: STRING, zip: INT>>"),
    ({"type": "map", "values": ["null", "double"]}, "MAP<STRING, DOUBLE>"),
    ({"type": "enum", "name": "Kind", "symbols": ["A", "B"]}, "STRING"),
    (["null", "string"], "STRING"),
    ("bytes", "BINARY"),
    ({"type": "fixed", "name": "Md5", "size": 16}, "BINARY"),
    ({"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}, "DECIMAL(9,2)"),
    (
        {"type": "fixed", "name": "D", "size": 8, "logicalType": "decimal", "precision": 12},
        "DECIMAL(12,0)",
    ),
    ({"type": "int", "logicalType": "date"}, "DATE"),
    ({"type": "long", "logicalType": "timestamp-micros"}, "TIMESTAMP"),
    ({"type": "long", "logicalType": "timestamp-millis"}, "TIMESTAMP"),
]


@pytest.mark.parametrize(("avro", "spark"), READS, ids=[s for _, s in READS])
def test_each_avro_type_reads_as(avro: object, spark: str) -> None:
    assert st.spark_of_avro(avro, "f") == spark


def test_a_named_type_used_again_by_name() -> None:
    record = {
        "type": "record",
        "name": "Order",
        "fields": [{"name": "home", "type": ADDRESS}, {"name": "work", "type": "shop.Address"}],
    }
    assert st.spark_of_avro(record, "o") == (
        "STRUCT<home: STRUCT<city: STRING, zip: INT>, work: STRUCT<city: STRING, zip: INT>>"
    )


@pytest.mark.parametrize(
    ("avro", "message"),
    [
        (["null", "int", "string"], "field 'f' is the union null|int|string"),
        ({"type": "array", "items": ["int", "string"]}, "field 'f[]' is the union int|string"),
        (
            {"type": "record", "name": "R", "fields": [{"name": "g", "type": ["long", "string"]}]},
            "field 'f.g' is the union long|string",
        ),
        ("Unknown", "field 'f' is Unknown"),
    ],
)
def test_other_unions_say_which_field(avro: object, message: str) -> None:
    with pytest.raises(SchemaProblem) as info:
        st.spark_of_avro(avro, "f")
    assert message in info.value.message
    assert info.value.hint == "declare the stream's columns, leaving this field out"


def test_a_sink_schema_of_nested_types_has_unique_record_names() -> None:
    schema = st.avro_record(
        "out-value",
        [
            ("w", "STRUCT<start: TIMESTAMP, end: TIMESTAMP>"),
            ("items", "ARRAY<STRUCT<sku: STRING, n: INT>>"),
            ("by", "MAP<STRING, STRUCT<n: BIGINT>>"),
            ("price", "DECIMAL(10, 2)"),
            ("day", "DATE"),
            ("raw", "BINARY"),
            ("items_item", "STRUCT<x: INT>"),  # its path names what items' element is named
        ],
    )
    types = {f["name"]: f["type"][1] for f in schema["fields"]}
    assert schema["name"] == "out_value"
    assert types["w"]["name"] == "out_value_w"
    assert [f["type"] for f in types["w"]["fields"]] == [
        ["null", {"type": "long", "logicalType": "timestamp-micros"}]
    ] * 2
    assert types["items"]["items"][1]["name"] == "out_value_items_item"
    assert types["by"]["values"][1]["name"] == "out_value_by_value"
    assert types["price"] == {
        "type": "bytes",
        "logicalType": "decimal",
        "precision": 10,
        "scale": 2,
    }
    assert types["day"] == {"type": "int", "logicalType": "date"}
    assert types["raw"] == "bytes"
    assert types["items_item"]["name"] == "out_value_items_item_2"
    records = _record_names(schema)
    assert len(records) == len(set(records)) == 5


def _record_names(avro: object) -> list[str]:
    if isinstance(avro, list):
        return [n for a in avro for n in _record_names(a)]
    if not isinstance(avro, dict):
        return []
    own = [avro["name"]] if avro.get("type") == "record" else []
    inner = [f["type"] for f in avro.get("fields", [])] + [avro.get("items"), avro.get("values")]
    return own + _record_names(inner)


def test_a_map_with_other_keys_is_refused() -> None:
    with pytest.raises(SchemaProblem) as info:
        st.avro_record("o", [("m", "MAP<INT, STRING>")])
    assert "an Avro map's keys are strings" in info.value.message


def test_the_reader_of_declared_nested_columns_takes_the_writers_names() -> None:
    writer = {
        "type": "record",
        "name": "Order",
        "fields": [
            {"name": "ship", "type": ADDRESS},
            {
                "name": "lines",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "Line",
                        "fields": [
                            {"name": "sku", "type": "string"},
                            {
                                "name": "at",
                                "type": {"type": "long", "logicalType": "timestamp-millis"},
                            },
                            {"name": "qty", "type": "int"},
                        ],
                    },
                },
            },
        ],
    }

    class C:
        def __init__(self, name: str, type_: str) -> None:
            self.name, self.type = name, type_

    # ship as the writer has it; lines with fewer fields than the writer's records.
    reader = avro_reader(
        "o-value",
        [C("ship", "STRUCT<city: STRING, zip: INT>"), C("lines", "ARRAY<STRUCT<at: TIMESTAMP>>")],
        writer,
    )
    ship, lines = (f["type"][1] for f in reader["fields"])
    assert ship == ADDRESS  # the same Spark type: the writer's own
    line = lines["items"][1]
    assert (reader["name"], line["name"]) == ("Order", "Line")
    # millis stays millis inside the nested record too
    assert line["fields"] == [
        {
            "name": "at",
            "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
            "default": None,
        }
    ]


def test_columns_from_the_lock_are_nested(tmp_path: Path) -> None:
    order = {
        "type": "record",
        "name": "Order",
        "fields": [
            {"name": "ship", "type": ADDRESS},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "attrs", "type": {"type": "map", "values": "long"}},
        ],
    }
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "q.sql").write_text(
        "CREATE STREAM orders FROM KAFKA (topic = 'orders', format = 'avro-confluent');\n"
        "INSERT INTO KAFKA TOPIC 'out' SELECT ship.city, tags[0] AS tag, attrs FROM orders;\n"
    )
    write_lock(tmp_path / LOCK_FILE, {"orders-value": [Version(1, 5, json.dumps(order))]})
    plan = compile_project([str(tmp_path / "queries")]).plan
    assert [(c.name, c.type) for c in plan.sources[0].columns] == [
        ("ship", "STRUCT<city: STRING, zip: INT>"),
        ("tags", "ARRAY<STRING>"),
        ("attrs", "MAP<STRING, BIGINT>"),
    ]
    (parse,) = [e for e in plan.sources[0].decoding.parse_exprs if "from_avro" in e]
    reader = json.loads(parse.split("'avroSchema', '")[1].split("')")[0])
    assert reader["fields"][0]["type"] == ["null", ADDRESS]


def test_a_named_type_the_reader_uses_twice_is_defined_once() -> None:
    writer = {
        "type": "record",
        "name": "Order",
        "fields": [{"name": "home", "type": ADDRESS}, {"name": "work", "type": "shop.Address"}],
    }

    class C:
        def __init__(self, name: str) -> None:
            self.name, self.type = name, "STRUCT<city: STRING, zip: INT>"

    reader = avro_reader("o-value", [C("home"), C("work")], writer)
    assert [f["type"][1] for f in reader["fields"]] == [ADDRESS, "shop.Address"]
