"""``sqlstream topics produce``: lines of a file (or stdin) -> records on a topic.

A line is read by one of three readers (``READERS``): a JSON object whose fields are those of the
table ``FIELDS`` (what ``topics consume --output json`` prints, so the two round-trip), the value
itself (``--value-only``), or a CSV row under a header line (``--format csv``). ``read_checked``
checks every line, and every record against the topic (the table ``TOPIC_CHECKS``: a partition it
has, a size it takes), before anything is written, and reports every bad line at its place, so
that a file is written whole or not at all.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import difflib
import io
import json
import re
import typing as t
from dataclasses import dataclass, field

from sqlstream.errors import Location, UserError, UserErrors
from sqlstream.kafka.connect import BrokerError, make, unreachable
from sqlstream.project.clientconfig import ClientConfig

Headers = list[tuple[str, bytes | None]]
EXAMPLE = '{"key": "u1", "value": {"amount": 5}, "headers": {"src": "test"}}'


@dataclass
class Record:
    """One record to write, and where it came from (for errors found after parsing)."""

    value: bytes | None = None
    key: bytes | None = None
    headers: Headers = field(default_factory=list)
    partition: int | None = None
    timestamp: int | None = None
    """Milliseconds since the epoch; None lets the producer stamp it."""
    where: Location | None = None
    partition_where: Location | None = None


class FieldError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


# --- values of the fields ------------------------------------------------------------------------


def as_bytes(value: t.Any) -> bytes | None:
    """A JSON value as record bytes: a string as the string, anything else as its compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return _utf8(value)
    return _utf8(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def _utf8(text: str) -> bytes:
    """JSON can write half of a UTF-16 pair (``"\\ud800"``), which is no text UTF-8 can hold."""
    try:
        return text.encode()
    except UnicodeEncodeError as e:
        raise FieldError(
            f"holds \\u{ord(text[e.start]):04x}, half of a UTF-16 pair, which is not text",
            "write the whole character (both \\u escapes of the pair);"
            " for bytes that are not text use value_base64 or key_base64",
        ) from None


def _base64(value: t.Any) -> bytes | None:
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else _no_base64()
    except ValueError:
        return _no_base64()


def _no_base64() -> t.NoReturn:
    raise FieldError(
        "is not base64 text", 'e.g. "3q2+7w=="; the *_base64 fields carry bytes that are not UTF-8'
    )


def _headers(value: t.Any) -> Headers:
    if not isinstance(value, dict):
        raise FieldError(
            "must be an object of header names to strings", 'e.g. "headers": {"src": "test"}'
        )
    bad = next((k for k, v in value.items() if v is not None and not isinstance(v, str)), None)
    if bad is not None:
        raise FieldError(
            f"header '{bad}' must be a string or null",
            f'quote the value, e.g. "{bad}": "{json.dumps(value[bad]).strip(chr(34))}"',
        )
    return [(_utf8(k).decode(), None if v is None else _utf8(v)) for k, v in value.items()]


def _partition(value: t.Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FieldError("must be a partition number (0, 1, ...)", 'e.g. "partition": 0')
    return value


def parse_timestamp(text: str) -> int:
    """An ISO 8601 timestamp -> milliseconds since the epoch; one without a zone is UTC."""
    # Python 3.10's fromisoformat does not read a trailing Z.
    iso = re.sub(r"[zZ]$", "+00:00", text.strip())
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise FieldError(
            f"'{text}' is not an ISO timestamp",
            "e.g. 2024-05-01T10:00:00Z or 2024-05-01 10:00:00.250",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return (when - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(milliseconds=1)


MAX_TIMESTAMP = 2**63 - 1
"""Kafka's timestamps are 64-bit milliseconds since the epoch, none before it."""
_TIMESTAMP_HINT = 'e.g. "timestamp": 1714557600000 or "timestamp": "2024-05-01T10:00:00Z"'


def _timestamp(value: t.Any) -> int:
    if isinstance(value, str):
        ms = parse_timestamp(value)
    elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FieldError(
            "must be milliseconds since the epoch or an ISO timestamp", _TIMESTAMP_HINT
        )
    else:
        ms = value
    if not 0 <= ms <= MAX_TIMESTAMP:
        raise FieldError(
            f"is outside Kafka's timestamps: 1970-01-01T00:00:00Z (0) to {MAX_TIMESTAMP} ms",
            _TIMESTAMP_HINT,
        )
    return ms


@dataclass(frozen=True)
class FieldSpec:
    attribute: str | None
    """The ``Record`` attribute it sets; None for a field that is read and ignored."""
    convert: t.Callable[[t.Any], t.Any]


FIELDS: dict[str, FieldSpec] = {
    "value": FieldSpec("value", as_bytes),
    "key": FieldSpec("key", as_bytes),
    "headers": FieldSpec("headers", _headers),
    "partition": FieldSpec("partition", _partition),
    "timestamp": FieldSpec("timestamp", _timestamp),
    "value_base64": FieldSpec("value", _base64),
    "key_base64": FieldSpec("key", _base64),
    "offset": FieldSpec(None, lambda v: None),  # printed by consume; the broker assigns offsets
}
REQUIRED = ("value", "value_base64")
"""One of these must be there (a null value is a tombstone, and must be said)."""


# --- readers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    path: str
    number: int
    text: str

    def at(self, col: int = 1, length: int = 1) -> Location:
        return Location(self.path, self.number, col, self.text, length)

    def field_at(self, name: str) -> Location:
        """Where ``"name":`` is written on the line (the line's start when not found)."""
        m = re.search(r'"' + re.escape(name) + r'"\s*:', self.text)
        return self.at(m.start() + 1, len(name) + 2) if m else self.at()


def lines_of(text: str, path: str) -> list[Line]:
    return [Line(path, i, s) for i, s in enumerate(text.splitlines(), 1)]


def read_json_line(line: Line) -> Record:
    try:
        data = json.loads(line.text)
    except json.JSONDecodeError as e:
        raise UserError(f"not valid JSON: {e.msg}", line.at(e.colno), _JSON_HINT) from None
    if not isinstance(data, dict):
        raise UserError("a line must be a JSON object with a value", line.at(), _JSON_HINT)
    record = Record(where=line.at())
    for name, value in data.items():
        _set_field(record, line, name, value)
    present = [n for n in REQUIRED if n in data]
    if not present:
        raise UserError(
            "the line has no value",
            line.at(),
            f'add "value": ..., e.g. {EXAMPLE}; '
            "or use --value-only when each line is the value itself",
        )
    if len(present) > 1:
        raise UserError(
            "both value and value_base64 are given", line.field_at(present[1]), "keep one"
        )
    if {"key", "key_base64"} <= data.keys():
        raise UserError(
            "both key and key_base64 are given", line.field_at("key_base64"), "keep one"
        )
    if "partition" in data:
        record.partition_where = line.field_at("partition")
    return record


def _set_field(record: Record, line: Line, name: str, value: t.Any) -> None:
    spec = FIELDS.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, list(FIELDS), n=1)
        raise UserError(
            f"unknown field '{name}'",
            line.field_at(name),
            f"did you mean '{close[0]}'?" if close else "fields: " + ", ".join(FIELDS),
        )
    try:
        converted = spec.convert(value)
    except FieldError as e:
        raise UserError(f"field '{name}': {e.message}", line.field_at(name), e.hint) from None
    if spec.attribute is not None:
        setattr(record, spec.attribute, converted)


_JSON_HINT = (
    f"each line is one JSON object, e.g. {EXAMPLE};"
    " use --value-only when each line is the value itself"
)


def read_value_line(line: Line) -> Record:
    return Record(value=line.text.encode(), where=line.at())


_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
_CSV_WORDS: dict[str, t.Any] = {"true": True, "false": False, "": None}


def csv_scalar(text: str) -> t.Any:
    """A CSV field as a JSON value: numbers and true/false as such, an empty field as null.

    Leading zeros keep a field a string (``007`` is a code, not seven)."""
    if text in _CSV_WORDS:
        return _CSV_WORDS[text]
    if _NUMBER.fullmatch(text):
        return json.loads(text)
    return text


def read_csv(lines: list[Line]) -> tuple[list[Record], list[UserError]]:
    """The rows under the header line as JSON object values; rows of the wrong width are errors."""
    data = [ln for ln in lines if ln.text.strip()]
    if not data:
        return [], []
    records: list[Record] = []
    errors: list[UserError] = []
    rows = _csv_rows(data)
    try:
        _, header = next(rows)
        for line, row in rows:
            if len(row) != len(header):
                errors.append(
                    UserError(
                        f"the row has {len(row)} fields, the header has {len(header)}",
                        line.at(),
                        'quote a field that holds a comma: "a, b"',
                    )
                )
                continue
            value = {name: csv_scalar(cell) for name, cell in zip(header, row)}
            records.append(Record(value=as_bytes(value), where=line.at()))
    except UserError as e:  # the csv module cannot read on after a row it refused
        errors.append(e)
    return records, errors


def _csv_rows(data: list[Line]) -> t.Iterator[tuple[Line, list[str]]]:
    """Each row with its last physical line (a quoted field may span lines)."""
    rows = csv.reader(io.StringIO("\n".join(ln.text for ln in data)))
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as e:  # e.g. a field longer than the csv module reads
            raise UserError(
                f"not a CSV row: {e}",
                data[min(rows.line_num, len(data)) - 1].at(),
                f"a CSV field holds at most {csv.field_size_limit()} characters;"
                " write a larger value as a JSON line",
            ) from None
        yield data[rows.line_num - 1], row


READERS: dict[str, t.Callable[[Line], Record]] = {"json": read_json_line, "value": read_value_line}


def _read(text: str, path: str, reader: str) -> tuple[list[Record], list[UserError]]:
    """The good records of ``text`` and an error for each bad line. Blank lines are skipped."""
    lines = lines_of(text, path)
    if reader == "csv":
        return read_csv(lines)
    records, errors = [], []
    for line in lines:
        if not line.text.strip():
            continue
        try:
            records.append(READERS[reader](line))
        except UserError as e:
            errors.append(e)
    return records, errors


def parse(text: str, path: str, reader: str = "json") -> list[Record]:
    """Every record of ``text``; ``UserErrors`` with every bad line."""
    records, errors = _read(text, path, reader)
    if errors:
        raise UserErrors(errors)
    return records


# --- what the topic takes -----------------------------------------------------------------------

PRODUCER_MAX_BYTES = 1_000_000
"""librdkafka's ``message.max.bytes``: the largest record the producer sends (the tools keep it)."""
BATCH_OVERHEAD = 61 + 36
"""Bytes a record takes besides its key, value and headers, at most: a batch's header (61) and
the record's own lengths and deltas (varints)."""
HEADER_OVERHEAD = 10
"""Bytes a header takes besides its name and value, at most (two varint lengths)."""


LIMITS: dict[str, tuple[str, str]] = {
    # what sets a topic's largest record -> (said in the error, the hint)
    "producer": (
        "the most `sqlstream topics produce` sends",
        "split it into smaller records",
    ),
    "topic": (
        "the topic's max.message.bytes",
        "split it into smaller records, or raise the topic's max.message.bytes",
    ),
}


@dataclass(frozen=True)
class Topic:
    """What every record is checked against before the first one is written."""

    name: str
    partitions: int
    max_bytes: int = PRODUCER_MAX_BYTES
    """The largest record batch it takes: its ``max.message.bytes``, at most the producer's."""
    limited_by: str = "producer"
    """Which of ``LIMITS`` sets ``max_bytes``."""


def topic_of(name: str, partitions: int, max_message_bytes: int | None) -> Topic:
    """The topic's limits; ``max_message_bytes``: its setting, None when the broker did not say."""
    if max_message_bytes is None or max_message_bytes >= PRODUCER_MAX_BYTES:
        return Topic(name, partitions)
    return Topic(name, partitions, max_message_bytes, "topic")


def size_of(record: Record) -> int:
    """The bytes ``record`` takes in a batch of its own, at most."""
    headers = sum(HEADER_OVERHEAD + len(k.encode()) + len(v or b"") for k, v in record.headers)
    return BATCH_OVERHEAD + len(record.key or b"") + len(record.value or b"") + headers


def _partition_exists(record: Record, topic: Topic) -> UserError | None:
    if record.partition is None or record.partition < topic.partitions:
        return None
    n = topic.partitions
    return UserError(
        f"topic '{topic.name}' has no partition {record.partition}",
        record.partition_where or record.where,
        f"it has {n} partition{'s' if n != 1 else ''}: 0 to {n - 1}",
    )


def _fits(record: Record, topic: Topic) -> UserError | None:
    size = size_of(record)
    if size <= topic.max_bytes:
        return None
    said, hint = LIMITS[topic.limited_by]
    return UserError(
        f"the record takes {size} bytes, more than topic '{topic.name}' takes:"
        f" {topic.max_bytes} bytes, {said}",
        record.where,
        hint,
    )


TOPIC_CHECKS: tuple[t.Callable[[Record, Topic], UserError | None], ...] = (
    _partition_exists,
    _fits,
)
"""What a record that parsed may still be refused for by the topic: each says so at the line."""


def topic_errors(records: t.Sequence[Record], topic: Topic) -> list[UserError]:
    return [e for r in records for check in TOPIC_CHECKS if (e := check(r, topic)) is not None]


def read_checked(text: str, path: str, reader: str, topic: Topic) -> list[Record]:
    """Every record of ``text``, each checked against ``topic``; ``UserErrors`` with every bad
    line of every kind, so that nothing is written when any line is wrong."""
    parsed, errors = _read(text, path, reader)
    errors += topic_errors(parsed, topic)
    if errors:
        raise UserErrors(errors)
    return parsed


# --- writing ------------------------------------------------------------------------------------


def write(
    cfg: ClientConfig, to: Topic, records: t.Sequence[Record], timeout: float = 60
) -> dict[int, int]:
    """Write ``records`` in order and wait for every acknowledgement; records per partition.

    A batch is never larger than the topic takes (librdkafka does not split a refused batch)."""
    topic = to.name
    producer, events = make(
        "Producer",
        cfg,
        **{"linger.ms": 20, "enable.idempotence": True, "batch.size": to.max_bytes},
    )
    written: dict[int, int] = {}
    failures: list[str] = []

    def delivered(err: t.Any, msg: t.Any) -> None:
        if err is not None:
            failures.append(err.str())
        else:
            written[msg.partition()] = written.get(msg.partition(), 0) + 1

    for record in records:
        _send(producer, topic, record, delivered)
    remaining = producer.flush(timeout)
    if failures:
        raise BrokerError(
            f"writing to '{topic}' on {cfg.bootstrap_servers} failed: {failures[0]}",
            f"{sum(written.values())} of {len(records)} records were written",
        )
    if remaining:
        raise unreachable(cfg, events, None, timeout)
    return dict(sorted(written.items()))


def _send(producer: t.Any, topic: str, record: Record, delivered: t.Callable[..., None]) -> None:
    kwargs: dict[str, t.Any] = {"key": record.key, "value": record.value, "on_delivery": delivered}
    if record.headers:
        kwargs["headers"] = record.headers
    if record.partition is not None:
        kwargs["partition"] = record.partition
    if record.timestamp is not None:
        kwargs["timestamp"] = record.timestamp
    while True:
        try:
            producer.produce(topic, **kwargs)
            return
        except BufferError:  # the local queue is full: let deliveries drain
            producer.poll(0.1)
