"""FORMAT avro-confluent end to end: the real broker, the real registry (Apicurio), Spark, and
confluent-kafka's own AvroSerializer/AvroDeserializer on the other side of the bytes."""

from __future__ import annotations

import json
import subprocess
import time
import typing as t
import uuid
from pathlib import Path

import pytest
from cliproc import finished
from pipeline import Pipeline

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.schemas import LOCK_FILE, read_lock
from sqlstream.errors import RunFailure
from sqlstream.kafka.registry import RegistrySchemas
from sqlstream.local import broker
from sqlstream.local.client import consume_all, create_topic, produce
from sqlstream.project.registry import RegistrySettings

# Two writer schemas of one subject: v2 drops `legacy`, adds `note` (with a default) and
# promotes `id` from int to long.
V1 = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "id", "type": "int"},
        {"name": "amount", "type": "double"},
        {"name": "legacy", "type": "string"},
    ],
}
V2 = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "amount", "type": "double"},
        {"name": "note", "type": "string", "default": ""},
    ],
}
KEY = {"type": "record", "name": "OrderKey", "fields": [{"name": "uid", "type": "string"}]}


def _serializers(url: str) -> tuple[t.Any, t.Any]:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer

    client = SchemaRegistryClient({"url": url, "timeout": 10})
    return client, AvroDeserializer(client)


def _serialize(client: t.Any, schema: dict, record: dict, topic: str, part: str) -> bytes:
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    field = MessageField.VALUE if part == "value" else MessageField.KEY
    return bytes(
        AvroSerializer(client, json.dumps(schema))(record, SerializationContext(topic, field))
    )


def _with_registry(pipeline: Pipeline, url: str, auto_register: bool = False) -> None:
    profiles = pipeline.root / "profiles.yml"
    profiles.write_text(
        profiles.read_text()
        + f"      schema_registry:\n        url: {url}\n"
        + f"        auto_register: {'true' if auto_register else 'false'}\n"
    )


def test_two_writer_schemas_a_key_and_the_dlq(
    spark: t.Any, kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    topic, out, dlq = (f"ac-{n}-{uuid.uuid4().hex[:8]}" for n in ("in", "out", "dlq"))
    client, deserialize = _serializers(registry_url)
    key = _serialize(client, KEY, {"uid": "u1"}, topic, "key")
    good = [
        _serialize(client, V1, {"id": 1, "amount": 1.5, "legacy": "x"}, topic, "value"),
        _serialize(client, V1, {"id": 2, "amount": 2.5, "legacy": "y"}, topic, "value"),
        _serialize(client, V2, {"id": 2**40, "amount": 3.5, "note": "big"}, topic, "value"),
    ]
    v2_id = int.from_bytes(good[-1][1:5], "big")
    bad = {
        b"\x01" + good[0][1:]: "value is not in the Confluent wire format (no magic byte 0)",
        b"\x00\x00\x00\x03\xe7" + good[0][5:]: "value has an unknown schema id 999",
        good[-1][:5] + b"\x02": f"value does not decode with schema id {v2_id}",
    }
    for name in (topic, out, dlq):
        create_topic(kafka_bootstrap, name)
    produce(kafka_bootstrap, topic, [(key, v) for v in [*good, *bad]])

    sql = f"""
    CREATE STREAM orders (uid STRING KEY, id BIGINT, amount DOUBLE, note STRING)
    FROM KAFKA (topic = '{topic}', format = 'avro-confluent', key_format = 'avro-confluent',
                starting_offsets = 'earliest', on_error = 'dlq', dlq_topic = '{dlq}');
    INSERT INTO KAFKA TOPIC '{out}' KEY uid FORMAT avro-confluent
        WITH (auto_register = true, key_format = 'avro-confluent')
    SELECT uid, id, amount * 2 AS doubled, note FROM orders;
    """
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, sql)
    settings = RegistrySettings(url=registry_url)
    # What `run` does: the registry's schemas, recorded in the lock; then compile from the lock.
    compile_project(
        [str(tmp_path / "queries")],
        registry=lambda p: RegistrySchemas(settings, p.root / LOCK_FILE),
    )
    locked = read_lock(tmp_path / LOCK_FILE)
    assert [v.version for v in locked[f"{topic}-value"]] == [1, 2]
    assert {f"{out}-value", f"{out}-key", f"{topic}-key"} <= set(locked)
    pipeline.run(spark)

    rows = consume_all(kafka_bootstrap, out, timeout=30)
    from confluent_kafka.serialization import MessageField, SerializationContext

    ctx = SerializationContext(out, MessageField.VALUE)
    key_ctx = SerializationContext(out, MessageField.KEY)
    got = [(deserialize(r.key, key_ctx), deserialize(r.value, ctx)) for r in rows]
    k = {"uid": "u1"}
    assert got == [
        (k, {"uid": "u1", "id": 1, "doubled": 3.0, "note": None}),
        (k, {"uid": "u1", "id": 2, "doubled": 5.0, "note": None}),
        (k, {"uid": "u1", "id": 2**40, "doubled": 7.0, "note": "big"}),
    ]
    dead = consume_all(kafka_bootstrap, dlq, timeout=30)
    assert {r.value: (r.header("sqlstream.error.reason") or b"").decode() for r in dead} == bad
    assert all(r.key == key for r in dead)  # the original bytes


def _run_cli(root: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return finished(["run", "--trigger", "available_now"], root, timeout=timeout)


SINK_ONLY = """
CREATE STREAM src (a BIGINT) FROM KAFKA (topic = '{topic}');
INSERT INTO KAFKA TOPIC '{out}' FORMAT avro-confluent {with_}
SELECT {select} FROM src;
"""


def test_a_missing_schema_is_refused_before_start(
    kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    topic, out = f"ac-src-{uuid.uuid4().hex[:8]}", f"ac-out-{uuid.uuid4().hex[:8]}"
    sql = SINK_ONLY.format(topic=topic, out=out, with_="", select="a")
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, sql)
    _with_registry(pipeline, registry_url, auto_register=False)
    started = time.monotonic()
    result = _run_cli(tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"subject '{out}-value' has no schema, and auto_register is not set" in result.stderr
    assert time.monotonic() - started < 60


def test_an_incompatible_schema_is_refused_before_start(
    kafka_bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    from confluent_kafka.schema_registry import Schema

    topic, out = f"ac-src-{uuid.uuid4().hex[:8]}", f"ac-out-{uuid.uuid4().hex[:8]}"
    client, _ = _serializers(registry_url)
    old = {"type": "record", "name": "x", "fields": [{"name": "a", "type": "long"}]}
    client.register_schema(f"{out}-value", Schema(json.dumps(old), "AVRO"))
    client.set_compatibility(f"{out}-value", "BACKWARD")
    select = "CAST(a AS STRING) AS a"
    sql = SINK_ONLY.format(topic=topic, out=out, with_="", select=select)
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, sql)
    _with_registry(pipeline, registry_url, auto_register=True)
    result = _run_cli(tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"refuses the sink's schema under subject '{out}-value'" in result.stderr
    assert "a: long -> null|string" in result.stderr


def test_an_unreachable_registry_fails_in_seconds(kafka_bootstrap: str, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{broker.free_port()}/apis/ccompat/v7"
    sql = SINK_ONLY.format(topic="t", out="o", with_="", select="a")
    pipeline = Pipeline.create(tmp_path, kafka_bootstrap, sql)
    _with_registry(pipeline, closed)
    started = time.monotonic()
    result = _run_cli(tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"cannot reach the schema registry at {closed}" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30


def test_an_unreachable_registry_stops_only_what_needs_it(tmp_path: Path) -> None:
    """`run queries/plain.sql` needs no registry: another file's avro-confluent stream is a
    warning (it stopped the command, and hid the broker's state behind it); the file that needs
    it fails in one line, asked once, not once per stream."""
    closed = f"http://127.0.0.1:{broker.free_port()}/apis/ccompat/v7"
    avro = (
        "CREATE STREAM a{i} (id STRING) FROM KAFKA (topic = 'a{i}', format = 'avro-confluent');\n"
    )
    pipeline = Pipeline.create(
        tmp_path,
        "127.0.0.1:9",
        avro.format(i=1)
        + avro.format(i=2)
        + "INSERT INTO KAFKA TOPIC 'o' SELECT id FROM a1 UNION ALL SELECT id FROM a2;\n",
    )
    (tmp_path / "queries" / "plain.sql").write_text(
        "CREATE STREAM p (id STRING) FROM KAFKA (topic = 'p');\n"
        "INSERT INTO KAFKA TOPIC 'po' SELECT id FROM p;\n"
    )
    _with_registry(pipeline, closed)
    settings = RegistrySettings(url=closed)

    def live(project: t.Any) -> RegistrySchemas:
        return RegistrySchemas(settings, project.root / LOCK_FILE)

    compiled = compile_project([str(tmp_path / "queries" / "plain.sql")], registry=live)
    assert [s.name for s in compiled.plan.sinks] == ["plain_1"]
    (warning,) = {e.message for e in compiled.not_checked}
    assert warning.startswith(f"cannot reach the schema registry at {closed}: ")
    with pytest.raises(RunFailure) as info:
        compile_project([str(tmp_path / "queries" / "q.sql")], registry=live)
    assert str(info.value).startswith(f"cannot reach the schema registry at {closed}: ")
    assert str(info.value).count("\n") == 1 and "\nhint: is it running" in str(info.value)


@pytest.fixture(autouse=True)
def _no_stray_lock(tmp_path: Path) -> t.Iterator[None]:
    yield
    # A lock file is the project's; nothing here leaks to the working directory.
    assert not (Path.cwd() / LOCK_FILE).exists()


def test_topics_consume_shows_values_decoded_by_their_writer(registry_url: str) -> None:
    from sqlstream.kafka.consume import confluent_avro_display

    client, _ = _serializers(registry_url)
    topic = f"ac-show-{uuid.uuid4().hex[:8]}"
    data = _serialize(client, V2, {"id": 5, "amount": 1.0, "note": "n"}, topic, "value")
    schema_id = int.from_bytes(data[1:5], "big")
    show = confluent_avro_display({schema_id: json.dumps(V2)})
    assert json.loads(show(data)) == {"id": 5, "amount": 1.0, "note": "n"}
    assert "schema id 999 is not in schemas.lock.json" in show(b"\x00\x00\x00\x03\xe7" + data[5:])
    assert "not in the Confluent wire format" in show(b"\x01" + data[1:])
