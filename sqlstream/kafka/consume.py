"""``sqlstream topics consume``: records of a topic, shown for people or as JSON lines.

Where to start (``--from``) is one of the forms of ``START_FORMS``; the end is each partition's
end offset at the start, unless following. A record is shown with the value decoded by the format
of the project's stream on that topic (the table ``DISPLAY``), or as ``--output json`` in the
shape ``topics produce`` reads (``record_json``), so that ``consume --output json | produce``
copies records exactly, bytes included. Bytes that are not text (``_text``) are never printed as
they are: base64 (``bytes_display``), as in ``--output json``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import typing as t
import uuid
from dataclasses import dataclass

from sqlstream.errors import UserError
from sqlstream.kafka.connect import BrokerError, ck, make
from sqlstream.kafka.produce import FieldError, parse_timestamp
from sqlstream.project.clientconfig import ClientConfig

# --- where to start -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """``at``: ``earliest``, ``latest``, an offset (int, per partition) or a time (ms)."""

    kind: str
    """earliest | latest | offset | timestamp"""
    value: int = 0


START_FORMS: tuple[tuple[str, t.Callable[[str], Start | None]], ...] = (
    ("earliest", lambda s: Start("earliest") if s.lower() == "earliest" else None),
    ("latest", lambda s: Start("latest") if s.lower() == "latest" else None),
    ("an offset, e.g. 42", lambda s: Start("offset", int(s)) if s.isdigit() else None),
    (
        "an ISO timestamp, e.g. 2024-05-01T10:00:00Z",
        lambda s: Start("timestamp", parse_timestamp(s)),
    ),
)


def parse_start(text: str) -> Start:
    for _, form in START_FORMS:
        try:
            start = form(text.strip())
        except FieldError:
            start = None
        if start is not None:
            return start
    raise UserError(
        f"--from '{text}' is not a place in a topic",
        hint="one of: " + "; ".join(name for name, _ in START_FORMS),
    )


def start_offsets(
    start: Start, low: dict[int, int], high: dict[int, int], at_time: dict[int, int]
) -> dict[int, int]:
    """The first offset to read per partition (``at_time``: the offsets for a timestamp start)."""
    rules: dict[str, t.Callable[[int], int]] = {
        "earliest": lambda p: low[p],
        "latest": lambda p: high[p],
        "offset": lambda p: min(max(start.value, low[p]), high[p]),
        "timestamp": lambda p: high[p] if at_time.get(p, -1) < 0 else at_time[p],
    }
    return {p: rules[start.kind](p) for p in sorted(high)}


# --- showing a record ---------------------------------------------------------------------------


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters (Unicode's Cc) but tab and newline: a terminal would act on them."""


def _text(data: bytes) -> str | None:
    """``data`` as text fit for a terminal: UTF-8 with no control character but tab and newline
    (the bytes of Avro or Protobuf often decode as UTF-8, NULs and escapes included)."""
    text = _utf8(data)
    return None if text is None or _CONTROL.search(text) else text


def bytes_display(data: bytes, why: str = "not text") -> str:
    """Bytes that are not shown as text: base64, as ``--output json`` prints them too."""
    return f"{base64.b64encode(data).decode()}  ({why}; base64)"


def _json_display(data: bytes) -> str:
    try:
        return json.dumps(json.loads(data), indent=2, ensure_ascii=False)
    except ValueError:
        text = _text(data)
        return bytes_display(data) if text is None else f"{text}  (not valid JSON)"


def _text_display(data: bytes) -> str:
    text = _text(data)
    return bytes_display(data) if text is None else text


DISPLAY: dict[str, tuple[t.Callable[[bytes], str], str | None]] = {
    # stream format -> (how a value is shown, a note printed once)
    "json": (_json_display, None),
    "text": (_text_display, None),
    "csv": (_text_display, None),
    "raw": (lambda b: b.hex(), "values are shown as hex"),
    "avro": (
        lambda b: base64.b64encode(b).decode(),
        "avro values are shown as base64, not decoded",
    ),
}
RAW = (_text_display, None)


def _confluent_display(
    schemas: t.Mapping[int, str], decode: t.Callable[[int, bytes], str]
) -> t.Callable[[bytes], str]:
    """A display of values in Confluent's wire format: the magic byte and the schema id checked
    (the id must be one of the lock's), then ``decode(schema id, the whole value)``."""

    def show(data: bytes) -> str:
        if len(data) < 5 or data[0] != 0:
            return bytes_display(data, "not in the Confluent wire format")
        schema_id = int.from_bytes(data[1:5], "big")
        if schema_id not in schemas:
            return bytes_display(data, f"schema id {schema_id} is not in schemas.lock.json")
        try:
            return decode(schema_id, data)
        except Exception as e:  # fastavro and protobuf raise many kinds for bad bytes
            return bytes_display(data, f"does not decode with schema id {schema_id}: {e}")

    return show


def confluent_avro_display(schemas: t.Mapping[int, str]) -> t.Callable[[bytes], str]:
    """avro-confluent values as JSON, decoded with the writer schema of their id (``schemas``:
    the project's lock file, by id) by fastavro, confluent-kafka's own Avro library."""
    import io

    import fastavro

    parsed: dict[int, t.Any] = {}

    def decode(schema_id: int, data: bytes) -> str:
        if schema_id not in parsed:
            parsed[schema_id] = fastavro.parse_schema(json.loads(schemas[schema_id]))
        record = fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed[schema_id])
        return json.dumps(record, indent=2, ensure_ascii=False, default=str)

    return _confluent_display(schemas, decode)


def confluent_json_display(schemas: t.Mapping[int, str]) -> t.Callable[[bytes], str]:
    """json-confluent values as JSON: the payload shown as the json format shows a value."""
    return _confluent_display(schemas, lambda schema_id, data: _json_display(data[5:]))


def confluent_protobuf_display(schemas: t.Mapping[int, str]) -> t.Callable[[bytes], str]:
    """protobuf-confluent values as JSON, decoded with the writer schema of their id and the
    message their indexes name, by Google's protobuf library (confluent-kafka's own)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

    from sqlstream.compiler import protobuf

    def message_of(schema_id: int, indexes: list[int]) -> t.Any:
        model, data = protobuf.parse_schema(schemas[schema_id])
        pool = descriptor_pool.DescriptorPool()
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(data))
        level, path = model.get("message_type", []), []
        for i in indexes:
            path.append(level[i]["name"])
            level = level[i].get("nested_type", [])
        full = ".".join([model["package"], *path] if model.get("package") else path)
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(full))

    def decode(schema_id: int, data: bytes) -> str:
        indexes, pos = _message_indexes(data, 5)  # bad indexes raise: shown as not decoding
        message = message_of(schema_id, indexes)()
        message.ParseFromString(data[pos:])
        return json_format.MessageToJson(message, preserving_proto_field_name=True)

    return _confluent_display(schemas, decode)


def _message_indexes(data: bytes, pos: int) -> tuple[list[int], int]:
    """Confluent's message indexes (zigzag varints: a count, then each; a count of 0 is [0])."""

    def zigzag() -> int:
        nonlocal pos
        value, shift = 0, 0
        while True:
            byte = data[pos]
            value, pos, shift = value | (byte & 0x7F) << shift, pos + 1, shift + 7
            if not byte & 0x80:
                return (value >> 1) ^ -(value & 1)

    count = zigzag()
    return ([zigzag() for _ in range(count)] if count else [0]), pos


SCHEMA_DISPLAY = {
    "avro-confluent": confluent_avro_display,
    "json-confluent": confluent_json_display,
    "protobuf-confluent": confluent_protobuf_display,
}
"""Formats whose values are shown with the project's registry schemas (id -> schema)."""


@dataclass(frozen=True)
class Message:
    """One record as read, in plain Python types."""

    partition: int
    offset: int
    timestamp: int | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


def format_time(ms: int | None) -> str:
    if ms is None:
        return "(no timestamp)"
    try:
        when = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    except (ValueError, OverflowError, OSError):  # Kafka's timestamps go past the year 9999
        return f"{ms} ms since the epoch"
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def format_text(msg: Message, show: t.Callable[[bytes], str]) -> str:
    """A record for people: where and when, then key, headers and value, labelled."""
    lines = [f"partition {msg.partition}  offset {msg.offset}  {format_time(msg.timestamp)}"]
    lines.append(f"  key      {'(null)' if msg.key is None else _text_display(msg.key)}")
    if msg.headers:
        shown = ", ".join(
            f"{k}={'(null)' if v is None else _text_display(v)}" for k, v in msg.headers
        )
        lines.append(f"  headers  {shown}")
    value = "(null: a tombstone)" if msg.value is None else show(msg.value)
    lines.append("  value    " + value.replace("\n", "\n           "))
    return "\n".join(lines)


def _json_field(name: str, data: bytes | None) -> dict[str, t.Any]:
    """``name`` as ``topics produce`` reads it back to the same bytes."""
    if data is None:
        return {name: None}
    text = _utf8(data)
    if text is None:
        return {f"{name}_base64": base64.b64encode(data).decode()}
    try:
        parsed = json.loads(text)
    except ValueError:
        return {name: text}
    compact = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)
    # An object or array is printed as JSON only when produce would write back these very bytes.
    return {name: parsed if isinstance(parsed, (dict, list)) and compact == text else text}


def record_json(msg: Message) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {**_json_field("key", msg.key), **_json_field("value", msg.value)}
    if msg.headers:
        # Kafka allows a header name twice; a JSON object cannot: the last one is kept.
        out["headers"] = {
            k: None if v is None else (_utf8(v) or base64.b64encode(v).decode())
            for k, v in msg.headers
        }
    out.update(partition=msg.partition, offset=msg.offset, timestamp=msg.timestamp)
    return out


# --- reading ------------------------------------------------------------------------------------


def read(
    cfg: ClientConfig,
    topic: str,
    begin: dict[int, int],
    end: dict[int, int] | None,
    limit: int | None = None,
    stop: t.Callable[[], bool] = lambda: False,
) -> t.Iterator[Message]:
    """Records from ``begin`` (per partition) to ``end`` (exclusive), or on and on when None.

    Stops after ``limit`` records, or when ``stop()`` says so (checked at least twice a second).
    Ends when the position of every partition has passed its end (a position also moves past
    transaction markers, which are no records)."""
    module = ck()
    consumer, _events = make(
        "Consumer",
        cfg,
        **{
            # required, never committed: we assign
            "group.id": f"sqlstream-topics-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        },
    )
    try:
        pending = {p for p in begin if end is None or begin[p] < end[p]}
        if not pending:
            return
        consumer.assign([module.TopicPartition(topic, p, begin[p]) for p in sorted(pending)])
        count = 0
        while pending and (limit is None or count < limit) and not stop():
            for raw in consumer.consume(num_messages=500, timeout=0.5):
                msg = _message(raw, topic, cfg)
                if msg is None or (end is not None and msg.offset >= end[msg.partition]):
                    continue
                yield msg
                count += 1
                if limit is not None and count >= limit:
                    return
            if end is not None:
                positions = consumer.position([module.TopicPartition(topic, p) for p in pending])
                pending -= {tp.partition for tp in positions if tp.offset >= end[tp.partition]}
    finally:
        consumer.close()


def _message(raw: t.Any, topic: str, cfg: ClientConfig) -> Message | None:
    err = raw.error()
    if err is not None:
        if err.code() == ck().KafkaError._PARTITION_EOF:
            return None
        raise BrokerError(
            f"reading '{topic}' on {cfg.bootstrap_servers}: {err.str()}",
            "check that the target's user may read this topic",
        )
    kind, ts = raw.timestamp()
    return Message(
        partition=raw.partition(),
        offset=raw.offset(),
        timestamp=None if kind == ck().TIMESTAMP_NOT_AVAILABLE else ts,
        key=raw.key(),
        value=raw.value(),
        headers=list(raw.headers() or []),
    )


# --- the project's view of a topic --------------------------------------------------------------


@dataclass(frozen=True)
class StreamFormat:
    stream: str
    file: str
    format: str


def stream_format(plan: t.Any, topic: str) -> StreamFormat | None:
    """The format of the first stream of ``plan`` that reads ``topic`` (by name or pattern)."""
    for source in plan.sources:
        options = source.read_options
        names = [n.strip() for n in options.get("subscribe", "").split(",") if n.strip()]
        pattern = options.get("subscribePattern")
        if topic in names or (pattern and _matches(pattern, topic)):
            return StreamFormat(source.name, source.file, source.value_format)
    return None


def _matches(pattern: str, topic: str) -> bool:
    try:
        return re.fullmatch(pattern, topic) is not None
    except re.error:  # a Java regex Python does not read: no guess
        return False
