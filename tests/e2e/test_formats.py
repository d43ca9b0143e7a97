"""Every non-JSON format through Kafka: SQL -> compile -> run -> topic, exact bytes asserted.

``test_lower_spark.py`` checks the lowering on batch DataFrames; here the same expressions run
as streaming queries against a real broker (``Pipeline``, ``available_now``), from records
produced with the Kafka client to records read back with it. Two projects, so two Spark runs
(about 10 s together, once the broker and Spark are up):

- the text formats: CSV in -> JSON out (with ``csv_delimiter = ';'`` and a DLQ), JSON in -> CSV
  out, text in -> text out, raw in (with a raw BINARY key) -> raw out, and ``VALUE <expr>``
  giving a string (its UTF-8 bytes) and a binary (as is);
- Avro: records written by an independent Avro implementation (fastavro, schemaless: plain Avro
  binary, not the Schema Registry wire format) are read with ``format = 'avro'``, transformed,
  written with ``FORMAT avro`` and decoded again with fastavro; an undecodable record is skipped
  and counted.

Every topic has one partition and every query is stateless, so each output topic holds its
records in input order: the assertions compare exact lists.
"""

from __future__ import annotations

import io
import json
import typing as t
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pipeline import Pipeline

from sqlstream.local.client import Record, consume_all, create_topic, produce

pytestmark = pytest.mark.e2e


def read(bootstrap: str, topic: str) -> list[Record]:
    return consume_all(bootstrap, topic, missing_ok=True)


def j(**fields: t.Any) -> bytes:
    """The JSON Spark's ``to_json`` writes: fields in order, no blanks, non-ASCII as is."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def malformed_count(queries: t.Sequence[t.Any], query: str, stream: str) -> int:
    """How many malformed records query ``query`` counted in ``stream`` over all its batches."""
    (q,) = [q for q in queries if q.name == query]
    total = 0
    for progress in q.recentProgress:
        metrics = (progress.observedMetrics or {}).get(f"{stream}.counts")
        if metrics is not None:
            total += int(metrics["skipped"] if "skipped" in metrics else metrics["dlq"])
    return total


# --------------------------------------------------------------------------------------------
# csv, text, raw and VALUE: one project, one run (a module fixture), one test per format
# --------------------------------------------------------------------------------------------

CSV_GOOD = [
    # the delimiter is ';', so a ',' is plain text; a quoted field may hold the delimiter
    (b"o1", "o1;3;2.5;hello, world;2024-01-01T10:00:00Z".encode()),
    (b"o2", 'o2;;0.125;"a;b";2024-02-29T23:59:59.5Z'.encode()),  # empty INT field -> null
    (None, "o3;-7;1e3;\u00e9t\u00e9;2024-01-01T10:00:00+02:00".encode()),  # UTF-8, an offset
]
CSV_BAD = [
    # too few fields, and a field that is not a DOUBLE: each with its original key and headers
    (b"bad-1", b"o4;1;2.0", [("trace", b"t-4")]),
    (b"bad-2", b"o5;1;abc;x;2024-01-01T00:00:00Z", None),
]

JSON_IN = [
    j(id="p1", qty=2, price=1.25, note="plain", ts="2024-01-01T10:00:00Z"),
    j(id="p2", qty=None, price=3.0, note='say "hi", bye', ts="2024-06-01T00:00:00.123Z"),
    j(id="p3", qty=-1, price=0.5, note=None, ts=None),
]

TEXT_IN: list[tuple[bytes | None, bytes | None]] = [
    (b"k1", "hello".encode()),
    (None, "gr\u00fc\u00dfe \U0001f600".encode()),  # multi-byte UTF-8, a null key
    (b"k3", b""),  # an empty text is a valid (empty) line
    (b"k4", None),  # a tombstone: not an event of the stream
]
# Invalid UTF-8 in a text value and a text key: docs/lowering.md says both decode as Kafka's
# StringDeserializer does (each malformed sequence becomes U+FFFD).
TEXT_INVALID_IN = [(b"key \xc3(", b"bad \xff byte")]

RAW_IN: list[tuple[bytes | None, bytes | None]] = [
    (b"\x00\x01", b"\x00\xff\xfe\x80\xc3\x28 not utf-8 \r\n"),
    (b"\xff\xfe\xfd", bytes(range(256))),
    (None, b"null key"),
    (b"", b""),  # an empty key and an empty value stay empty, not null
    (b"\x80", None),  # a tombstone: dropped
]
RAW_LIVE = [(k, v) for k, v in RAW_IN if v is not None]


@dataclass
class Run:
    bootstrap: str
    topic: dict[str, str]
    queries: list[t.Any]
    csv_stored: list[Record]

    def kv(self, name: str) -> list[tuple[bytes | None, bytes | None]]:
        """(key, value) of each record of topic ``name``, in offset order."""
        return [(r.key, r.value) for r in read(self.bootstrap, self.topic[name])]


@pytest.fixture(scope="module")
def text_formats(
    kafka_bootstrap: str, spark: t.Any, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """One project for csv, json -> csv, text, raw and VALUE, run once with available_now."""
    names = [
        "csv-in", "csv-json-out", "csv-dlq",
        "json-in", "json-csv-out", "json-csv-pipe-out",
        "text-in", "text-out", "text-value-out", "text-invalid-in", "text-invalid-out",
        "raw-in", "raw-out", "raw-keyed-out", "raw-value-out",
    ]  # fmt: skip
    run_id = uuid.uuid4().hex[:8]
    topic = {n: f"formats-{run_id}-{n}" for n in names}
    for name in topic.values():
        create_topic(kafka_bootstrap, name)
    produce(
        kafka_bootstrap,
        topic["csv-in"],
        [CSV_GOOD[0], CSV_BAD[0], CSV_GOOD[1], CSV_BAD[1], CSV_GOOD[2]],
    )
    produce(kafka_bootstrap, topic["json-in"], [(None, v) for v in JSON_IN])
    produce(kafka_bootstrap, topic["text-in"], TEXT_IN)
    produce(kafka_bootstrap, topic["text-invalid-in"], TEXT_INVALID_IN)
    produce(kafka_bootstrap, topic["raw-in"], RAW_IN)
    csv_stored = read(kafka_bootstrap, topic["csv-in"])

    queries = Pipeline.create(
        tmp_path_factory.mktemp("formats"),
        kafka_bootstrap,
        f"""
        CREATE STREAM orders_csv (
            id     STRING,
            qty    INT,
            amount DOUBLE,
            note   STRING,
            ts     TIMESTAMP
        ) FROM KAFKA (topic = '{topic["csv-in"]}', starting_offsets = 'earliest',
                      format = 'csv', csv_delimiter = ';',
                      on_error = 'dlq', dlq_topic = '{topic["csv-dlq"]}');

        INSERT INTO KAFKA TOPIC '{topic["csv-json-out"]}' KEY id WITH (name = 'csv_to_json')
        SELECT id, qty, amount * 2 AS amount2, note, ts FROM orders_csv;

        CREATE STREAM orders_json (
            id STRING, qty INT, price DOUBLE, note STRING, ts TIMESTAMP
        ) FROM KAFKA (topic = '{topic["json-in"]}', starting_offsets = 'earliest');

        INSERT INTO KAFKA TOPIC '{topic["json-csv-out"]}' FORMAT csv WITH (name = 'json_to_csv')
        SELECT id, qty, price * 2 AS price2, note, ts FROM orders_json;

        INSERT INTO KAFKA TOPIC '{topic["json-csv-pipe-out"]}' FORMAT csv
            WITH (name = 'json_to_csv_pipe', csv_delimiter = '|')
        SELECT id, note FROM orders_json;

        CREATE STREAM lines (k STRING KEY, line STRING)
        FROM KAFKA (topic = '{topic["text-in"]}', starting_offsets = 'earliest', format = 'text');

        INSERT INTO KAFKA TOPIC '{topic["text-out"]}' FORMAT text WITH (name = 'text_to_text')
        SELECT upper(line) AS shout FROM lines;

        INSERT INTO KAFKA TOPIC '{topic["text-value-out"]}'
            KEY k VALUE concat('\u00bb ', line, ' #', n) WITH (name = 'text_value')
        SELECT k, line, length(line) AS n FROM lines;

        CREATE STREAM invalid_lines (k STRING KEY, line STRING)
        FROM KAFKA (topic = '{topic["text-invalid-in"]}', starting_offsets = 'earliest',
                    format = 'text');

        INSERT INTO KAFKA TOPIC '{topic["text-invalid-out"]}' KEY k VALUE line FORMAT text
            WITH (name = 'text_invalid')
        SELECT k, line FROM invalid_lines;

        CREATE STREAM blobs (k BINARY KEY, payload BINARY)
        FROM KAFKA (topic = '{topic["raw-in"]}', starting_offsets = 'earliest',
                    format = 'raw', key_format = 'raw');

        INSERT INTO KAFKA TOPIC '{topic["raw-out"]}' FORMAT raw WITH (name = 'raw_to_raw')
        SELECT payload FROM blobs;

        INSERT INTO KAFKA TOPIC '{topic["raw-keyed-out"]}' KEY k VALUE payload FORMAT raw
            WITH (name = 'raw_keyed')
        SELECT k, payload FROM blobs;

        INSERT INTO KAFKA TOPIC '{topic["raw-value-out"]}' KEY k VALUE concat(X'00FF', payload)
            WITH (name = 'raw_value')
        SELECT k, payload FROM blobs;
        """,
    ).run(spark)
    return Run(kafka_bootstrap, topic, queries, csv_stored)


def test_csv_in_json_out(text_formats: Run) -> None:
    """csv_delimiter ';': a ',' is text, a quoted field may hold ';', an empty INT is null,
    timestamps are read in UTC unless they carry an offset and written as ISO-8601 UTC."""
    assert text_formats.kv("csv-json-out") == [
        (b"o1", j(id="o1", qty=3, amount2=5.0, note="hello, world", ts="2024-01-01T10:00:00.000Z")),
        (b"o2", j(id="o2", qty=None, amount2=0.25, note="a;b", ts="2024-02-29T23:59:59.500Z")),
        (b"o3", j(id="o3", qty=-7, amount2=2000.0, note="\u00e9t\u00e9",
                  ts="2024-01-01T08:00:00.000Z")),
    ]  # fmt: skip


def test_malformed_csv_goes_to_the_dlq_with_its_original_bytes(text_formats: Run) -> None:
    dead = read(text_formats.bootstrap, text_formats.topic["csv-dlq"])
    assert [(r.key, r.value) for r in dead] == [(k, v) for k, v, _ in CSV_BAD]
    originals = {r.key: r for r in text_formats.csv_stored}
    reasons = []
    for r in dead:
        original = originals[r.key]
        n = len(original.headers)
        assert r.headers[:n] == original.headers
        added = dict(r.headers[n:])
        reasons.append(added.pop("sqlstream.error.reason"))
        assert added == {
            "sqlstream.error.topic": text_formats.topic["csv-in"].encode(),
            "sqlstream.error.partition": b"0",
            "sqlstream.error.offset": str(original.offset).encode(),
            "sqlstream.error.query": b"orders_csv_dlq",
        }
    assert dead[0].headers[0] == ("trace", b"t-4")
    assert reasons == [
        b"value does not have exactly 5 csv fields",
        b'field amount cannot be converted to DOUBLE: "abc"',
    ]
    assert malformed_count(text_formats.queries, "csv_to_json", "orders_csv") == 2


def test_json_in_csv_out(text_formats: Run) -> None:
    """',' by default, '|' with csv_delimiter; null is an empty field; Spark quotes a field
    holding the separator or a quote and escapes a quote with a backslash (its CSV default,
    not RFC 4180's doubled quote)."""
    assert text_formats.kv("json-csv-out") == [
        (None, b"p1,2,2.5,plain,2024-01-01T10:00:00.000Z"),
        (None, b'p2,,6.0,"say \\"hi\\", bye",2024-06-01T00:00:00.123Z'),
        (None, b"p3,-1,1.0,,"),
    ]
    assert text_formats.kv("json-csv-pipe-out") == [
        (None, b"p1|plain"),
        (None, b'p2|"say \\"hi\\", bye"'),
        (None, b"p3|"),
    ]


def test_text_in_text_out(text_formats: Run) -> None:
    """UTF-8 both ways; an empty line is a line; the tombstone is not. No KEY: a null key."""
    assert text_formats.kv("text-out") == [
        (None, b"HELLO"),
        (None, "GR\u00dcSSE \U0001f600".encode()),
        (None, b""),
    ]


def test_text_with_invalid_utf8_decodes_to_replacement_characters(text_formats: Run) -> None:
    assert text_formats.kv("text-invalid-out") == [
        ("key \ufffd(".encode(), "bad \ufffd byte".encode())
    ]


def test_raw_in_raw_out_keeps_every_byte(text_formats: Run) -> None:
    """Arbitrary bytes, empty stays empty; the tombstone is dropped; no KEY: a null key."""
    assert text_formats.kv("raw-out") == [(None, v) for _, v in RAW_LIVE]


def test_raw_binary_key_is_written_back_unchanged(text_formats: Run) -> None:
    """key_format = 'raw' gives the BINARY key; KEY k writes it as it is (null stays null,
    empty stays empty). FORMAT raw writes one column, so the value is VALUE payload."""
    assert text_formats.kv("raw-keyed-out") == RAW_LIVE


def test_value_expression_overrides_the_value(text_formats: Run) -> None:
    # A string expression: its UTF-8 bytes, in place of the json FORMAT would have written.
    # The text key (key_format 'text') written back by KEY k; a null key stays null.
    assert text_formats.kv("text-value-out") == [
        (b"k1", "\u00bb hello #5".encode()),
        (None, "\u00bb gr\u00fc\u00dfe \U0001f600 #7".encode()),
        (b"k3", "\u00bb  #0".encode()),
    ]
    # A binary expression: the bytes as they are.
    assert text_formats.kv("raw-value-out") == [(k, b"\x00\xff" + v) for k, v in RAW_LIVE]


# --------------------------------------------------------------------------------------------
# Avro: written and read back by fastavro, an independent implementation
# --------------------------------------------------------------------------------------------

ORDER_SCHEMA = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "qty", "type": "int"},
        {"name": "amount", "type": "double"},
        {"name": "big", "type": "long"},
        {"name": "paid", "type": "boolean"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "blob", "type": "bytes"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    ],
}
SUMMARY_SCHEMA = {
    "type": "record",
    "name": "Summary",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "total", "type": "double"},
        {"name": "big_plus", "type": "long"},
        {"name": "paid", "type": "boolean"},
        {"name": "note", "type": ["null", "string"]},
        {"name": "blob", "type": "bytes"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    ],
}

AVRO_ORDERS: list[dict[str, t.Any]] = [
    {
        "id": "a1", "qty": 3, "amount": 2.5, "big": 2**40, "paid": True, "note": "caf\u00e9",
        "blob": b"\x00\xff", "ts": datetime(2024, 1, 1, 10, 0, 0, 1, tzinfo=timezone.utc),
    },
    {
        "id": "a2", "qty": -2, "amount": 0.1, "big": -(2**62), "paid": False, "note": None,
        "blob": b"", "ts": datetime(1970, 1, 1, tzinfo=timezone.utc),
    },
    {
        "id": "a3", "qty": 0, "amount": 1e300, "big": 0, "paid": True, "note": "",
        "blob": bytes(range(256)), "ts": datetime(2024, 2, 29, 23, 59, 59, tzinfo=timezone.utc),
    },
]  # fmt: skip
# Not Avro for ORDER_SCHEMA: the string length says 10 bytes and 2 follow.
NOT_AVRO = b"\x14ab"


def avro_bytes(schema: dict[str, t.Any], record: dict[str, t.Any]) -> bytes:
    import fastavro

    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def from_avro_bytes(schema: dict[str, t.Any], data: bytes) -> dict[str, t.Any]:
    import fastavro

    stream = io.BytesIO(data)
    parsed = fastavro.parse_schema(schema)
    record = fastavro.schemaless_reader(stream, parsed, parsed)
    assert stream.read() == b"", "trailing bytes after the Avro record"
    return t.cast(dict[str, t.Any], record)


def test_avro_in_transform_avro_out(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    pytest.importorskip("fastavro")
    src, out = f"{topic_name}-in", f"{topic_name}-out"
    for name in (src, out):
        create_topic(kafka_bootstrap, name)
    encoded = [avro_bytes(ORDER_SCHEMA, r) for r in AVRO_ORDERS]
    produce(
        kafka_bootstrap,
        src,
        [(b"k1", encoded[0]), (b"bad", NOT_AVRO), (b"k2", encoded[1]), (b"k3", encoded[2])],
    )
    order_schema = json.dumps(ORDER_SCHEMA)
    summary_schema = json.dumps(SUMMARY_SCHEMA)

    queries = Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        f"""
        CREATE STREAM orders (
            id STRING, qty INT, amount DOUBLE, big BIGINT, paid BOOLEAN, note STRING,
            blob BINARY, ts TIMESTAMP
        ) FROM KAFKA (topic = '{src}', starting_offsets = 'earliest', on_error = 'skip',
                      format = 'avro', avro_schema = '{order_schema}');

        INSERT INTO KAFKA TOPIC '{out}' KEY id FORMAT avro
            WITH (name = 'avro_to_avro', avro_schema = '{summary_schema}')
        SELECT id, qty * amount AS total, big + 1 AS big_plus, NOT paid AS paid,
               upper(note) AS note, concat(blob, X'2A') AS blob,
               ts + INTERVAL '1' SECOND AS ts
        FROM orders;
        """,
    ).run(spark)

    got = read(kafka_bootstrap, out)
    assert [r.key for r in got] == [b"a1", b"a2", b"a3"]
    decoded = [from_avro_bytes(SUMMARY_SCHEMA, r.value or b"") for r in got]
    assert decoded == [
        {
            "id": o["id"],
            "total": o["qty"] * o["amount"],
            "big_plus": o["big"] + 1,
            "paid": not o["paid"],
            "note": o["note"].upper() if o["note"] is not None else None,
            "blob": o["blob"] + b"*",
            "ts": o["ts"] + timedelta(seconds=1),
        }
        for o in AVRO_ORDERS
    ]
    # Byte for byte what fastavro writes for the same record.
    assert [r.value for r in got] == [avro_bytes(SUMMARY_SCHEMA, d) for d in decoded]
    assert malformed_count(queries, "avro_to_avro", "orders") == 1
