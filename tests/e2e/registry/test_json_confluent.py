"""FORMAT json-confluent end to end: the real broker, the real registry (Apicurio), Spark, and
confluent-kafka's own JSONSerializer/JSONDeserializer on the other side of the bytes."""

from __future__ import annotations

import json
import subprocess
import typing as t
import uuid
from pathlib import Path

from cliproc import finished
from pipeline import Pipeline

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.schemas import LOCK_FILE, read_lock
from sqlstream.kafka.registry import RegistrySchemas
from sqlstream.local.client import consume_all, create_topic, produce
from sqlstream.project.registry import RegistrySettings

# Two writer schemas of one subject: v2 adds `note`.
V1 = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order",
    "type": "object",
    "properties": {"id": {"type": "integer"}, "amount": {"type": "number"}},
}
V2 = {**V1, "properties": {**V1["properties"], "note": {"type": ["string", "null"]}}}
KEY = {"type": "object", "properties": {"uid": {"type": "string"}}}


def _client(url: str) -> t.Any:
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({"url": url, "timeout": 10})


def _serialize(client: t.Any, schema: dict, obj: dict, topic: str, part: str) -> bytes:
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    field = MessageField.VALUE if part == "value" else MessageField.KEY
    serializer = JSONSerializer(json.dumps(schema), client)
    return bytes(serializer(obj, SerializationContext(topic, field)))


def _deserialize(client: t.Any, data: bytes, topic: str, part: str) -> t.Any:
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    field = MessageField.VALUE if part == "value" else MessageField.KEY
    # No schema of its own: it reads (and validates against) the writer's, by the record's id.
    return JSONDeserializer(None, schema_registry_client=client)(
        data, SerializationContext(topic, field)
    )


def test_two_writer_schemas_a_key_columns_from_the_registry_and_the_dlq(
    spark: t.Any, kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    topic, out, everything, dlq = (
        f"jc-{n}-{uuid.uuid4().hex[:8]}" for n in ("in", "out", "all", "dlq")
    )
    client = _client(registry_url)
    key = _serialize(client, KEY, {"uid": "u1"}, topic, "key")
    good = [
        _serialize(client, V1, {"id": 1, "amount": 1.5}, topic, "value"),
        _serialize(client, V1, {"id": 2, "amount": 2.5}, topic, "value"),
        _serialize(client, V2, {"id": 2**40, "amount": 3.5, "note": "big"}, topic, "value"),
    ]
    v2_prefix = good[-1][:5]
    bad = {
        b"\x01" + good[0][1:]: "value is not in the Confluent wire format (no magic byte 0)",
        b"\x00\x00\x00\x03\xe7" + good[0][5:]: "value has an unknown schema id 999",
        v2_prefix + b"{not json": "not valid JSON",
        v2_prefix + b'{"id": "abc"}': 'field id cannot be converted to BIGINT: "abc"',
    }
    for name in (topic, out, everything, dlq):
        create_topic(kafka_bootstrap, name)
    produce(kafka_bootstrap, topic, [(key, v) for v in [*good, *bad]])

    sql = f"""
    CREATE STREAM orders (uid STRING KEY, id BIGINT, amount DOUBLE, note STRING)
    FROM KAFKA (topic = '{topic}', format = 'json-confluent', key_format = 'json-confluent',
                starting_offsets = 'earliest', on_error = 'dlq', dlq_topic = '{dlq}');
    INSERT INTO KAFKA TOPIC '{out}' KEY uid FORMAT json-confluent
        WITH (auto_register = true, key_format = 'json-confluent')
    SELECT uid, id, amount * 2 AS doubled, note FROM orders;

    -- no columns: the latest JSON Schema's properties
    CREATE STREAM orders_all FROM KAFKA (topic = '{topic}', format = 'json-confluent',
                                        starting_offsets = 'earliest', on_error = 'skip');
    INSERT INTO KAFKA TOPIC '{everything}' SELECT * FROM orders_all;
    """
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, sql)
    settings = RegistrySettings(url=registry_url)
    compile_project(
        [str(tmp_path / "queries")],
        registry=lambda p: RegistrySchemas(settings, p.root / LOCK_FILE),
    )
    locked = read_lock(tmp_path / LOCK_FILE)
    assert [(v.version, v.schema_type) for v in locked[f"{topic}-value"]] == [
        (1, "JSON"),
        (2, "JSON"),
    ]
    assert '"schemaType": "JSON"' in (tmp_path / LOCK_FILE).read_text()
    assert {f"{out}-value", f"{out}-key", f"{topic}-key"} <= set(locked)
    pipeline.run(spark)

    rows = consume_all(kafka_bootstrap, out, timeout=30)
    got = [
        (_deserialize(client, r.key, out, "key"), _deserialize(client, r.value, out, "value"))
        for r in rows
    ]
    k = {"uid": "u1"}
    assert got == [
        (k, {"uid": "u1", "id": 1, "doubled": 3.0, "note": None}),
        (k, {"uid": "u1", "id": 2, "doubled": 5.0, "note": None}),
        (k, {"uid": "u1", "id": 2**40, "doubled": 7.0, "note": "big"}),
    ]
    dead = consume_all(kafka_bootstrap, dlq, timeout=30)
    assert {r.value: (r.header("sqlstream.error.reason") or b"").decode() for r in dead} == bad
    assert all(r.key == key for r in dead)  # the original bytes
    plain = [json.loads(r.value) for r in consume_all(kafka_bootstrap, everything, timeout=30)]
    assert plain == [
        {"id": 1, "amount": 1.5, "note": None},
        {"id": 2, "amount": 2.5, "note": None},
        {"id": 2**40, "amount": 3.5, "note": "big"},
    ]


def _run_cli(root: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return finished(["run", "--trigger", "available_now"], root, timeout=timeout)


def _sink_only(tmp_path: Path, bootstrap: str, url: str, select: str, auto: bool) -> str:
    topic, out = f"jc-src-{uuid.uuid4().hex[:8]}", f"jc-out-{uuid.uuid4().hex[:8]}"
    sql = (
        f"CREATE STREAM src (a BIGINT) FROM KAFKA (topic = '{topic}');\n"
        f"INSERT INTO KAFKA TOPIC '{out}' FORMAT json-confluent SELECT {select} FROM src;\n"
    )
    pipeline = Pipeline.create(tmp_path, bootstrap, sql)
    profiles = pipeline.root / "profiles.yml"
    profiles.write_text(
        profiles.read_text()
        + f"      schema_registry:\n        url: {url}\n"
        + f"        auto_register: {'true' if auto else 'false'}\n"
    )
    return out


def test_auto_register_off_refuses_a_missing_schema_before_start(
    kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    out = _sink_only(tmp_path, kafka_bootstrap, registry_url, "a", auto=False)
    result = _run_cli(tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"subject '{out}-value' has no schema, and auto_register is not set" in result.stderr


def test_an_incompatible_json_schema_is_refused_before_start(
    kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    from confluent_kafka.schema_registry import Schema

    out = _sink_only(tmp_path, kafka_bootstrap, registry_url, "CAST(a AS STRING) AS a", True)
    client = _client(registry_url)
    old = {"type": "object", "properties": {"a": {"type": ["integer", "null"]}}}
    client.register_schema(f"{out}-value", Schema(json.dumps(old), "JSON"))
    client.set_compatibility(f"{out}-value", "BACKWARD")
    result = _run_cli(tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"refuses the sink's schema under subject '{out}-value'" in result.stderr
    assert "a: integer|null -> string|null" in result.stderr


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return finished(args, root, timeout=300)


def test_topics_consume_and_peek_decode_through_the_lock(
    kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    topic = f"jc-peek-{uuid.uuid4().hex[:8]}"
    client = _client(registry_url)
    values = [
        _serialize(client, V2, {"id": 1, "amount": 1.5, "note": "a"}, topic, "value"),
        _serialize(client, V2, {"id": 2, "amount": 2.5, "note": None}, topic, "value"),
    ]
    create_topic(kafka_bootstrap, topic)
    produce(kafka_bootstrap, topic, [(None, v) for v in values])
    sql = (
        f"CREATE STREAM clicks FROM KAFKA (topic = '{topic}', format = 'json-confluent',\n"
        "                                 starting_offsets = 'earliest');\n"
    )
    Pipeline.create(tmp_path, kafka_bootstrap, sql)
    settings = RegistrySettings(url=registry_url)
    compile_project(  # the lock, as `sqlstream registry lock` writes it; then offline
        [str(tmp_path / "queries")],
        registry=lambda p: RegistrySchemas(settings, p.root / LOCK_FILE),
    )

    shown = _cli(tmp_path, "topics", "consume", topic)
    assert shown.returncode == 0, shown.stderr
    assert "values decoded as json-confluent, the format of stream clicks" in shown.stderr
    assert '"note": "a"' in shown.stdout and '"amount": 2.5' in shown.stdout

    peeked = _cli(tmp_path, "peek", "clicks", "--max", "2", "--output", "json")
    assert peeked.returncode == 0, peeked.stderr[-3000:]
    rows = [json.loads(line) for line in peeked.stdout.splitlines()]
    assert rows == [
        {"id": 1, "amount": 1.5, "note": "a"},
        {"id": 2, "amount": 2.5, "note": None},
    ]
