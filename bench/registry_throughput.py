"""Throughput of avro-confluent, json-confluent and protobuf-confluent against JSON: one
stateless pipeline, side by side.

Run: python bench/registry_throughput.py [--records N] [--runs N] [--quick] [--no-write]. Prints
the figures and writes them to docs/benchmarks.md (section "avro-confluent"). The goal of
issue 8: avro-confluent at 0.9x JSON's records per second or better.

One broker, one registry (``sqlstream.local.registry``), one SparkSession. The input records
are throughput.py's, written four times: as JSON to one topic, and with confluent-kafka's
AvroSerializer, JSONSerializer and ProtobufSerializer (Confluent's wire format, the schema
registered by the serializer) to three others. The pipeline is throughput.py's (a filter and a
projection), reading and writing the same format in each variant; each run reads a whole input
topic into a fresh output topic, variants alternating (A B C D, D C B A, ...) after one uncounted
warm-up run each.

protobuf-confluent is measured against avro-confluent (issue 8 item 5: before it ships).
Protobuf has no timestamp without the well-known types, which sqlstream does not map yet: its
message carries event_time as ISO text (read into the TIMESTAMP column by a cast), and its sink
writes it as text again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section  # noqa: E402
from throughput import PARTITIONS, fmt_rate, order, produce, records  # noqa: E402

from sqlstream.compiler.facade import compile_project  # noqa: E402
from sqlstream.compiler.plan import Trigger  # noqa: E402
from sqlstream.compiler.schemas import LOCK_FILE  # noqa: E402
from sqlstream.kafka.registry import RegistrySchemas  # noqa: E402
from sqlstream.local import broker as localkafka  # noqa: E402
from sqlstream.local import client as kafkaclient  # noqa: E402
from sqlstream.local import registry as localregistry  # noqa: E402
from sqlstream.project.registry import RegistrySettings  # noqa: E402
from sqlstream.spark import progress as progress_mod  # noqa: E402
from sqlstream.spark import runtime  # noqa: E402

SQL = """\
CREATE STREAM events (
    event_id STRING, user_id STRING, action STRING, amount DOUBLE, country STRING,
    event_time TIMESTAMP
) FROM KAFKA (topic = '{input}', format = '{format}', starting_offsets = 'earliest');

INSERT INTO KAFKA TOPIC '{{{{ var('output_topic') }}}}'
    KEY user_id
    FORMAT {format} {with_}
SELECT event_id, user_id, amount, {event_time}
FROM events
WHERE action = 'purchase' AND amount > 10;
"""
JSON, AVRO, JSONC, PROTOBUF = "json", "avro-confluent", "json-confluent", "protobuf-confluent"
FORMATS = (JSON, AVRO, JSONC, PROTOBUF)
SCHEMA = {
    "type": "record",
    "name": "Event",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "user_id", "type": "string"},
        {"name": "action", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "country", "type": "string"},
        {"name": "event_time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}


def as_avro(data: list[tuple[bytes, bytes]], url: str, topic: str) -> list[tuple[bytes, bytes]]:
    """The same events in Confluent's wire format, by confluent-kafka's own serializer."""
    from datetime import datetime

    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    serialize = AvroSerializer(
        SchemaRegistryClient({"url": url, "timeout": 10}), json.dumps(SCHEMA)
    )
    ctx = SerializationContext(topic, MessageField.VALUE)
    out = []
    for key, value in data:
        event = json.loads(value)
        event["event_time"] = datetime.fromisoformat(event["event_time"].replace("Z", "+00:00"))
        out.append((key, bytes(serialize(event, ctx))))
    return out


JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Event",
    "type": "object",
    "properties": {
        **{f: {"type": "string"} for f in ("event_id", "user_id", "action", "country")},
        "amount": {"type": "number"},
        "event_time": {"type": "string", "format": "date-time"},
    },
}


def as_json_confluent(
    data: list[tuple[bytes, bytes]], url: str, topic: str
) -> list[tuple[bytes, bytes]]:
    """The same events by confluent-kafka's JSONSerializer (it validates each against the
    schema, which is why this takes a while for many records)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    serialize = JSONSerializer(
        json.dumps(JSON_SCHEMA), SchemaRegistryClient({"url": url, "timeout": 10})
    )
    ctx = SerializationContext(topic, MessageField.VALUE)
    return [(key, bytes(serialize(json.loads(value), ctx))) for key, value in data]


def _event_class() -> t.Any:
    """The events' Protobuf message, built with Google's protobuf library (no protoc)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    file = descriptor_pb2.FileDescriptorProto(name="event.proto", package="bench", syntax="proto3")
    message = file.message_type.add(name="Event")
    kinds = {"amount": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE}
    names = ("event_id", "user_id", "action", "amount", "country", "event_time")
    for number, name in enumerate(names, 1):
        message.field.add(
            name=name,
            number=number,
            type=kinds.get(name, descriptor_pb2.FieldDescriptorProto.TYPE_STRING),
        )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("bench.Event"))


def as_protobuf(data: list[tuple[bytes, bytes]], url: str, topic: str) -> list[tuple[bytes, bytes]]:
    """The same events by confluent-kafka's ProtobufSerializer (which registers the schema)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    event = _event_class()
    serialize = ProtobufSerializer(
        event, SchemaRegistryClient({"url": url, "timeout": 10}), {"use.deprecated.format": False}
    )
    ctx = SerializationContext(topic, MessageField.VALUE)
    return [(key, bytes(serialize(event(**json.loads(value)), ctx))) for key, value in data]


ENCODERS = {AVRO: as_avro, JSONC: as_json_confluent, PROTOBUF: as_protobuf}


@dataclasses.dataclass
class Bench:
    spark: t.Any
    bootstrap: str
    url: str
    work: Path
    expected: tuple[int, int]

    def project(self, fmt: str) -> Path:
        root = self.work / f"project-{fmt}"
        if not root.exists():
            (root / "queries").mkdir(parents=True)
            (root / "sqlstream.yml").write_text("name: bench\nprofile: bench\n")
            (root / "profiles.yml").write_text(
                "bench:\n  target: dev\n  outputs:\n    dev:\n"
                f"      bootstrap_servers: '{self.bootstrap}'\n"
            )
            with_ = "WITH (auto_register = true)" if fmt != JSON else ""
            event_time = (
                "CAST(event_time AS STRING) AS event_time" if fmt == PROTOBUF else "event_time"
            )
            (root / "queries" / "p.sql").write_text(
                SQL.format(input=f"bench-{fmt}", format=fmt, with_=with_, event_time=event_time)
            )
        return root

    def run(self, fmt: str) -> tuple[float, int]:
        """Seconds of one whole read of the format's input topic, and the load average then."""
        topic = f"bench-out-{uuid.uuid4().hex[:10]}"
        kafkaclient.create_topic(self.bootstrap, topic, partitions=PARTITIONS)
        settings = RegistrySettings(url=self.url)
        compiled = compile_project(
            [str(self.project(fmt) / "queries")],
            vars_override={"output_topic": topic},
            registry=lambda p: RegistrySchemas(settings, p.root / LOCK_FILE),
        )
        checkpoint = self.work / "checkpoints" / uuid.uuid4().hex
        connection = dataclasses.replace(compiled.connection(), checkpoint_root=str(checkpoint))
        t0 = time.perf_counter()
        (query,) = runtime.start(
            compiled.plan, self.spark, connection, trigger_override=Trigger("available_now")
        )
        query.awaitTermination()
        seconds = time.perf_counter() - t0
        if query.exception() is not None:
            raise SystemExit(f"{fmt}: the query failed: {query.exception()}")
        rows_in = sum(
            int(progress_mod.as_dict(p).get("numInputRows") or 0) for p in query.recentProgress
        )
        if rows_in != self.expected[0]:
            raise SystemExit(f"{fmt}: read {rows_in} records, expected {self.expected[0]}")
        kafkaclient.delete_topic(self.bootstrap, topic)
        shutil.rmtree(checkpoint, ignore_errors=True)
        return seconds, rows_in


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--runs", type=int, default=4, help="counted runs per format (default 4)")
    ap.add_argument("--quick", action="store_true", help="50,000 records, 2 runs")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.records, args.runs = 50_000, 2
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    work = Path(tempfile.mkdtemp(prefix="sqlstream-bench-registry-"))
    print("==> starting a Kafka broker and a schema registry", flush=True)
    broker = localkafka.up(port=0, state_dir=work / "kafka", heap="1g")
    registry = localregistry.up(port=0, state_dir=work / "registry")
    spark = None
    rates: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
    loads: list[float] = []
    try:
        data, kept = records(args.records)
        encoded = {JSON: data}
        encoded.update({f: ENCODERS[f](data, registry.url, f"bench-{f}") for f in FORMATS[1:]})
        for fmt, rows in encoded.items():
            kafkaclient.create_topic(broker.bootstrap, f"bench-{fmt}", partitions=PARTITIONS)
            produce(broker.bootstrap, f"bench-{fmt}", rows, PARTITIONS)
            size = sum(len(v) for _, v in rows) / len(rows)
            print(f"    {fmt}: {len(rows):,} records of {size:.0f} bytes on average", flush=True)
        del data, encoded
        bench = Bench(None, broker.bootstrap, registry.url, work, (args.records, kept))
        connection = compile_project(
            [str(bench.project(JSON) / "queries")], vars_override={"output_topic": "unused"}
        ).connection()
        spark = bench.spark = runtime.session(connection, "sqlstream-bench-registry", avro=True)
        for fmt in FORMATS:
            s, _ = bench.run(fmt)
            print(f"    warm-up {fmt}: {s:.2f} s, not counted", flush=True)
        for i, fmt in enumerate(order(list(FORMATS), args.runs), 1):
            load = os.getloadavg()[0]
            s, n = bench.run(fmt)
            rates[fmt].append(n / s)
            loads.append(load)
            print(
                f"    run {i:2d} {fmt:15s} {s:6.2f} s {fmt_rate(n / s):>9s} records/s"
                f" (load avg {load:.1f})",
                flush=True,
            )
    finally:
        if spark is not None:
            spark.stop()
        localregistry.down(work / "registry")
        localkafka.down(work / "kafka")
        shutil.rmtree(work, ignore_errors=True)

    body = report(args, rates, loads)
    print()
    print(body)
    if not args.no_write:
        write_section("avro-confluent", "python bench/registry_throughput.py", body)
        print("\nwritten to docs/benchmarks.md (section avro-confluent)")
    return 0


def report(args: argparse.Namespace, rates: dict[str, list[float]], loads: list[float]) -> str:
    med = {fmt: statistics.median(r) for fmt, r in rates.items()}
    lines = [
        f"{args.records:,} records, {args.runs} counted runs per format (alternating, after one"
        f" warm-up each), one local[*] SparkSession; load average during the runs"
        f" {min(loads):.1f} to {max(loads):.1f} (other work on the machine: the figures are"
        " side by side, so their ratio is what to read).",
        "",
        "| format (read and written) | median records/s | runs |",
        "| --- | ---: | --- |",
    ]
    for fmt in FORMATS:
        runs = ", ".join(fmt_rate(r) for r in rates[fmt])
        lines.append(f"| {fmt} | {fmt_rate(med[fmt])} | {runs} |")
    lines += [
        "",
        f"avro-confluent / json: **{med[AVRO] / med[JSON]:.2f}x** (goal: 0.9x or better);"
        f" json-confluent / json:"
        f" **{med[JSONC] / med[JSON]:.2f}x**; protobuf-confluent / avro-confluent:"
        f" **{med[PROTOBUF] / med[AVRO]:.2f}x** (sqlstream's own JVM functions; its event_time is"
        " text, cast on the way in and out).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
