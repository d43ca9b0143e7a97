"""`sqlstream topics`: what `produce` refuses before writing, and how `consume` shows bytes that
are not text, with no broker."""

from __future__ import annotations

import pytest

from sqlstream.errors import UserErrors
from sqlstream.kafka import consume, produce

REFUSED = [
    # (line, the piece of the message)
    ('{"value": 1, "timestamp": "1969-12-31T23:59:59Z"}', "outside Kafka's timestamps"),
    ('{"value": 1, "timestamp": 9223372036854775808}', "outside Kafka's timestamps"),
    ('{"value": "\\ud800"}', "half of a UTF-16 pair"),
    ('{"value": {"s": "\\udfff"}}', "half of a UTF-16 pair"),
    ('{"value": 1, "headers": {"\\ud800": "x"}}', "half of a UTF-16 pair"),
    ('{"value": 1, "partition": 3}', "has no partition 3"),
    ('{"value": "' + "x" * 2000 + '"}', "more than topic 'orders' takes: 1000 bytes"),
]


@pytest.mark.parametrize("line, message", REFUSED, ids=[r[0][:40] for r in REFUSED])
def test_a_record_the_topic_would_refuse_is_located(line: str, message: str) -> None:
    topic = produce.topic_of("orders", 3, 1000)
    with pytest.raises(UserErrors) as info:
        produce.read_checked('{"value": "fine"}\n' + line, "in.jsonl", "json", topic)
    (error,) = info.value.errors
    assert error.location is not None and error.location.line == 2
    assert message in error.message and error.hint


def test_every_kind_of_bad_line_is_reported_in_one_run() -> None:
    text = '{"value": 1,}\n{"value": 1, "partition": 9}\n{"value": 1}\n'
    with pytest.raises(UserErrors) as info:
        produce.read_checked(text, "in.jsonl", "json", produce.topic_of("orders", 1, None))
    assert [e.location.line for e in info.value.errors if e.location] == [1, 2]


def test_the_producers_limit_holds_for_a_topic_that_takes_more() -> None:
    topic = produce.topic_of("orders", 1, 10_000_000)
    assert topic.max_bytes == produce.PRODUCER_MAX_BYTES and topic.limited_by == "producer"


SHOWN = [
    (b"\x00\x00\x00\x00\x01\x02\xff", "AAAAAAEC/w==  (not text; base64)"),  # not UTF-8
    (b"\x00\x00\x00\x00\x01\x02u1", "AAAAAAECdTE=  (not text; base64)"),  # UTF-8 with NULs
    (b"\x1b[2J", "G1sySg==  (not text; base64)"),  # a terminal escape
    (b"a\tb", "a\tb"),
    ("é\u00a0x".encode(), "é\u00a0x"),
]


@pytest.mark.parametrize("data, shown", SHOWN)
def test_bytes_that_are_not_text_are_shown_as_base64(data: bytes, shown: str) -> None:
    assert consume.RAW[0](data) == shown
    assert consume.DISPLAY["text"][0](data) == shown


def test_keys_headers_and_values_are_shown_alike() -> None:
    msg = consume.Message(0, 1, 2**62, b"\xff", b"\x00", [("h", b"\x00"), ("src", b"ok")])
    assert consume.format_text(msg, consume.DISPLAY["json"][0]).splitlines() == [
        f"partition 0  offset 1  {2**62} ms since the epoch",
        "  key      /w==  (not text; base64)",
        "  headers  h=AA==  (not text; base64), src=ok",
        "  value    AA==  (not text; base64)",
    ]
