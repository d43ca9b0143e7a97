"""The registry demo (`make demo-registry`): an Avro topic read, and written in Avro and in JSON
Schema's wire format, with a registry.

1. start the local broker (`sqlstream kafka up`) and the local registry (`sqlstream registry up`,
   Apicurio Registry, Confluent's API on loopback);
2. produce orders with confluent-kafka's AvroSerializer under two versions of their schema (the
   second adds a field with a default), and one record that is not in the wire format;
3. run examples/registry with `sqlstream run --trigger available-now`: its stream takes its
   columns from the latest schema, decodes each record with its own, writes big orders in
   avro-confluent and in json-confluent (registering their schemas) and the bad record to the
   DLQ;
4. print the big orders as AvroDeserializer and JSONDeserializer read them, and the DLQ's reason;
5. stop both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sqlstream.local import broker as localkafka
from sqlstream.local import client as kafkaclient
from sqlstream.local import registry as localregistry

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "examples" / "registry"
KAFKA_STATE = ROOT / ".sqlstream" / "kafka"
REGISTRY_STATE = ROOT / ".sqlstream" / "registry"
TOPICS = ["orders-avro", "big-orders-avro", "big-orders-json", "orders-avro-dlq"]
V1 = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "customer", "type": "string"},
        {"name": "amount", "type": "double"},
    ],
}
V2 = {**V1, "fields": [*V1["fields"], {"name": "channel", "type": "string", "default": "web"}]}


def orders(url: str) -> list[tuple[bytes, bytes]]:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = SchemaRegistryClient({"url": url, "timeout": 10})
    ctx = SerializationContext("orders-avro", MessageField.VALUE)
    out = []
    for i, schema in enumerate([V1] * 5 + [V2] * 5):
        order = {"order_id": f"o{i}", "customer": f"c{i % 3}", "amount": 40.0 * (i + 1)}
        if schema is V2:
            order["channel"] = "app"
        value = AvroSerializer(client, json.dumps(schema))(order, ctx)
        out.append((order["customer"].encode(), bytes(value)))
    out.append((b"c0", b'{"order_id": "o99"}'))  # JSON by mistake: not the wire format
    return out


def main() -> int:
    kafka_port = localkafka.DEFAULT_PORT if localkafka.status(KAFKA_STATE) else 0
    broker = localkafka.up(port=kafka_port or localkafka.free_port(), state_dir=KAFKA_STATE)
    registry = localregistry.up(port=0, state_dir=REGISTRY_STATE)
    print(f"==> kafka {broker.bootstrap}, schema registry {registry.url}", flush=True)
    try:
        for topic in TOPICS:
            kafkaclient.delete_topic(broker.bootstrap, topic)
            kafkaclient.create_topic(broker.bootstrap, topic)
        shutil.rmtree(PROJECT / ".sqlstream", ignore_errors=True)
        records = orders(registry.url)
        kafkaclient.produce(broker.bootstrap, "orders-avro", records)
        print(f"==> produced {len(records)} records to 'orders-avro' (two schema versions)")
        cmd = [
            str(Path(sys.executable).parent / "sqlstream"),
            "run",
            "--trigger",
            "available-now",
            "--bootstrap-servers",
            broker.bootstrap,
        ]
        env = {**os.environ, "SCHEMA_REGISTRY_URL": registry.url}
        print("==> sqlstream run --trigger available-now   (in examples/registry)", flush=True)
        code = subprocess.call(cmd, cwd=PROJECT, env=env)
        if code != 0:
            return code
        show(broker.bootstrap, registry.url)
        return 0
    finally:
        print("\n==> stopping the broker and the registry", flush=True)
        localregistry.down(REGISTRY_STATE)
        localkafka.down(KAFKA_STATE)


def show(bootstrap: str, url: str) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    read = AvroDeserializer(SchemaRegistryClient({"url": url, "timeout": 10}))
    ctx = SerializationContext("big-orders-avro", MessageField.VALUE)
    big = kafkaclient.consume_all(bootstrap, "big-orders-avro")
    print(f"\n==> 'big-orders-avro': {len(big)} records, read by confluent-kafka's deserializer")
    for r in big:
        print(f"  key={r.key.decode() if r.key else None}  {read(r.value, ctx)}")
    show_json(bootstrap, url)
    for r in kafkaclient.consume_all(bootstrap, "orders-avro-dlq"):
        reason = (r.header("sqlstream.error.reason") or b"").decode()
        print(f"\n==> 'orders-avro-dlq': {r.value!r}\n    reason: {reason}")


def show_json(bootstrap: str, url: str) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    read = JSONDeserializer(
        None, schema_registry_client=SchemaRegistryClient({"url": url, "timeout": 10})
    )
    ctx = SerializationContext("big-orders-json", MessageField.VALUE)
    big = kafkaclient.consume_all(bootstrap, "big-orders-json")
    print(f"\n==> 'big-orders-json': {len(big)} records, read by confluent-kafka's deserializer")
    for r in big:
        print(f"  key={r.key.decode() if r.key else None}  {read(r.value, ctx)}")


if __name__ == "__main__":
    sys.exit(main())
