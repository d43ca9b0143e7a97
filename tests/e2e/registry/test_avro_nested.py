"""Nested Avro types through avro-confluent, end to end: confluent-kafka's AvroSerializer writes
a record with a nested record, an array of records, a map, an enum and a decimal; a stream
without columns reads them as STRUCT, ARRAY, MAP, STRING and DECIMAL; the sink writes them back
(and a struct built in the SELECT) with a derived schema; AvroDeserializer reads the result."""

from __future__ import annotations

import decimal
import json
import typing as t
import uuid
from pathlib import Path

from pipeline import Pipeline

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.schemas import LOCK_FILE
from sqlstream.kafka.registry import RegistrySchemas
from sqlstream.local.client import consume_all, create_topic, produce
from sqlstream.project.registry import RegistrySettings

ORDER = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {
            "name": "ship",
            "type": {
                "type": "record",
                "name": "Address",
                "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": "int"}],
            },
        },
        {
            "name": "lines",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Line",
                    "fields": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}],
                },
            },
        },
        {"name": "attrs", "type": {"type": "map", "values": "string"}},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["WEB", "SHOP"]}},
        {
            "name": "price",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
        },
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}
RECORD = {
    "id": 7,
    "ship": {"city": "Lyon", "zip": 69001},
    "lines": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}],
    "attrs": {"gift": "yes"},
    "kind": "SHOP",
    "price": decimal.Decimal("12.50"),
    "note": None,
}


def test_nested_records_arrays_and_maps_round_trip(
    spark: t.Any, kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    topic, out = (f"an-{n}-{uuid.uuid4().hex[:8]}" for n in ("in", "out"))
    client = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    value = AvroSerializer(client, json.dumps(ORDER))(
        RECORD, SerializationContext(topic, MessageField.VALUE)
    )
    for name in (topic, out):
        create_topic(kafka_bootstrap, name)
    produce(kafka_bootstrap, topic, [(None, bytes(value))])

    sql = f"""
    CREATE STREAM orders FROM KAFKA (topic = '{topic}', format = 'avro-confluent',
                                    starting_offsets = 'earliest');
    INSERT INTO KAFKA TOPIC '{out}' FORMAT avro-confluent WITH (auto_register = true)
    SELECT *, named_struct('city', ship.city, 'ids', array(id, id * 2)) AS summary
    FROM orders;
    """
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, sql)
    settings = RegistrySettings(url=registry_url)
    compiled = compile_project(
        [str(tmp_path / "queries")],
        registry=lambda p: RegistrySchemas(settings, p.root / LOCK_FILE),
    )
    assert [(c.name, c.type) for c in compiled.plan.sources[0].columns][1:6] == [
        ("ship", "STRUCT<city: STRING, zip: INT>"),
        ("lines", "ARRAY<STRUCT<sku: STRING, qty: INT>>"),
        ("attrs", "MAP<STRING, STRING>"),
        ("kind", "STRING"),
        ("price", "DECIMAL(9,2)"),
    ]
    pipeline.run(spark)

    (row,) = consume_all(kafka_bootstrap, out, timeout=30)
    got = AvroDeserializer(client)(row.value, SerializationContext(out, MessageField.VALUE))
    assert got == {**RECORD, "summary": {"city": "Lyon", "ids": [7, 14]}}
