"""``sqlstream topics produce``: lines of a file (or stdin) -> records on a topic.

A line is read by one of three readers (``READERS``): a JSON object whose fields are those of the
table ``FIELDS`` (what ``topics consume --output json`` prints, so the two round-trip), the value
itself (``--value-only``), or a CSV row under a header line (``--format csv``). Every line is
checked before anything is written, and every bad line is reported at its place, so that a file is
written whole or not at all.
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
        return value.encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


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
    return [(k, None if v is None else v.encode()) for k, v in value.items()]


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


def _timestamp(value: t.Any) -> int:
    if isinstance(value, str):
        return parse_timestamp(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FieldError(
            "must be milliseconds since the epoch or an ISO timestamp",
            'e.g. "timestamp": 1714557600000 or "timestamp": "2024-05-01T10:00:00Z"',
        )
    return value


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
    rows = csv.reader(io.StringIO("\n".join(ln.text for ln in data)))
    header = next(rows)
    records: list[Record] = []
    errors: list[UserError] = []
    for row in rows:
        line = data[
            rows.line_num - 1
        ]  # the row's last physical line (a quoted field may span lines)
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
    return records, errors


READERS: dict[str, t.Callable[[Line], Record]] = {"json": read_json_line, "value": read_value_line}


def parse(text: str, path: str, reader: str = "json") -> list[Record]:
    """Every record of ``text``; ``UserErrors`` with every bad line. Blank lines are skipped."""
    lines = lines_of(text, path)
    if reader == "csv":
        records, errors = read_csv(lines)
    else:
        records, errors = [], []
        for line in lines:
            if not line.text.strip():
                continue
            try:
                records.append(READERS[reader](line))
            except UserError as e:
                errors.append(e)
    if errors:
        raise UserErrors(errors)
    return records


def check_partitions(records: t.Sequence[Record], topic: str, partitions: int) -> None:
    """A record's partition must exist: say so at the line, for every such line."""
    errors = [
        UserError(
            f"topic '{topic}' has no partition {r.partition}",
            r.partition_where or r.where,
            f"it has {partitions} partition{'s' if partitions != 1 else ''}: 0 to {partitions - 1}",
        )
        for r in records
        if r.partition is not None and r.partition >= partitions
    ]
    if errors:
        raise UserErrors(errors)


# --- writing ------------------------------------------------------------------------------------


def write(
    cfg: ClientConfig, topic: str, records: t.Sequence[Record], timeout: float = 60
) -> dict[int, int]:
    """Write ``records`` in order and wait for every acknowledgement; records per partition."""
    producer, events = make("Producer", cfg, **{"linger.ms": 20, "enable.idempotence": True})
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
