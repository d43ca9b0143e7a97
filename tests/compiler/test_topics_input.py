"""`sqlstream topics produce` input and `consume` output, with no broker: tables of lines.

A good line -> the record it writes (key, value, headers, partition, timestamp); a bad line ->
the located error (line:col, message, hint); and the JSON that `consume --output json` prints
reads back to the same bytes.
"""

from __future__ import annotations

import typing as t

import pytest

from sqlstream.errors import UserErrors
from sqlstream.kafka import consume, produce

GOOD: list[tuple[str, dict[str, t.Any]]] = [
    (
        '{"key": "u1", "value": {"amount": 5}, "headers": {"src": "test"}}',
        {"key": b"u1", "value": b'{"amount":5}', "headers": [("src", b"test")]},
    ),
    ('{"value": "plain text"}', {"value": b"plain text", "key": None}),
    ('{"value": [1, 2]}', {"value": b"[1,2]"}),
    ('{"value": 5.5, "key": 7}', {"value": b"5.5", "key": b"7"}),
    ('{"value": true}', {"value": b"true"}),
    ('{"value": null}', {"value": None}),  # a tombstone, said explicitly
    ('{"value": "é"}', {"value": "é".encode()}),
    ('{"value": {"s": "é"}}', {"value": '{"s":"é"}'.encode()}),
    ('{"value": 1, "headers": {"a": null}}', {"headers": [("a", None)]}),
    ('{"value": 1, "partition": 2}', {"partition": 2}),
    ('{"value": 1, "timestamp": 1714557600000}', {"timestamp": 1714557600000}),
    ('{"value": 1, "timestamp": "2024-05-01T10:00:00Z"}', {"timestamp": 1714557600000}),
    ('{"value": 1, "timestamp": "2024-05-01T10:00:00"}', {"timestamp": 1714557600000}),
    ('{"value": 1, "timestamp": "2024-05-01T12:00:00.250+02:00"}', {"timestamp": 1714557600250}),
    (
        '{"value_base64": "3q2+7w==", "key_base64": "AA=="}',
        {"value": b"\xde\xad\xbe\xef", "key": b"\0"},
    ),
    ('{"value": 1, "offset": 17}', {"value": b"1"}),  # consume prints it; produce ignores it
]


@pytest.mark.parametrize("line, expected", GOOD, ids=[g[0] for g in GOOD])
def test_a_good_line_is_the_record_it_writes(line: str, expected: dict[str, t.Any]) -> None:
    (record,) = produce.parse(line, "in.jsonl")
    for name, value in expected.items():
        assert getattr(record, name) == value, name


BAD: list[tuple[str, int, str, str]] = [
    # (line, column, message, a piece of the hint)
    ('{"value": 1,, }', 13, "not valid JSON", "one JSON object"),
    ("[1, 2]", 1, "a line must be a JSON object", "--value-only"),
    ('"just a string"', 1, "a line must be a JSON object", "--value-only"),
    ('{"key": "u1"}', 1, "the line has no value", "--value-only"),
    ('{"vlaue": 1}', 2, "unknown field 'vlaue'", "did you mean 'value'?"),
    ('{"value": 1, "headers": ["a"]}', 14, "field 'headers'", '"headers": {"src": "test"}'),
    ('{"value": 1, "headers": {"n": 5}}', 14, "header 'n' must be a string", '"n": "5"'),
    ('{"value": 1, "partition": -1}', 14, "field 'partition'", '"partition": 0'),
    ('{"value": 1, "partition": "0"}', 14, "field 'partition'", '"partition": 0'),
    (
        '{"value": 1, "timestamp": "yesterday"}',
        14,
        "'yesterday' is not an ISO timestamp",
        "2024-05-01",
    ),
    ('{"value": 1, "timestamp": 1.5}', 14, "or an ISO timestamp", "1714557600000"),
    ('{"value": 1, "value_base64": "AA=="}', 14, "both value and value_base64", "keep one"),
    ('{"value_base64": "not base64!"}', 2, "field 'value_base64': is not base64", "base64"),
]


@pytest.mark.parametrize("line, col, message, hint", BAD, ids=[b[0] for b in BAD])
def test_a_bad_line_is_located(line: str, col: int, message: str, hint: str) -> None:
    with pytest.raises(UserErrors) as info:
        produce.parse('{"value": "fine"}\n' + line, "in.jsonl")
    (error,) = info.value.errors
    assert error.location is not None
    assert (error.location.path, error.location.line, error.location.col) == ("in.jsonl", 2, col)
    assert message in error.message
    assert error.hint is not None and hint in error.hint
    shown = error.format()
    assert shown.startswith(f"in.jsonl:2:{col}: error: ") and line in shown and "^" in shown


def test_every_bad_line_is_reported_and_blank_lines_are_skipped() -> None:
    text = '{"value": 1}\n\n{"value": 2,}\n{"value": 3}\n{"vaule": 4}\n'
    with pytest.raises(UserErrors) as info:
        produce.parse(text, "f.jsonl")
    assert [e.location.line for e in info.value.errors if e.location] == [3, 5]
    assert len(produce.parse('{"value": 1}\n\n   \n{"value": 2}\n', "f.jsonl")) == 2


def test_value_only_writes_each_line_as_it_is() -> None:
    records = produce.parse('{"a": 1}\nnot json at all\n  spaced  \n', "-", "value")
    assert [r.value for r in records] == [b'{"a": 1}', b"not json at all", b"  spaced  "]
    assert all(r.key is None for r in records)


CSV_FIELDS = [
    ("5", 5),
    ("-2.5", -2.5),
    ("1e3", 1000.0),
    ("007", "007"),
    ("true", True),
    ("false", False),
    ("", None),
    ("x y", "x y"),
    ("True", "True"),
]


@pytest.mark.parametrize("text, value", CSV_FIELDS)
def test_a_csv_field_becomes_a_json_value(text: str, value: t.Any) -> None:
    assert produce.csv_scalar(text) == value and type(produce.csv_scalar(text)) is type(value)


def test_csv_rows_become_json_objects_and_a_short_row_is_located() -> None:
    records = produce.parse('user,amount\nu1,5\n\n"u,2",2.5\n', "t.csv", "csv")
    assert [r.value for r in records] == [
        b'{"user":"u1","amount":5}',
        b'{"user":"u,2","amount":2.5}',
    ]
    assert [r.where.line for r in records if r.where] == [2, 4]
    with pytest.raises(UserErrors) as info:
        produce.parse("user,amount\nu1\nu2,1,2\nu3,3\n", "t.csv", "csv")
    assert [(e.location.line, e.message) for e in info.value.errors if e.location] == [
        (2, "the row has 1 fields, the header has 2"),
        (3, "the row has 3 fields, the header has 2"),
    ]


def test_a_partition_the_topic_does_not_have_is_located_at_the_field() -> None:
    text = '{"value": 1, "partition": 0}\n{"value": 1, "partition": 3}'
    orders = produce.Topic("orders", 3)
    assert len(produce.read_checked(text.splitlines()[0], "f", "json", orders)) == 1
    with pytest.raises(UserErrors) as info:
        produce.read_checked(text, "f", "json", orders)
    (error,) = info.value.errors
    assert error.location is not None and (error.location.line, error.location.col) == (2, 14)
    assert error.message == "topic 'orders' has no partition 3" and "0 to 2" in (error.hint or "")


STARTS = [
    ("earliest", consume.Start("earliest")),
    ("LATEST", consume.Start("latest")),
    ("42", consume.Start("offset", 42)),
    ("2024-05-01T10:00:00Z", consume.Start("timestamp", 1714557600000)),
]


@pytest.mark.parametrize("text, start", STARTS)
def test_from_forms(text: str, start: consume.Start) -> None:
    assert consume.parse_start(text) == start


@pytest.mark.parametrize("text", ["-1", "first", "2024-13-01", ""])
def test_a_bad_from_says_the_forms(text: str) -> None:
    with pytest.raises(Exception) as info:
        consume.parse_start(text)
    assert "is not a place in a topic" in str(info.value) and "ISO timestamp" in str(info.value)


def test_start_offsets_per_form() -> None:
    low, high = {0: 0, 1: 10}, {0: 5, 1: 20}
    assert consume.start_offsets(consume.Start("earliest"), low, high, {}) == {0: 0, 1: 10}
    assert consume.start_offsets(consume.Start("latest"), low, high, {}) == {0: 5, 1: 20}
    assert consume.start_offsets(consume.Start("offset", 7), low, high, {}) == {0: 5, 1: 10}
    at = consume.start_offsets(consume.Start("timestamp", 1), low, high, {0: 3, 1: -1})
    assert at == {0: 3, 1: 20}  # no record at or after the time: nothing to read there


MESSAGES = [
    consume.Message(0, 1, 1714557600000, b"u1", b'{"amount":5}', [("src", b"test")]),
    consume.Message(1, 2, 5, None, b'{"amount": 5}', []),  # not compact: kept as text
    consume.Message(0, 3, 6, b"k", b"plain", [("h", None)]),
    consume.Message(0, 4, 7, b"k", None, []),
    consume.Message(0, 5, 8, b"\xff", b"\xde\xad", []),
    consume.Message(0, 6, 9, b"7", b"5.50", []),
    consume.Message(0, 7, 9, None, "é".encode(), []),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: repr(m.value))
def test_consume_json_reads_back_to_the_same_record(msg: consume.Message) -> None:
    import json

    line = json.dumps(consume.record_json(msg), ensure_ascii=False)
    (record,) = produce.parse(line, "-")
    assert (record.key, record.value, record.headers) == (msg.key, msg.value, msg.headers)
    assert (record.partition, record.timestamp) == (msg.partition, msg.timestamp)


def test_a_compact_json_value_is_printed_as_json() -> None:
    assert consume.record_json(MESSAGES[0])["value"] == {"amount": 5}
    assert consume.record_json(MESSAGES[1])["value"] == '{"amount": 5}'


def test_text_display_by_stream_format() -> None:
    msg = consume.Message(0, 1, 1714557600000, b"u1", b'{"amount":5}', [("src", b"test")])
    json_show = consume.DISPLAY["json"][0]
    text = consume.format_text(msg, json_show)
    assert text.splitlines() == [
        "partition 0  offset 1  2024-05-01T10:00:00.000Z",
        "  key      u1",
        "  headers  src=test",
        "  value    {",
        '             "amount": 5',
        "           }",
    ]
    assert consume.DISPLAY["raw"][0](b"\x01\xff") == "01ff"
    assert consume.DISPLAY["avro"][0](b"\x01\xff") == "Af8="
    assert "not valid JSON" in json_show(b"{oops")
    tombstone = consume.format_text(consume.Message(0, 2, None, None, None, []), json_show)
    assert "(null: a tombstone)" in tombstone and "(no timestamp)" in tombstone
