"""``sqlstream.local.registry``: the Apicurio registry answers Confluent's API on loopback, and
confluent-kafka's own serializer registers and reads schemas through it."""

from __future__ import annotations

import json
import socket
import typing as t
from pathlib import Path

import pytest

from sqlstream.local import registry


def test_confluent_serializer_round_trip(registry_url: str) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = SchemaRegistryClient({"url": registry_url, "timeout": 10})
    schema = {"type": "record", "name": "R", "fields": [{"name": "n", "type": "long"}]}
    ctx = SerializationContext("local-registry-check", MessageField.VALUE)
    data = AvroSerializer(client, json.dumps(schema))({"n": 7}, ctx)
    assert data[:1] == b"\x00"  # the magic byte, then the id the registry gave
    latest = client.get_latest_version("local-registry-check-value")
    assert int.from_bytes(data[1:5], "big") == latest.schema_id
    assert AvroDeserializer(client)(data, ctx) == {"n": 7}


def test_no_registry_in_another_state_dir(registry_url: str, tmp_path: Path) -> None:
    del registry_url  # the session's registry runs elsewhere: this state dir has none
    assert registry.status(tmp_path) is None
    assert registry.down(tmp_path) is False


def test_up_twice_is_the_same_registry(local_registry: t.Any) -> None:
    if local_registry is None:
        pytest.skip("the session uses SQLSTREAM_TEST_REGISTRY")
    again = registry.up(port=0, state_dir=local_registry.state_dir)
    assert again.pid == local_registry.pid and again.url == local_registry.url
    # Both ports listen on loopback only (Quarkus' management port would take every interface).
    for port in (local_registry.port, local_registry.management_port):
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        addresses = _listening_addresses(port)
        assert addresses and addresses <= {"0100007F", "0000000000000000FFFF00000100007F"}


def _listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp* write them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_schemas_outlive_a_restart(tmp_path: Path) -> None:
    """The broker keeps its topics across down and up, so the registry keeps the schemas their
    records name (in memory, a restart made every avro-confluent record unreadable)."""
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

    schema = {"type": "record", "name": "R", "fields": [{"name": "n", "type": "long"}]}
    first = registry.up(port=0, state_dir=tmp_path)
    try:
        client = SchemaRegistryClient({"url": first.url, "timeout": 10})
        schema_id = client.register_schema("kept-value", Schema(json.dumps(schema), "AVRO"))
    finally:
        assert registry.down(tmp_path)
    assert (tmp_path / "data").is_dir()
    again = registry.up(port=0, state_dir=tmp_path)
    try:
        client = SchemaRegistryClient({"url": again.url, "timeout": 10})
        assert client.get_latest_version("kept-value").schema_id == schema_id
        assert json.loads(client.get_schema(schema_id).schema_str) == schema
    finally:
        registry.down(tmp_path)
