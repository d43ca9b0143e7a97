"""Golden text of representative lowerings (no JVM). ``tests/e2e/test_lower_spark.py`` runs
these same forms on Spark; a change here should come with a run of that file."""

from __future__ import annotations

import pytest

from sqlstream.compiler.lower import (
    count_exprs,
    decode,
    dlq_exprs,
    dlq_filter,
    encode,
    error_filter,
    last_header_sql,
    quote_ident,
    sql_string,
    watermark_delay,
)
from sqlstream.compiler.plan import Field, StreamColumn

# ---- watermark_delay -------------------------------------------------------------------------

DELAYS = [
    ("INTERVAL '10' MINUTES", "10 minutes"),
    ("INTERVAL 10 MINUTES", "10 minutes"),
    ("interval '10' minute", "10 minutes"),
    ("INTERVAL '1' HOUR", "1 hour"),
    ("INTERVAL '30 seconds'", "30 seconds"),
    ("INTERVAL '1 hour 30 minutes'", "1 hour 30 minutes"),
    ("INTERVAL 1 HOUR 30 MINUTES", "1 hour 30 minutes"),
    ("INTERVAL '0.5' SECONDS", "0.5 seconds"),
    ("INTERVAL 2 DAYS", "2 days"),
    ("INTERVAL 500 MILLISECONDS", "500 milliseconds"),
]


@pytest.mark.parametrize(("sql", "expected"), DELAYS)
def test_watermark_delay(sql: str, expected: str) -> None:
    assert watermark_delay(sql) == expected


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("INTERVAL '1' MONTH", "'MONTH'"),
        ("INTERVAL 1 YEAR", "'YEAR'"),
        ("INTERVAL '-10' MINUTES", "negative"),
        ("INTERVAL '1:30' HOUR TO MINUTE", "sum of units"),
        ("10 minutes", "INTERVAL literal"),
        ("INTERVAL x", "cannot read"),
        ("INTERVAL '10 minutes", "cannot read"),
        ("INTERVAL", "INTERVAL literal"),
        ("current_timestamp() - INTERVAL 1 HOUR", "INTERVAL literal"),
    ],
)
def test_watermark_delay_errors(sql: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        watermark_delay(sql)


# ---- quoting ---------------------------------------------------------------------------------


def test_quoting() -> None:
    assert quote_ident("my col") == "`my col`"
    assert quote_ident("a`b") == "`a``b`"
    assert sql_string("it's a \\ path") == "'it\\'s a \\\\ path'"
    assert last_header_sql("trace-id") == (
        "try_element_at(filter(`headers`, h -> h.key = 'trace-id'), -1).value"
    )


# ---- decode ----------------------------------------------------------------------------------


def test_decode_json_golden() -> None:
    d = decode(
        [
            StreamColumn("order_id", "STRING"),
            StreamColumn("user_id", "STRING", role="key"),
            StreamColumn("amount", "DOUBLE"),
            StreamColumn("kafka_ts", "TIMESTAMP", role="metadata", ref="timestamp"),
        ],
        "json",
        "text",
        {},
    )
    assert d.parse_exprs == [
        "*",
        (
            "from_json(CAST(`value` AS STRING), "
            "'`order_id` STRING, `amount` DOUBLE, `__sqlstream_corrupt` STRING', "
            "map('mode', 'PERMISSIVE', 'columnNameOfCorruptRecord', '__sqlstream_corrupt', "
            "'timeZone', 'UTC')) AS `__sqlstream_value`"
        ),
        "(`value` IS NULL OR CAST(`value` AS STRING) = 'null') AS `__sqlstream_is_tombstone`",
    ]
    assert d.output_exprs == [
        "`__sqlstream_value`.`order_id` AS `order_id`",
        "make_valid_utf8(CAST(`key` AS STRING)) AS `user_id`",
        "`__sqlstream_value`.`amount` AS `amount`",
        "`timestamp` AS `kafka_ts`",
    ]
    assert d.error_expr == (
        "NOT `__sqlstream_is_tombstone` AND (`value` IS NOT NULL AND (`__sqlstream_value` IS NULL "
        "OR `__sqlstream_value`.`__sqlstream_corrupt` IS NOT NULL))"
    )
    assert d.reason_expr.startswith(
        "CASE WHEN `value` IS NOT NULL AND (`__sqlstream_value` IS NULL OR "
        "`__sqlstream_value`.`__sqlstream_corrupt` IS NOT NULL) THEN CASE "
        "WHEN trim(CAST(`value` AS STRING)) = '' THEN 'empty value' "
        "WHEN json_object_keys(CAST(`value` AS STRING)) IS NULL AND "
        "get_json_object(CAST(`value` AS STRING), '$') IS NULL THEN 'not valid JSON' "
        "WHEN json_object_keys(CAST(`value` AS STRING)) IS NULL THEN 'JSON, but not an object' "
        "WHEN get_json_object(CAST(`value` AS STRING), '$[\\'amount\\']') IS NOT NULL AND "
        "`__sqlstream_value`.`amount` IS NULL THEN "
        "concat('field amount cannot be converted to DOUBLE: ', "
    )
    assert d.reason_expr.endswith(
        "ELSE 'not valid JSON' END ELSE 'record cannot be decoded as json' END"
    )


def test_decode_json_key_reasons_name_the_key() -> None:
    d = decode([StreamColumn("id", "INT", role="key")], "raw", "json", {})
    assert "THEN 'empty key' " in d.reason_expr
    assert "THEN 'key: not valid JSON' " in d.reason_expr
    assert "THEN 'key: JSON, but not an object' " in d.reason_expr
    assert "concat('key field id cannot be converted to INT: ', " in d.reason_expr


def test_decode_text_key_and_typed_header_golden() -> None:
    d = decode(
        [
            StreamColumn("line", "STRING"),
            StreamColumn("id", "INT", role="key"),
            StreamColumn("retries", "INT", role="header", ref="retries"),
            StreamColumn("value", "BINARY", role="headers"),  # any user name works
        ],
        "text",
        "text",
        {},
    )
    assert d.parse_exprs == [
        "*",
        (
            "try_element_at(filter(`headers`, h -> h.key = 'retries'), -1).value "
            "AS `__sqlstream_header_0`"
        ),
        "(`value` IS NULL) AS `__sqlstream_is_tombstone`",
    ]
    assert d.output_exprs == [
        "make_valid_utf8(CAST(`value` AS STRING)) AS `line`",
        "try_cast(make_valid_utf8(CAST(`key` AS STRING)) AS INT) AS `id`",
        "try_cast(make_valid_utf8(CAST(`__sqlstream_header_0` AS STRING)) AS INT) AS `retries`",
        "`headers` AS `value`",
    ]
    assert d.error_expr == (
        "NOT `__sqlstream_is_tombstone` AND ("
        "(`key` IS NOT NULL AND "
        "try_cast(make_valid_utf8(CAST(`key` AS STRING)) AS INT) IS NULL) OR "
        "(`__sqlstream_header_0` IS NOT NULL AND "
        "try_cast(make_valid_utf8(CAST(`__sqlstream_header_0` AS STRING)) AS INT) IS NULL))"
    )


def test_decode_raw_has_nothing_to_fail() -> None:
    d = decode([StreamColumn("payload", "BINARY")], "raw", "raw", {})
    assert d.error_expr == "false"
    assert d.output_exprs == ["`value` AS `payload`"]
    assert error_filter(d, "fail", "s") == "NOT `__sqlstream_is_tombstone`"


def test_decode_avro_uses_a_reader_schema_with_an_ok_flag() -> None:
    schema = '{"type":"record","name":"r","fields":[{"name":"a","type":"string"}]}'
    d = decode([StreamColumn("a", "STRING")], "avro", "text", {"avro_schema": schema})
    assert d.parse_exprs[1] == (
        "from_avro(`value`, '" + schema + "', map('mode', 'PERMISSIVE', 'avroSchema', "
        '\'{"type":"record","name":"r","fields":[{"name":"a","type":"string"},'
        '{"name":"__sqlstream_ok","type":"boolean","default":true}]}\')) '
        "AS `__sqlstream_value`"
    )
    assert d.output_exprs == ["try_cast(`__sqlstream_value`.`a` AS STRING) AS `a`"]


@pytest.mark.parametrize(
    ("columns", "value_format", "key_format", "options", "message"),
    [
        ([StreamColumn("a", "STRING")], "xml", "text", {}, "unknown format"),
        ([StreamColumn("a", "STRING")], "json", "avro", {}, "unknown key_format"),
        (
            [StreamColumn("a", "STRING"), StreamColumn("b", "STRING")],
            "text",
            "text",
            {},
            "exactly one value column",
        ),
        ([StreamColumn("a", "STRING")], "raw", "text", {}, "BINARY"),
        (
            [StreamColumn("a", "STRING", role="key"), StreamColumn("b", "INT", role="key")],
            "json",
            "text",
            {},
            "exactly one KEY column",
        ),
        ([StreamColumn("a", "STRING")], "avro", "text", {}, "avro_schema"),
        (
            [StreamColumn("b", "STRING")],
            "avro",
            "text",
            {"avro_schema": '{"type":"record","name":"r","fields":[{"name":"a","type":"int"}]}'},
            "not a field",
        ),
        ([StreamColumn("__sqlstream_x", "STRING")], "json", "text", {}, "reserved"),
        ([StreamColumn("w", "STRUCT<a: INT>")], "csv", "text", {}, "plain columns"),
        ([StreamColumn("m", "STRING", role="metadata", ref="key")], "json", "text", {}, "METADATA"),
    ],
)
def test_decode_errors(
    columns: list[StreamColumn],
    value_format: str,
    key_format: str,
    options: dict[str, str],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        decode(columns, value_format, key_format, options)


# ---- on_error --------------------------------------------------------------------------------


def test_error_filters() -> None:
    d = decode([StreamColumn("n", "INT")], "text", "text", {})
    err = (
        "NOT `__sqlstream_is_tombstone` AND (`value` IS NOT NULL AND "
        "try_cast(make_valid_utf8(CAST(`value` AS STRING)) AS INT) IS NULL)"
    )
    assert d.error_expr == err
    assert error_filter(d, "skip", "s") == f"NOT `__sqlstream_is_tombstone` AND NOT ({err})"
    assert error_filter(d, "dlq", "s") == error_filter(d, "skip", "s")
    assert error_filter(d, "fail", "nums") == (
        f"NOT `__sqlstream_is_tombstone` AND CASE WHEN {err} THEN raise_error(concat("
        "'malformed record in stream nums at ', `topic`, '/', CAST(`partition` AS STRING), '@', "
        f"CAST(`offset` AS STRING), ': ', {d.reason_expr})) ELSE true END"
    )
    with pytest.raises(ValueError, match="on_error"):
        error_filter(d, "ignore", "s")


TOMBSTONE = "`__sqlstream_is_tombstone`"


def test_tombstone_policies() -> None:
    d = decode([StreamColumn("n", "INT")], "text", "text", {})
    err = d.error_expr
    # skip (the default) and dlq drop a tombstone from the stream; fail raises, naming it.
    assert error_filter(d, "skip", "s", "skip") == error_filter(d, "skip", "s")
    assert error_filter(d, "skip", "s", "dlq") == error_filter(d, "skip", "s")
    assert error_filter(d, "skip", "nums", "fail") == (
        f"CASE WHEN {TOMBSTONE} THEN raise_error(concat("
        "'tombstone (null value) in stream nums at ', `topic`, '/', CAST(`partition` AS STRING), "
        f"'@', CAST(`offset` AS STRING))) ELSE true END AND NOT ({err})"
    )
    with pytest.raises(ValueError, match="on_tombstone"):
        error_filter(d, "skip", "s", "drop")
    # What the dead-letter query selects: each policy that says dlq adds its records.
    assert dlq_filter(d, "dlq") == err
    assert dlq_filter(d, "dlq", "dlq") == f"({err}) OR ({TOMBSTONE})"
    assert dlq_filter(d, "skip", "dlq") == TOMBSTONE
    assert dlq_filter(d, "fail", "skip") is None


def test_counts_name_where_malformed_records_went() -> None:
    d = decode([StreamColumn("n", "INT")], "text", "text", {})
    tombstones = (f"count_if({TOMBSTONE})", "tombstones")
    assert count_exprs(d, "skip") == [(f"count_if({d.error_expr})", "skipped"), tombstones]
    assert count_exprs(d, "dlq") == [(f"count_if({d.error_expr})", "dlq"), tombstones]
    assert count_exprs(d, "fail")[0][1] == "skipped"


def test_dlq_exprs() -> None:
    d = decode([StreamColumn("n", "INT")], "text", "text", {})
    key, value, headers = dlq_exprs(d, "nums", "nums_dlq")
    assert (key, value) == ("`key` AS `key`", "`value` AS `value`")
    assert headers.startswith(
        "concat(coalesce(`headers`, CAST(array() AS ARRAY<STRUCT<key: STRING, value: BINARY>>)), "
        "array(named_struct('key', 'sqlstream.error.reason', 'value', encode(CASE "
    )
    assert headers.endswith(
        "named_struct('key', 'sqlstream.error.topic', 'value', encode(`topic`, 'UTF-8')), "
        "named_struct('key', 'sqlstream.error.partition', 'value', "
        "encode(CAST(`partition` AS STRING), 'UTF-8')), "
        "named_struct('key', 'sqlstream.error.offset', 'value', "
        "encode(CAST(`offset` AS STRING), 'UTF-8')), "
        "named_struct('key', 'sqlstream.error.query', 'value', encode('nums_dlq', 'UTF-8')))) "
        "AS `headers`"
    )
    # With on_tombstone = 'dlq' a tombstone's reason comes first (its value is NULL: no other
    # reason would match it).
    *_, with_tombstones = dlq_exprs(d, "nums", "nums_dlq", "dlq")
    assert (
        "encode(CASE WHEN `__sqlstream_is_tombstone` THEN 'tombstone (null value)' ELSE CASE "
        in with_tombstones
    )


# ---- encode ----------------------------------------------------------------------------------

FIELDS = [Field("window", "STRUCT<start: TIMESTAMP, end: TIMESTAMP>"), Field("my col", "BIGINT")]


def test_encode_json_golden() -> None:
    assert encode(FIELDS, "json") == [
        "CAST(NULL AS BINARY) AS `key`",
        (
            "to_json(named_struct('window', `window`, 'my col', `my col`), "
            "map('ignoreNullFields', 'false', 'timeZone', 'UTC')) AS `value`"
        ),
    ]


def test_encode_everything_golden() -> None:
    assert encode(
        FIELDS,
        "json",
        key_sql="`my col`",
        partition_sql="abs(hash(`my col`)) % 6",
        header_pairs=[("source", "'sqlstream'"), ("n", "NULL")],
        topic_sql="CASE WHEN `my col` > 1 THEN 'a' ELSE 'b' END",
        value_sql="`my col`",
    ) == [
        "concat(`my col`) AS `key`",
        "concat(`my col`) AS `value`",
        "CAST(CASE WHEN `my col` > 1 THEN 'a' ELSE 'b' END AS STRING) AS `topic`",
        "CAST(abs(hash(`my col`)) % 6 AS INT) AS `partition`",
        (
            "array(named_struct('key', 'source', 'value', CAST(concat('sqlstream') AS BINARY)), "
            "named_struct('key', 'n', 'value', CAST(concat(NULL) AS BINARY))) AS `headers`"
        ),
    ]


def test_encode_key_columns_csv_text_raw() -> None:
    fields = [Field("a", "STRING"), Field("b", "INT")]
    assert encode(fields, "csv", key_columns=["a", "b"]) == [
        (
            "to_json(named_struct('a', `a`, 'b', `b`), "
            "map('ignoreNullFields', 'false', 'timeZone', 'UTC')) AS `key`"
        ),
        "to_csv(named_struct('a', `a`, 'b', `b`), map('timeZone', 'UTC')) AS `value`",
    ]
    assert encode([Field("b", "INT")], "text")[1] == "CAST(`b` AS STRING) AS `value`"
    assert encode([Field("p", "BINARY")], "raw")[1] == "`p` AS `value`"
    assert encode([Field("a", "STRING")], "avro")[1] == "to_avro(named_struct('a', `a`)) AS `value`"
    assert encode([Field("a", "STRING")], "json", headers_sql="h")[2] == "(h) AS `headers`"


@pytest.mark.parametrize(
    ("fields", "fmt", "kwargs", "message"),
    [
        (FIELDS, "csv", {}, "plain columns"),
        (FIELDS, "text", {}, "exactly one column"),
        ([Field("a", "STRING")], "raw", {}, "BINARY"),
        ([Field("a", "STRING")], "xml", {}, "unknown format"),
        ([], "json", {}, "at least one"),
        ([Field("a", "STRING")], "json", {"key_sql": "a", "key_columns": ["a"]}, "not both"),
        (
            [Field("a", "STRING")],
            "json",
            {"header_pairs": [("k", "a")], "headers_sql": "h"},
            "not both",
        ),
    ],
)
def test_encode_errors(
    fields: list[Field], fmt: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode(fields, fmt, **kwargs)  # type: ignore[arg-type]


# ---- the format table --------------------------------------------------------------------------


def test_the_options_and_messages_read_the_format_table() -> None:
    from sqlstream.compiler import formats, options

    assert (
        options.SOURCE_OPTIONS["format"].choices
        == formats.VALUE_FORMATS
        == (
            "json",
            "avro",
            "csv",
            "text",
            "raw",
            "avro-confluent",
            "json-confluent",
            "protobuf-confluent",
        )
    )
    assert (
        options.SOURCE_OPTIONS["key_format"].choices
        == formats.KEY_FORMATS
        == ("text", "json", "raw", "avro-confluent", "json-confluent", "protobuf-confluent")
    )
    assert formats.FORMAT_OPTIONS == ("avro_schema", "csv_delimiter", "protobuf_message")
    one_column = [f.name for f in formats.FORMATS.values() if not f.many]
    for name in one_column:  # the arity rule comes from the row, for value and key alike
        with pytest.raises(ValueError, match="exactly one"):
            decode([StreamColumn("a", "BINARY"), StreamColumn("b", "BINARY")], name, "text", {})
