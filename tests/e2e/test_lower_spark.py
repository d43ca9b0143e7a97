"""Every lowering in ``sqlstream.compiler.lower`` run on real Spark.

The inputs are batch DataFrames shaped exactly like the rows of Spark's Kafka source (no broker
needed), and the outputs are checked against what Spark's Kafka sink reads.
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t

import pytest

from sqlstream.compiler.lower import (
    count_exprs,
    decode,
    dlq_exprs,
    dlq_filter,
    encode,
    error_filter,
)
from sqlstream.compiler.plan import Decoding, Field, StreamColumn

pytestmark = pytest.mark.e2e

KAFKA_SOURCE_DDL = (
    "key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP, "
    "timestampType INT, headers ARRAY<STRUCT<key: STRING, value: BINARY>>"
)
HEADERS_TYPE = "array<struct<key:string,value:binary>>"
T0 = dt.datetime(2024, 1, 1, 12, 0, 0)


def b(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def kafka_df(spark: t.Any, records: list[dict[str, t.Any]]) -> t.Any:
    """Rows of Spark's Kafka source. ``value``/``key`` may be str (UTF-8) or bytes; the offset
    defaults to the record's position."""
    rows = []
    for i, r in enumerate(records):
        key, value = r.get("key"), r.get("value")
        rows.append(
            (
                b(key) if isinstance(key, str) else key,
                b(value) if isinstance(value, str) else value,
                r.get("topic", "orders"),
                r.get("partition", 0),
                r.get("offset", i),
                r.get("timestamp", T0),
                r.get("timestampType", 0),
                r.get("headers"),
            )
        )
    return spark.createDataFrame(rows, KAFKA_SOURCE_DDL)


def good(df: t.Any, d: Decoding) -> t.Any:
    """The stream's rows: decoded, malformed records dropped (on_error = skip)."""
    return (
        df.selectExpr(*d.parse_exprs)
        .where(error_filter(d, "skip", "orders"))
        .selectExpr(*d.output_exprs)
    )


def malformed(df: t.Any, d: Decoding) -> dict[int, str]:
    """offset -> reason, for the records the DLQ would receive."""
    rows = (
        df.selectExpr(*d.parse_exprs)
        .where(d.error_expr)
        .selectExpr("offset", f"{d.reason_expr} AS reason")
        .collect()
    )
    return {r.offset: r.reason for r in rows}


ORDER_COLUMNS = [
    StreamColumn("order_id", "STRING"),
    StreamColumn("user_id", "STRING", role="key"),
    StreamColumn("amount", "DOUBLE"),
    StreamColumn("event_time", "TIMESTAMP"),
]


# ---- json ------------------------------------------------------------------------------------


def test_json_good_rows_keep_declared_order_names_and_types(spark: t.Any) -> None:
    d = decode(ORDER_COLUMNS, "json", "text", {})
    df = kafka_df(
        spark,
        [
            {
                "key": "u1",
                "value": '{"order_id":"o1","amount":1.5,"event_time":"2024-01-01T10:00:00Z"}',
            },
            {"key": "u2", "value": '{"order_id":"o2","amount":7}'},  # missing field: NULL
        ],
    )
    out = good(df, d)
    assert [f.name for f in out.schema] == ["order_id", "user_id", "amount", "event_time"]
    assert out.schema.simpleString() == (
        "struct<order_id:string,user_id:string,amount:double,event_time:timestamp>"
    )
    rows = out.selectExpr("*", "unix_timestamp(event_time) AS epoch").collect()
    assert [(r.order_id, r.user_id, r.amount) for r in rows] == [
        ("o1", "u1", 1.5),
        ("o2", "u2", 7.0),
    ]
    assert rows[0].epoch == 1704103200  # 2024-01-01T10:00:00Z
    assert rows[1].event_time is None
    assert malformed(df, d) == {}


def test_json_malformed_records_and_their_reasons(spark: t.Any) -> None:
    columns = [
        StreamColumn("order_id", "STRING"),
        StreamColumn("user_id", "INT", role="key"),
        StreamColumn("amount", "DOUBLE"),
    ]
    d = decode(columns, "json", "text", {})
    df = kafka_df(
        spark,
        [
            {"key": "1", "value": '{"order_id":"ok","amount":1}'},  # 0 good
            {"key": "2", "value": "not json"},  # 1
            {"key": "3", "value": '{"order_id":"x","amount":"abc"}'},  # 2 type mismatch
            {"key": "abc", "value": '{"order_id":"x","amount":1}'},  # 3 bad key
            {"key": "5", "value": ""},  # 4 empty
            {"key": "6", "value": "[1,2]"},  # 5 not an object
            {"key": "7", "value": '{"order_id":"only"}'},  # 6 missing field: good
            {"key": "8", "value": None},  # 7 tombstone: neither good nor malformed
            {"key": "9", "value": "null"},  # 8 JSON null: a tombstone too
            {"key": None, "value": '{"order_id":"nokey","amount":2}'},  # 9 null key: good
            {"key": "11", "value": '{"order_id":"cut","amount":'},  # 10 truncated
            {"key": "12", "value": "   "},  # 11 blank
            {"key": "13", "value": "5"},  # 12 a number
            {"key": "14", "value": '"text"'},  # 13 a JSON string
            {"key": "15", "value": "{'order_id':'single quotes'}"},  # 14 Spark reads it: good
        ],
    )
    assert malformed(df, d) == {
        1: "not valid JSON",
        2: 'field amount cannot be converted to DOUBLE: "abc"',
        3: 'key cannot be converted to INT: "abc"',
        4: "empty value",
        5: "JSON, but not an object",
        10: "not valid JSON",
        11: "empty value",
        12: "JSON, but not an object",
        13: "JSON, but not an object",
    }
    rows = good(df, d).collect()
    assert [(r.order_id, r.user_id, r.amount) for r in rows] == [
        ("ok", 1, 1.0),
        ("only", 7, None),
        ("nokey", None, 2.0),
        ("single quotes", 15, None),
    ]


def test_json_key_and_user_names_that_shadow_kafka_columns(spark: t.Any) -> None:
    columns = [
        StreamColumn("key", "STRING"),  # a value field called key
        StreamColumn("value", "BIGINT"),  # ... and one called value
        StreamColumn("my col", "STRING"),
        StreamColumn("region", "STRING", role="key"),
        StreamColumn("topic", "INT", role="key"),
        StreamColumn("offset", "STRING", role="metadata", ref="topic"),
    ]
    d = decode(columns, "json", "json", {})
    df = kafka_df(
        spark,
        [
            {"key": '{"region":"eu","topic":3}', "value": '{"key":"k","value":5,"my col":"c"}'},
            {"key": '{"region":"eu","topic":"x"}', "value": '{"key":"k","value":5}'},
            {"key": "{bad", "value": '{"key":"k"}'},
        ],
    )
    rows = good(df, d).collect()
    assert [tuple(r) for r in rows] == [("k", 5, "c", "eu", 3, "orders")]
    assert malformed(df, d) == {
        1: 'key field topic cannot be converted to INT: "x"',
        2: "key: not valid JSON",
    }


# ---- csv, text, raw, avro -------------------------------------------------------------------


def test_csv(spark: t.Any) -> None:
    columns = [StreamColumn("name", "STRING"), StreamColumn("amount", "DOUBLE")]
    d = decode(columns, "csv", "text", {})
    df = kafka_df(
        spark,
        [
            {"value": "a,1.5"},
            {"value": '"x,y",2'},
            {"value": "b,"},  # an empty field is NULL
            {"value": "c,abc"},
            {"value": "d"},
            {"value": "e,1,extra"},
            {"value": ""},
        ],
    )
    assert [tuple(r) for r in good(df, d).collect()] == [
        ("a", 1.5),
        ("x,y", 2.0),
        ("b", None),
    ]
    assert malformed(df, d) == {
        3: 'field amount cannot be converted to DOUBLE: "abc"',
        4: "value does not have exactly 2 csv fields",
        5: "value does not have exactly 2 csv fields",
        6: "empty value",
    }


def test_csv_delimiter_round_trip(spark: t.Any) -> None:
    fields = [Field("name", "STRING"), Field("amount", "DOUBLE")]
    df = spark.createDataFrame([("a;b", 1.5), ("c", None)], "name STRING, amount DOUBLE")
    options = {"csv_delimiter": ";"}
    written = [
        r.value for r in df.selectExpr(*encode(fields, "csv", format_options=options)).collect()
    ]
    assert written == ['"a;b";1.5', "c;"]
    columns = [StreamColumn("name", "STRING"), StreamColumn("amount", "DOUBLE")]
    d = decode(columns, "csv", "text", options)
    back = good(kafka_df(spark, [{"value": v} for v in written]), d)
    assert [tuple(r) for r in back.collect()] == [("a;b", 1.5), ("c", None)]


def test_text_and_raw_values(spark: t.Any) -> None:
    df = kafka_df(spark, [{"value": "héllo"}, {"value": b"\x00\xff"}, {"value": "42"}])
    text = decode([StreamColumn("line", "STRING")], "text", "text", {})
    assert [r.line for r in good(df, text).collect()][::2] == ["héllo", "42"]
    raw = decode([StreamColumn("payload", "BINARY")], "raw", "raw", {})
    out = good(df, raw)
    assert out.schema.simpleString() == "struct<payload:binary>"
    assert [bytes(r.payload) for r in out.collect()] == ["héllo".encode(), b"\x00\xff", b"42"]
    number = decode([StreamColumn("n", "INT")], "text", "text", {})
    assert [r.n for r in good(df, number).collect()] == [42]
    assert malformed(df, number)[0] == 'value cannot be converted to INT: "héllo"'


AVRO_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "order",
        "fields": [
            {"name": "order_id", "type": ["null", "string"]},
            {"name": "amount", "type": ["null", "double"]},
        ],
    }
)


def avro_available(spark: t.Any) -> bool:
    try:
        spark.sql("SELECT from_avro(CAST(NULL AS BINARY), '\"string\"')").collect()
    except Exception as e:  # AVRO_NOT_LOADED_SQL_FUNCTIONS_UNUSABLE without spark-avro
        if "AVRO_NOT_LOADED" in str(e):
            return False
        raise
    return True


def test_avro_round_trip_and_malformed(spark: t.Any) -> None:
    if not avro_available(spark):
        pytest.skip("spark-avro is not on the classpath")
    fields = [Field("order_id", "STRING"), Field("amount", "DOUBLE")]
    written = spark.createDataFrame([("o1", 1.5), (None, None)], "order_id STRING, amount DOUBLE")
    values = [
        bytes(r.value)
        for r in written.selectExpr(
            *encode(fields, "avro", format_options={"avro_schema": AVRO_SCHEMA})
        ).collect()
    ]
    columns = [StreamColumn("order_id", "STRING"), StreamColumn("amount", "DOUBLE")]
    d = decode(columns, "avro", "text", {"avro_schema": AVRO_SCHEMA})
    df = kafka_df(spark, [{"value": v} for v in values] + [{"value": "garbage"}, {"value": b""}])
    assert [tuple(r) for r in good(df, d).collect()] == [("o1", 1.5), (None, None)]
    assert malformed(df, d) == {
        2: "value is not valid avro for the avro_schema",
        3: "value is not valid avro for the avro_schema",
    }


# ---- headers and metadata --------------------------------------------------------------------


def test_header_last_wins_absent_typed_and_raw_headers(spark: t.Any) -> None:
    columns = [
        StreamColumn("v", "STRING"),
        StreamColumn("trace_id", "STRING", role="header", ref="trace-id"),
        StreamColumn("retries", "INT", role="header", ref="retries"),
        StreamColumn("all_headers", "ARRAY<STRUCT<key: STRING, value: BINARY>>", role="headers"),
    ]
    d = decode(columns, "text", "text", {})
    many = [("trace-id", b"first"), ("retries", b"2"), ("trace-id", b"last")]
    df = kafka_df(
        spark,
        [
            {"value": "a", "headers": many},
            {"value": "b", "headers": [("other", b"x")]},
            {"value": "c", "headers": None},
            {"value": "d", "headers": []},
            {"value": "e", "headers": [("retries", b"many")]},
        ],
    )
    rows = good(df, d).collect()
    assert [(r.v, r.trace_id, r.retries) for r in rows] == [
        ("a", "last", 2),
        ("b", None, None),
        ("c", None, None),
        ("d", None, None),
    ]
    assert [(h.key, bytes(h.value)) for h in rows[0].all_headers] == [(k, v) for k, v in many]
    assert rows[2].all_headers is None
    assert malformed(df, d) == {4: 'header retries cannot be converted to INT: "many"'}


def test_metadata(spark: t.Any) -> None:
    columns = [
        StreamColumn("v", "STRING"),
        StreamColumn("t", "STRING", role="metadata", ref="topic"),
        StreamColumn("p", "INT", role="metadata", ref="partition"),
        StreamColumn("o", "BIGINT", role="metadata", ref="offset"),
        StreamColumn("ts", "TIMESTAMP", role="metadata", ref="timestamp"),
        StreamColumn("tt", "INT", role="metadata", ref="timestamp_type"),
        StreamColumn("o_text", "STRING", role="metadata", ref="offset"),
    ]
    d = decode(columns, "text", "text", {})
    df = kafka_df(
        spark,
        [{"value": "x", "topic": "orders-eu", "partition": 3, "offset": 42, "timestampType": 1}],
    )
    out = good(df, d)
    assert out.schema.simpleString() == (
        "struct<v:string,t:string,p:int,o:bigint,ts:timestamp,tt:int,o_text:string>"
    )
    assert tuple(out.collect()[0]) == ("x", "orders-eu", 3, 42, T0, 1, "42")


# ---- on_error --------------------------------------------------------------------------------


def _fail_df(spark: t.Any) -> tuple[t.Any, Decoding]:
    d = decode(ORDER_COLUMNS, "json", "text", {})
    df = kafka_df(
        spark,
        [
            {"key": "u", "value": '{"order_id":"o1","amount":1}', "offset": 41},
            {"key": "u", "value": "{oops", "topic": "orders", "partition": 2, "offset": 42},
        ],
    )
    return df.selectExpr(*d.parse_exprs).where(error_filter(d, "fail", "orders")), d


@pytest.mark.parametrize(
    "finish",
    [
        pytest.param(lambda df, d: df.selectExpr(*d.output_exprs).collect(), id="all-columns"),
        pytest.param(lambda df, d: df.selectExpr("1 AS one").collect(), id="no-columns"),
        pytest.param(lambda df, d: df.count(), id="count"),
        pytest.param(
            lambda df, d: df.selectExpr(*d.output_exprs).select("order_id").collect(),
            id="one-column",
        ),
        pytest.param(  # a user WHERE that the malformed record would not pass anyway
            lambda df, d: df.selectExpr(*d.output_exprs).where("amount > 100").collect(),
            id="downstream-filter",
        ),
        pytest.param(
            lambda df, d: df.selectExpr(*d.output_exprs).where("order_id = 'o1'").count(),
            id="downstream-filter-count",
        ),
    ],
)
def test_fail_raises_naming_stream_topic_partition_offset(spark: t.Any, finish: t.Any) -> None:
    df, d = _fail_df(spark)
    with pytest.raises(Exception) as info:
        finish(df, d)
    text = str(info.value)
    assert "[USER_RAISED_EXCEPTION] malformed record in stream orders at orders/2@42: " in text
    assert "not valid JSON" in text


def test_fail_passes_good_records_and_drops_tombstones(spark: t.Any) -> None:
    d = decode(ORDER_COLUMNS, "json", "text", {})
    df = kafka_df(spark, [{"value": '{"order_id":"o1"}'}, {"value": None}, {"value": "null"}])
    out = df.selectExpr(*d.parse_exprs).where(error_filter(d, "fail", "orders"))
    assert [r.order_id for r in out.selectExpr(*d.output_exprs).collect()] == ["o1"]


def test_skip_count_with_observe_on_a_streaming_dataframe(spark: t.Any, tmp_path: t.Any) -> None:
    from pyspark.sql import functions as F

    d = decode(ORDER_COLUMNS, "json", "text", {})
    records: list[dict[str, t.Any]] = [
        {"value": json.dumps({"order_id": f"o{i}"})} for i in range(5)
    ]
    records += [
        {"value": "bad"},
        {"value": '{"amount":"x"}'},
        {"value": None},
    ]
    kafka_df(spark, records).write.parquet(str(tmp_path / "in"))
    stream = spark.readStream.schema(KAFKA_SOURCE_DDL).parquet(str(tmp_path / "in"))
    counts = [F.expr(sql).alias(name) for sql, name in count_exprs(d, "skip")]
    parsed = stream.selectExpr(*d.parse_exprs).observe("orders_errors", *counts)
    out = parsed.where(error_filter(d, "skip", "orders")).selectExpr(*d.output_exprs)
    query = (
        out.writeStream.format("memory")
        .queryName("lower_skip_observe")
        .option("checkpointLocation", str(tmp_path / "chk"))
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination(120)
        rows = spark.table("lower_skip_observe").collect()
        assert sorted(r.order_id for r in rows) == [f"o{i}" for i in range(5)]
        metrics = [p["observedMetrics"] for p in query.recentProgress if p.get("observedMetrics")]
        assert sum(m["orders_errors"]["skipped"] for m in metrics) == 2
        assert sum(m["orders_errors"]["tombstones"] for m in metrics) == 1
    finally:
        query.stop()


def test_fail_stops_a_streaming_query_with_the_message(spark: t.Any, tmp_path: t.Any) -> None:
    d = decode(ORDER_COLUMNS, "json", "text", {})
    records: list[dict[str, t.Any]] = [
        {"value": '{"order_id":"o1"}'},
        {"value": "{oops", "partition": 1, "offset": 9},
    ]
    kafka_df(spark, records).write.parquet(str(tmp_path / "in"))
    stream = spark.readStream.schema(KAFKA_SOURCE_DDL).parquet(str(tmp_path / "in"))
    out = (
        stream.selectExpr(*d.parse_exprs)
        .where(error_filter(d, "fail", "orders"))
        .selectExpr(*d.output_exprs)
    )
    query = (
        out.writeStream.format("noop")
        .option("checkpointLocation", str(tmp_path / "chk"))
        .trigger(availableNow=True)
        .start()
    )
    with pytest.raises(Exception) as info:
        query.awaitTermination(120)
    assert type(info.value).__name__ == "StreamingQueryException"
    assert "malformed record in stream orders at orders/1@9: not valid JSON" in str(info.value)


# ---- DLQ -------------------------------------------------------------------------------------


def test_dlq_record_keeps_original_bytes_and_adds_error_headers(spark: t.Any) -> None:
    d = decode(ORDER_COLUMNS, "json", "text", {})
    bad_value = b'{"order_id":"o","amount":"abc"}'
    df = kafka_df(
        spark,
        [
            {
                "key": b"\xffk",
                "value": bad_value,
                "partition": 1,
                "offset": 7,
                "headers": [("trace-id", b"t1"), ("n", None)],
            },
            {"key": None, "value": b"\x00\x01", "offset": 8, "headers": None},
            {"key": "u", "value": '{"order_id":"fine"}', "offset": 9},
        ],
    )
    out = (
        df.selectExpr(*d.parse_exprs)
        .where(d.error_expr)
        .selectExpr(*dlq_exprs(d, "orders", "spend_1"))
    )
    assert [f.name for f in out.schema] == ["key", "value", "headers"]
    assert out.schema["headers"].dataType.simpleString() == HEADERS_TYPE
    rows = out.collect()
    assert len(rows) == 2
    first, second = rows
    assert bytes(first.key) == b"\xffk" and bytes(first.value) == bad_value
    headers = [(h.key, None if h.value is None else bytes(h.value)) for h in first.headers]
    assert headers == [
        ("trace-id", b"t1"),
        ("n", None),
        ("sqlstream.error.reason", b'field amount cannot be converted to DOUBLE: "abc"'),
        ("sqlstream.error.topic", b"orders"),
        ("sqlstream.error.partition", b"1"),
        ("sqlstream.error.offset", b"7"),
        ("sqlstream.error.query", b"spend_1"),
    ]
    assert second.key is None and bytes(second.value) == b"\x00\x01"
    assert [h.key for h in second.headers] == [
        "sqlstream.error.reason",
        "sqlstream.error.topic",
        "sqlstream.error.partition",
        "sqlstream.error.offset",
        "sqlstream.error.query",
    ]


# ---- encode ----------------------------------------------------------------------------------


SINK_FIELDS = [
    Field("window", "STRUCT<start: TIMESTAMP, end: TIMESTAMP>"),
    Field("key", "STRING"),
    Field("value", "BIGINT"),
    Field("my col", "BINARY"),
    Field("note", "STRING"),
]


def sink_input(spark: t.Any) -> t.Any:
    return spark.sql(
        "SELECT named_struct('start', TIMESTAMP'2024-01-01 10:00:00 UTC', "
        "'end', TIMESTAMP'2024-01-01 10:05:00 UTC') AS window, 'u1' AS key, 5L AS value, "
        "X'00FF' AS `my col`, CAST(NULL AS STRING) AS note"
    )


def sink_types(df: t.Any) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in df.schema}


def test_encode_json_value_nulls_binary_struct_and_text_key(spark: t.Any) -> None:
    out = sink_input(spark).selectExpr(*encode(SINK_FIELDS, "json", key_sql="`key`"))
    assert sink_types(out) == {"key": "string", "value": "string"}
    row = out.collect()[0]
    assert row.key == "u1"
    assert json.loads(row.value) == {
        "window": {"start": "2024-01-01T10:00:00.000Z", "end": "2024-01-01T10:05:00.000Z"},
        "key": "u1",
        "value": 5,
        "my col": "AP8=",
        "note": None,
    }
    assert '"note":null' in row.value


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"key_sql": "`value` * 2"}, b"10"),
        ({"key_sql": "`my col`"}, b"\x00\xff"),
        ({"key_columns": ["key", "note"]}, b'{"key":"u1","note":null}'),
        ({}, None),
    ],
    ids=["expression", "binary", "columns", "none"],
)
def test_encode_keys(spark: t.Any, kwargs: dict[str, t.Any], expected: bytes | None) -> None:
    out = sink_input(spark).selectExpr(*encode(SINK_FIELDS, "json", **kwargs))
    assert sink_types(out)["key"] in ("string", "binary")
    key = out.selectExpr("CAST(key AS BINARY) AS k").collect()[0].k
    assert (None if key is None else bytes(key)) == expected


def test_encode_partition_headers_and_topic_routing(spark: t.Any) -> None:
    exprs = encode(
        SINK_FIELDS,
        "json",
        partition_sql="abs(hash(`key`)) % 6",
        header_pairs=[
            ("source", "'sqlstream'"),
            ("n", "`value`"),
            ("none", "`note`"),
            ("bin", "`my col`"),
        ],
        topic_sql="CASE WHEN `value` > 3 THEN 'orders-high' ELSE 'orders-standard' END",
    )
    out = sink_input(spark).selectExpr(*exprs)
    assert sink_types(out) == {
        "key": "binary",
        "value": "string",
        "topic": "string",
        "partition": "int",
        "headers": HEADERS_TYPE,
    }
    row = out.collect()[0]
    assert row.topic == "orders-high"
    assert 0 <= row.partition < 6
    assert [(h.key, None if h.value is None else bytes(h.value)) for h in row.headers] == [
        ("source", b"sqlstream"),
        ("n", b"5"),
        ("none", None),
        ("bin", b"\x00\xff"),
    ]


def test_encode_headers_expression_and_value_expression(spark: t.Any) -> None:
    exprs = encode(
        SINK_FIELDS,
        "json",
        headers_sql="array(named_struct('key', 'k', 'value', `my col`))",
        value_sql="concat(`key`, '!')",
    )
    row = sink_input(spark).selectExpr(*exprs).collect()[0]
    assert row.value == "u1!"
    assert [(h.key, bytes(h.value)) for h in row.headers] == [("k", b"\x00\xff")]
    binary_value = sink_input(spark).selectExpr(*encode(SINK_FIELDS, "json", value_sql="`my col`"))
    assert bytes(binary_value.collect()[0].value) == b"\x00\xff"


def test_encode_csv_text_raw(spark: t.Any) -> None:
    df = spark.sql(
        "SELECT 'a,b' AS name, CAST(NULL AS INT) AS n, TIMESTAMP'2024-01-01 10:00:00 UTC' AS ts, "
        "X'01' AS payload"
    )
    csv = encode([Field("name", "STRING"), Field("n", "INT"), Field("ts", "TIMESTAMP")], "csv")
    assert df.selectExpr(*csv).collect()[0].value == '"a,b",,2024-01-01T10:00:00.000Z'
    text = df.selectExpr(*encode([Field("n", "INT")], "text")).collect()[0]
    assert text.value is None
    text = df.selectExpr(*encode([Field("name", "STRING")], "text")).collect()[0]
    assert text.value == "a,b"
    raw = df.selectExpr(*encode([Field("payload", "BINARY")], "raw"))
    assert sink_types(raw) == {"key": "binary", "value": "binary"}
    assert bytes(raw.collect()[0].value) == b"\x01"


def test_encode_then_decode_round_trips_json(spark: t.Any) -> None:
    fields = [Field("order_id", "STRING"), Field("amount", "DOUBLE"), Field("at", "TIMESTAMP")]
    df = spark.sql(
        "SELECT 'o1' AS order_id, CAST(NULL AS DOUBLE) AS amount, "
        "TIMESTAMP'2024-01-01 10:00:00 UTC' AS at"
    )
    written = df.selectExpr(*encode(fields, "json", key_sql="order_id")).collect()[0]
    columns = [
        StreamColumn("order_id", "STRING"),
        StreamColumn("amount", "DOUBLE"),
        StreamColumn("at", "TIMESTAMP"),
        StreamColumn("k", "STRING", role="key"),
    ]
    d = decode(columns, "json", "text", {})
    back = good(kafka_df(spark, [{"key": written.key, "value": written.value}]), d)
    assert [
        tuple(r) for r in back.selectExpr("order_id", "amount", "unix_timestamp(at)", "k").collect()
    ] == [("o1", None, 1704103200, "o1")]


# ---- tombstones ------------------------------------------------------------------------------


def test_on_tombstone_fail_raises_naming_the_record(spark: t.Any) -> None:
    d = decode(ORDER_COLUMNS, "json", "text", {})
    df = kafka_df(
        spark, [{"value": '{"order_id":"o1"}'}, {"value": None, "partition": 3, "offset": 5}]
    )
    out = df.selectExpr(*d.parse_exprs).where(error_filter(d, "skip", "orders", "fail"))
    with pytest.raises(Exception) as info:
        out.collect()
    assert "tombstone (null value) in stream orders at orders/3@5" in str(info.value)


def test_on_tombstone_dlq_keeps_key_and_headers_with_its_reason(spark: t.Any) -> None:
    d = decode(ORDER_COLUMNS, "json", "text", {})
    df = kafka_df(
        spark,
        [
            {"key": "k1", "value": None, "headers": [("trace", b"t1")]},  # 0 tombstone
            {"key": "k2", "value": "null"},  # 1 JSON null: a tombstone too
            {"key": "k3", "value": "{oops"},  # 2 malformed: skipped, not in the DLQ
            {"key": "k4", "value": '{"order_id":"o4"}'},  # 3 good
        ],
    )
    parsed = df.selectExpr(*d.parse_exprs)
    where = dlq_filter(d, "skip", "dlq")
    assert where is not None
    rows = parsed.where(where).selectExpr(*dlq_exprs(d, "orders", "orders_dlq", "dlq")).collect()
    assert [bytes(r.key) for r in rows] == [b"k1", b"k2"]
    assert rows[0].value is None and bytes(rows[1].value) == b"null"
    headers = [(h.key, bytes(h.value)) for h in rows[0].headers]
    assert headers[0] == ("trace", b"t1")
    assert dict(headers[1:])["sqlstream.error.reason"] == b"tombstone (null value)"
    kept = parsed.where(error_filter(d, "skip", "orders", "dlq")).selectExpr(*d.output_exprs)
    assert [r.order_id for r in kept.collect()] == ["o4"]
