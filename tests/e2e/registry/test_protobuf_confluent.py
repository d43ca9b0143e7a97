"""FORMAT protobuf-confluent end to end: the real broker, the real registry (Apicurio), Spark with
sqlstream's own JVM functions (jvm/), and confluent-kafka's ProtobufSerializer and
ProtobufDeserializer on the other side of the bytes.

The test's message classes are built with Google's protobuf library from descriptors written
here (no protoc needed); the serializer registers them as it does any class (base64
FileDescriptorProto), and the schema given as ``.proto`` text is registered as text.
"""

from __future__ import annotations

import typing as t
import uuid
from pathlib import Path

from pipeline import Pipeline

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.schemas import LOCK_FILE, read_lock
from sqlstream.kafka.registry import RegistrySchemas
from sqlstream.local.client import consume_all, create_topic, produce
from sqlstream.project.registry import RegistrySettings


def _message_class(version: int) -> t.Any:
    """``shop.Order`` with a nested message, a repeated field, a map and an enum; version 2
    drops ``legacy`` and adds ``note`` (a writer schema of its own in the same topic)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    f = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name=f"order_v{version}.proto", package="shop", syntax="proto3"
    )
    status = file.enum_type.add(name="Status")
    status.value.add(name="NEW", number=0)
    status.value.add(name="PAID", number=1)
    order = file.message_type.add(name="Order")
    item = order.nested_type.add(name="Item")
    item.field.add(name="sku", number=1, type=f.TYPE_STRING)
    item.field.add(name="qty", number=2, type=f.TYPE_INT32)
    entry = order.nested_type.add(name="AttrsEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=f.TYPE_STRING)
    entry.field.add(name="value", number=2, type=f.TYPE_STRING)
    order.field.add(name="id", number=1, type=f.TYPE_INT64)
    order.field.add(name="amount", number=2, type=f.TYPE_DOUBLE)
    order.field.add(
        name="items",
        number=3,
        type=f.TYPE_MESSAGE,
        type_name=".shop.Order.Item",
        label=f.LABEL_REPEATED,
    )
    order.field.add(
        name="attrs",
        number=4,
        type=f.TYPE_MESSAGE,
        type_name=".shop.Order.AttrsEntry",
        label=f.LABEL_REPEATED,
    )
    order.field.add(name="status", number=5, type=f.TYPE_ENUM, type_name=".shop.Status")
    if version == 1:
        order.field.add(name="legacy", number=6, type=f.TYPE_STRING)
    else:
        order.field.add(name="note", number=7, type=f.TYPE_STRING)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Order"))


def _serializer(client: t.Any, cls: t.Any, **conf: t.Any) -> t.Any:
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    return ProtobufSerializer(cls, client, {"use.deprecated.format": False, **conf})


def _value(topic: str) -> t.Any:
    from confluent_kafka.serialization import MessageField, SerializationContext

    return SerializationContext(topic, MessageField.VALUE)


def test_values_of_two_writers_read_and_written_and_the_dlq(
    spark: t.Any, kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer

    topic, out, dlq = (f"pb-{n}-{uuid.uuid4().hex[:8]}" for n in ("in", "out", "dlq"))
    client = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    v1, v2 = _message_class(1), _message_class(2)
    ctx = _value(topic)
    good = [
        _serializer(client, v1)(
            v1(
                id=1,
                amount=1.5,
                items=[v1.Item(sku="a", qty=2)],
                attrs={"c": "red"},
                status=1,
                legacy="x",
            ),
            ctx,
        ),
        _serializer(client, v2)(v2(id=2**40, amount=2.5, note="n2"), ctx),
    ]
    v2_id = int.from_bytes(good[1][1:5], "big")
    bad = {
        b"\x01" + good[0][1:]: "value is not in the Confluent wire format (no magic byte 0)",
        b"\x00\x00\x00\x03\xe7" + good[0][5:]: "value has an unknown schema id 999",
        good[1][:5] + b"\x02\x06" + good[1][6:]: (
            f"value has message indexes [3], which do not name shop.Order (schema id {v2_id})"
        ),
        good[1][:6] + b"\x0a\x05ab": (
            "value does not decode as shop.Order: While parsing a protocol message, the input "
            "ended unexpectedly in the middle of a field.  This could mean either that the input "
            "has been truncated or that an embedded message misreported its own length. "
            f"(schema id {v2_id})"
        ),
    }
    for name in (topic, out, dlq):
        create_topic(kafka_bootstrap, name)
    produce(kafka_bootstrap, topic, [(None, v) for v in [*good, *bad]])

    # Columns left out: they come from the latest schema (v2: no legacy, a note).
    sql = f"""
    CREATE STREAM orders FROM KAFKA (topic = '{topic}', format = 'protobuf-confluent',
        starting_offsets = 'earliest', on_error = 'dlq', dlq_topic = '{dlq}');
    INSERT INTO KAFKA TOPIC '{out}' FORMAT protobuf-confluent WITH (auto_register = true)
    SELECT id, amount * 2 AS doubled, CAST(get(items, 0).sku AS STRING) AS first_sku,
           CAST(try_element_at(attrs, 'c') AS STRING) AS colour,
           status, note, items FROM orders;
    """
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, sql)
    settings = RegistrySettings(url=registry_url)
    compiled = compile_project(
        [str(tmp_path / "queries")],
        registry=lambda p: RegistrySchemas(settings, p.root / LOCK_FILE),
    )
    source = compiled.plan.sources[0]
    assert [c.name for c in source.columns] == ["id", "amount", "items", "attrs", "status", "note"]
    locked = read_lock(tmp_path / LOCK_FILE)
    assert [v.schema_type for v in locked[f"{topic}-value"]] == ["PROTOBUF", "PROTOBUF"]
    assert "optional int64 id = 1;" in locked[f"{out}-value"][0].schema
    pipeline.run(spark)

    rows = consume_all(kafka_bootstrap, out, timeout=30)
    written = locked[f"{out}-value"][0]
    assert all(r.value[:6] == b"\x00" + written.id.to_bytes(4, "big") + b"\x00" for r in rows)
    # The other side reads them with the registry's schema, built into a class of its own.
    cls = _class_of(written.schema, f"{out.replace('-', '_')}_value")
    deserialize = ProtobufDeserializer(cls, {"use.deprecated.format": False})
    got = [deserialize(r.value, _value(out)) for r in rows]
    assert [(m.id, m.doubled, m.first_sku, m.colour, m.status, m.note) for m in got] == [
        (1, 3.0, "a", "red", "PAID", ""),
        (2**40, 5.0, "", "", "NEW", "n2"),
    ]
    assert [m.HasField("first_sku") for m in got] == [True, False]  # NULL: left unset
    assert [[(i.sku, i.qty) for i in m.items] for m in got] == [[("a", 2)], []]
    dead = consume_all(kafka_bootstrap, dlq, timeout=30)
    assert {r.value: (r.header("sqlstream.error.reason") or b"").decode() for r in dead} == bad


def _key_class() -> t.Any:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    file = descriptor_pb2.FileDescriptorProto(name="key.proto", package="shop", syntax="proto3")
    key = file.message_type.add(name="OrderKey")
    key.field.add(name="uid", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.OrderKey"))


def test_a_key_read_and_written(
    spark: t.Any, kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    topic, out = (f"pbk-{n}-{uuid.uuid4().hex[:8]}" for n in ("in", "out"))
    client = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    key_cls, value_cls = _key_class(), _message_class(2)
    key = _serializer(client, key_cls)(
        key_cls(uid="u1"), SerializationContext(topic, MessageField.KEY)
    )
    value = _serializer(client, value_cls)(value_cls(id=7, note="n"), _value(topic))
    for name in (topic, out):
        create_topic(kafka_bootstrap, name)
    produce(kafka_bootstrap, topic, [(key, value)])
    sql = f"""
    CREATE STREAM orders (uid STRING KEY, id BIGINT)
    FROM KAFKA (topic = '{topic}', format = 'protobuf-confluent',
                key_format = 'protobuf-confluent', starting_offsets = 'earliest');
    INSERT INTO KAFKA TOPIC '{out}' KEY uid
        WITH (auto_register = true, key_format = 'protobuf-confluent')
    SELECT uid, id FROM orders;
    """
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, sql)
    settings = RegistrySettings(url=registry_url)
    compile_project(
        [str(tmp_path / "queries")],
        registry=lambda p: RegistrySchemas(settings, p.root / LOCK_FILE),
    )
    pipeline.run(spark)
    (row,) = consume_all(kafka_bootstrap, out, timeout=30)
    written = read_lock(tmp_path / LOCK_FILE)[f"{out}-key"][0]
    assert row.key[:6] == b"\x00" + written.id.to_bytes(4, "big") + b"\x00"
    out_key = _class_of(written.schema, f"{out.replace('-', '_')}_key")
    got = ProtobufDeserializer(out_key, {"use.deprecated.format": False})(
        row.key, SerializationContext(out, MessageField.KEY)
    )
    assert got.uid == "u1"
    assert row.value == b'{"uid":"u1","id":7}'


def _class_of(schema: str, message: str) -> t.Any:
    """A message class of a registered schema (what a consumer builds from the registry)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    from sqlstream.compiler import protobuf

    _, data = protobuf.parse_schema(schema)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(data))
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(message))


def test_topics_consume_shows_values_decoded_by_their_writer(registry_url: str) -> None:
    import json

    from confluent_kafka.schema_registry import SchemaRegistryClient

    from sqlstream.kafka.consume import confluent_protobuf_display

    client = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    topic, cls = f"pb-show-{uuid.uuid4().hex[:8]}", _message_class(2)
    data = bytes(_serializer(client, cls)(cls(id=5, note="n", status=1), _value(topic)))
    schema_id = int.from_bytes(data[1:5], "big")
    schema = client.get_schema(schema_id).schema_str
    show = confluent_protobuf_display({schema_id: schema})
    assert json.loads(show(data)) == {"id": "5", "note": "n", "status": "PAID"}
    assert "schema id 999 is not in schemas.lock.json" in show(b"\x00\x00\x00\x03\xe7" + data[5:])
    assert "not in the Confluent wire format" in show(b"\x01" + data[1:])
