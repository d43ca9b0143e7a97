"""The sqlstream dialect: round trips, node types, parse errors, statement splitting, positions.

Pure Python: no JVM, no Kafka.
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from sqlstream.compiler.dialect import (
    CreateDerivedStream,
    CreateKafkaStream,
    HeaderPair,
    InsertKafka,
    KafkaProperty,
    SessionWindow,
    SqlStream,
    StatementSplitError,
    StreamColumn,
    TimeWindow,
    Watermark,
    generate,
    parse_statement,
    set_key_value,
    split_statements,
    to_spark_sql,
)

SRC = "CREATE STREAM s ({cols}) FROM KAFKA (topic = 't')"


def src(cols: str) -> str:
    return SRC.format(cols=cols)


# (input, expected output or None for identity, expected root type)
ROUND_TRIPS: list[tuple[str, str | None, type]] = [
    # --- Kafka sources: every column kind
    (src("a STRING"), None, CreateKafkaStream),
    (src("user_id STRING KEY"), None, CreateKafkaStream),
    (src("trace_id STRING HEADER('trace-id')"), None, CreateKafkaStream),
    (
        src("h ARRAY<STRUCT<key STRING, value BINARY>> HEADERS"),
        src("h ARRAY<STRUCT<key: STRING, value: BINARY>> HEADERS"),
        CreateKafkaStream,
    ),
    (src("ts TIMESTAMP METADATA FROM 'timestamp'"), None, CreateKafkaStream),
    (src("ts TIMESTAMP METADATA"), src("ts TIMESTAMP METADATA FROM 'ts'"), CreateKafkaStream),
    (
        src("p DECIMAL(10,2), m MAP<STRING,INT>"),
        src("p DECIMAL(10, 2), m MAP<STRING, INT>"),
        CreateKafkaStream,
    ),
    (
        src("key STRING KEY, value STRING, topic STRING, `partition` INT, offset BIGINT"),
        None,
        CreateKafkaStream,
    ),
    (src("watermark INT, stream INT, kafka INT, format INT, header INT"), None, CreateKafkaStream),
    # --- watermark, anywhere in the column list (generated last)
    (src("ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '10' MINUTES"), None, CreateKafkaStream),
    (
        src("WATERMARK FOR ts AS ts - INTERVAL 10 SECONDS, ts TIMESTAMP"),
        src("ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '10' SECONDS"),
        CreateKafkaStream,
    ),
    # --- option value kinds
    (
        "CREATE STREAM s (a INT) FROM KAFKA (topic = 'o', max_offsets_per_trigger = 10000)",
        None,
        CreateKafkaStream,
    ),
    (
        "CREATE STREAM s (a INT) FROM KAFKA ('kafka.group.id' = 'g', x = -1, y = 1.5)",
        None,
        CreateKafkaStream,
    ),
    (
        "CREATE STREAM s (a INT) FROM KAFKA (fail_on_data_loss = false, b = TRUE)",
        "CREATE STREAM s (a INT) FROM KAFKA (fail_on_data_loss = FALSE, b = TRUE)",
        CreateKafkaStream,
    ),
    ("CREATE STREAM s (a INT) FROM KAFKA (starting_offsets = earliest)", None, CreateKafkaStream),
    ("CREATE STREAM s (a INT) FROM KAFKA ()", None, CreateKafkaStream),
    # --- case-insensitivity
    (
        (
            "create stream s (a string key, b int header('h'), c timestamp metadata from 'offset', "
            "watermark for c as c) from kafka (TOPIC = 'x')"
        ),
        (
            "CREATE STREAM s (a STRING KEY, b INT HEADER('h'), c TIMESTAMP METADATA FROM 'offset', "
            "WATERMARK FOR c AS c) FROM KAFKA (TOPIC = 'x')"
        ),
        CreateKafkaStream,
    ),
    # --- derived streams
    ("CREATE STREAM big AS SELECT * FROM orders WHERE amount > 100", None, CreateDerivedStream),
    (
        "CREATE STREAM big AS (SELECT a FROM orders)",
        "CREATE STREAM big AS SELECT a FROM orders",
        CreateDerivedStream,
    ),
    ("CREATE STREAM big AS WITH q AS (SELECT 1 AS a) SELECT * FROM q", None, CreateDerivedStream),
    ("CREATE STREAM u AS SELECT a FROM x UNION ALL SELECT a FROM y", None, CreateDerivedStream),
    # --- INSERT INTO KAFKA
    ("INSERT INTO KAFKA TOPIC 'out' SELECT * FROM orders", None, InsertKafka),
    (
        (
            "INSERT INTO KAFKA TOPIC (CASE WHEN amount > 1000 THEN 'hi' ELSE 'lo' END) "
            "SELECT * FROM orders"
        ),
        None,
        InsertKafka,
    ),
    ("INSERT INTO KAFKA TOPIC 'out' KEY user_id SELECT user_id FROM orders", None, InsertKafka),
    ("INSERT INTO KAFKA TOPIC 'out' KEY (a, b) SELECT a, b FROM t", None, InsertKafka),
    ("INSERT INTO KAFKA TOPIC 'out' KEY CAST(a AS BINARY) SELECT a FROM t", None, InsertKafka),
    (
        "INSERT INTO KAFKA TOPIC 'out' PARTITION abs(hash(user_id)) % 6 SELECT user_id FROM t",
        "INSERT INTO KAFKA TOPIC 'out' PARTITION ABS(HASH(user_id)) % 6 SELECT user_id FROM t",
        InsertKafka,
    ),
    (
        (
            "INSERT INTO KAFKA TOPIC 'out' HEADERS ('source' = 'sqlstream', 'trace-id' = trace_id) "
            "SELECT trace_id FROM t"
        ),
        None,
        InsertKafka,
    ),
    (
        "INSERT INTO KAFKA TOPIC 'out' HEADERS all_headers SELECT all_headers FROM t",
        None,
        InsertKafka,
    ),
    (
        "INSERT INTO KAFKA TOPIC 'out' HEADERS filter(h, x -> x.key <> 'a') SELECT h FROM t",
        "INSERT INTO KAFKA TOPIC 'out' HEADERS FILTER(h, x -> x.key <> 'a') SELECT h FROM t",
        InsertKafka,
    ),
    (
        "INSERT INTO KAFKA TOPIC 'out' FORMAT AVRO SELECT a FROM t",
        "INSERT INTO KAFKA TOPIC 'out' FORMAT avro SELECT a FROM t",
        InsertKafka,
    ),
    (
        "INSERT INTO KAFKA TOPIC 'out' VALUE to_json(named_struct('a', a)) SELECT a FROM t",
        "INSERT INTO KAFKA TOPIC 'out' VALUE TO_JSON(STRUCT(a AS a)) SELECT a FROM t",
        InsertKafka,
    ),
    (
        (
            "INSERT INTO KAFKA TOPIC 'out' WITH (trigger = '10 seconds', checkpoint = 'spend', "
            "'kafka.acks' = 'all') SELECT a FROM t"
        ),
        None,
        InsertKafka,
    ),
    ("INSERT INTO KAFKA TOPIC 'out' WITH (trigger = once) SELECT a FROM t", None, InsertKafka),
    (
        "INSERT INTO KAFKA TOPIC 'out' WITH (trigger = available_now) SELECT a FROM t",
        None,
        InsertKafka,
    ),
    (
        "INSERT INTO KAFKA TOPIC 'out' WITH (trigger = continuous '5 seconds') SELECT a FROM t",
        "INSERT INTO KAFKA TOPIC 'out' WITH (trigger = 'continuous 5 seconds') SELECT a FROM t",
        InsertKafka,
    ),
    # all clauses, documented order, then shuffled
    (
        (
            "INSERT INTO KAFKA TOPIC 'o' KEY k PARTITION p HEADERS ('a' = b) FORMAT json VALUE v "
            "WITH (name = 'q') SELECT k, p, b, v FROM t"
        ),
        None,
        InsertKafka,
    ),
    (
        (
            "insert into kafka topic 'o' with (name = 'q') value v format JSON headers ('a' = b) "
            "partition p key k select k, p, b, v from t"
        ),
        (
            "INSERT INTO KAFKA TOPIC 'o' KEY k PARTITION p HEADERS ('a' = b) FORMAT json VALUE v "
            "WITH (name = 'q') SELECT k, p, b, v FROM t"
        ),
        InsertKafka,
    ),
    (
        "INSERT INTO KAFKA TOPIC 'o' KEY k WITH q AS (SELECT 1 AS k) SELECT k FROM q",
        None,
        InsertKafka,
    ),
    (
        "INSERT INTO KAFKA TOPIC 'o' (SELECT a FROM t)",
        "INSERT INTO KAFKA TOPIC 'o' SELECT a FROM t",
        InsertKafka,
    ),
    # the DESIGN.md sink example
    (
        (
            "INSERT INTO KAFKA TOPIC 'user-spending' KEY user_id PARTITION abs(hash(user_id)) % 6 "
            "HEADERS ('source' = 'sqlstream') FORMAT json WITH (trigger = '10 seconds') "
            "SELECT window.end AS window_end, user_id, sum(amount) AS total_spent FROM orders "
            "GROUP BY window(event_time, '5 minutes'), user_id"
        ),
        (
            "INSERT INTO KAFKA TOPIC 'user-spending' KEY user_id PARTITION ABS(HASH(user_id)) % 6 "
            "HEADERS ('source' = 'sqlstream') FORMAT json WITH (trigger = '10 seconds') "
            "SELECT window.end AS window_end, user_id, SUM(amount) AS total_spent FROM orders "
            "GROUP BY window(event_time, '5 minutes'), user_id"
        ),
        InsertKafka,
    ),
    # --- SET
    ("SET spark.sql.shuffle.partitions = 4", None, exp.Set),
    ("SET 'spark.sql.x' = 'y'", None, exp.Set),
    ("SET spark.sql.streaming.stateStore.providerClass = org.apache.X", None, exp.Set),
    # --- Spark streaming functions and everyday Spark
    ("SELECT window(ts, '5 minutes') FROM t GROUP BY window(ts, '5 minutes')", None, exp.Select),
    (
        "SELECT a FROM t GROUP BY WINDOW(ts, '10 minutes', '5 minutes', '1 minute'), a",
        "SELECT a FROM t GROUP BY window(ts, '10 minutes', '5 minutes', '1 minute'), a",
        exp.Select,
    ),
    (
        "SELECT count(*) FROM t GROUP BY session_window(ts, '5 minutes')",
        "SELECT COUNT(*) FROM t GROUP BY session_window(ts, '5 minutes')",
        exp.Select,
    ),
    (
        "SELECT window.start, window.end, w.window.end FROM t AS w WHERE window.start > 1",
        None,
        exp.Select,
    ),
    ("SELECT a FROM t WHERE window(ts, '1 minute').start > x", None, exp.Select),
    ("SELECT SUM(x) OVER w FROM t GROUP BY a WINDOW w AS (PARTITION BY y)", None, exp.Select),
    ("SELECT SUM(x) OVER (PARTITION BY y ORDER BY z) FROM t", None, exp.Select),
    ("SELECT FILTER(headers, h -> h.key = 'x'), ELEMENT_AT(m, 'k') FROM t", None, exp.Select),
    (
        "SELECT INTERVAL '10' MINUTES, INTERVAL 10 MINUTES",
        "SELECT INTERVAL '10' MINUTES, INTERVAL '10' MINUTES",
        exp.Select,
    ),
    (
        "SELECT CAST(x AS BINARY), named_struct('a', 1), struct(a, b), to_json(struct(*)) FROM t",
        (
            "SELECT CAST(x AS BINARY), STRUCT(1 AS a), STRUCT(a AS a, b AS b), TO_JSON(STRUCT(*)) "
            "FROM t"
        ),
        exp.Select,
    ),
    ("SELECT CASE WHEN a > 1 THEN 'x' ELSE 'y' END FROM t", None, exp.Select),
    (
        "SELECT key, value, topic, partition, offset, timestamp, timestampType, headers FROM t",
        None,
        exp.Select,
    ),
    (
        "SELECT 1 AS key, 2 AS value, 3 AS format, 4 AS stream, 5 AS kafka, 6 AS topic",
        None,
        exp.Select,
    ),
    # ordinary Spark statements keep their sqlglot nodes
    ("INSERT INTO t SELECT 1", None, exp.Insert),
    ("CREATE TABLE t (a INT)", None, exp.Create),
]


def _assert_no_command(tree: exp.Expr) -> None:
    assert not any(isinstance(n, exp.Command) for n in tree.walk())


@pytest.mark.parametrize(("sql", "expected", "root"), ROUND_TRIPS, ids=lambda v: str(v)[:60])
def test_round_trip(sql: str, expected: str | None, root: type) -> None:
    tree = parse_statement(sql)
    assert isinstance(tree, root)
    _assert_no_command(tree)
    out = generate(tree)
    assert out == (expected or sql)
    again = parse_statement(out)
    assert again == tree
    assert parse_statement(generate(tree, pretty=True)) == tree


def test_dialect_is_registered() -> None:
    assert isinstance(Dialect.get_or_raise("sqlstream"), SqlStream)
    tree = sqlglot.parse_one("INSERT INTO KAFKA TOPIC 'x' SELECT 1", read="sqlstream")
    assert isinstance(tree, InsertKafka)


def test_kafka_source_shape() -> None:
    tree = parse_statement(
        """CREATE STREAM orders (
            order_id    STRING,
            user_id     STRING KEY,                          -- the Kafka key
            trace_id    STRING HEADER('trace-id'),
            all_headers ARRAY<STRUCT<key STRING, value BINARY>> HEADERS,
            kafka_ts    TIMESTAMP METADATA FROM 'timestamp',
            event_time  TIMESTAMP,
            WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
        ) FROM KAFKA (topic = 'orders', 'kafka.group.id' = 'x', max_offsets_per_trigger = 10);"""
    )
    assert isinstance(tree, CreateKafkaStream)
    assert tree.name == "orders"
    columns = tree.args["columns"]
    assert all(isinstance(c, StreamColumn) for c in columns)
    assert [(c.name, c.args["role"]) for c in columns] == [
        ("order_id", "value"),
        ("user_id", "key"),
        ("trace_id", "header"),
        ("all_headers", "headers"),
        ("kafka_ts", "metadata"),
        ("event_time", "value"),
    ]
    assert columns[2].args["ref"] == exp.Literal.string("trace-id")
    assert columns[4].args["ref"] == exp.Literal.string("timestamp")
    assert isinstance(columns[3].args["kind"], exp.DataType)
    assert columns[3].args["kind"].is_type("array")
    watermark = tree.args["watermark"]
    assert isinstance(watermark, Watermark)
    assert isinstance(watermark.this, exp.Column) and watermark.this.name == "event_time"
    assert isinstance(watermark.expression, exp.Sub)
    assert isinstance(watermark.expression.expression, exp.Interval)
    options = tree.args["options"]
    assert all(isinstance(o, KafkaProperty) for o in options)
    assert [o.name for o in options] == ["topic", "kafka.group.id", "max_offsets_per_trigger"]
    assert isinstance(options[0].this, exp.Var)
    assert isinstance(options[1].this, exp.Literal) and options[1].this.is_string
    assert options[2].expression == exp.Literal.number(10)


def test_option_value_nodes() -> None:
    tree = parse_statement(
        "INSERT INTO KAFKA TOPIC 'o' WITH (TRIGGER = once, a = continuous '1 second', "
        "b = true, c = -3, d = 'x') SELECT 1"
    )
    values = {o.name: o.expression for o in tree.args["options"]}
    assert values["trigger"] == exp.var("once")
    assert values["a"] == exp.Literal.string("continuous 1 second")
    assert values["b"] == exp.Boolean(this=True)
    assert values["c"] == exp.Literal.number(-3)
    assert values["d"] == exp.Literal.string("x")


def test_insert_kafka_shape() -> None:
    tree = parse_statement(
        "INSERT INTO KAFKA TOPIC (CASE WHEN a THEN 'x' ELSE 'y' END) KEY (a, b) "
        "PARTITION 1 HEADERS ('h' = a) FORMAT Json VALUE a WITH (name = 'n') SELECT a, b FROM t"
    )
    assert isinstance(tree, InsertKafka)
    assert isinstance(tree.args["topic"], exp.Paren)
    assert isinstance(tree.args["topic"].this, exp.Case)
    assert isinstance(tree.args["key"], exp.Tuple)
    assert tree.args["partition"] == exp.Literal.number(1)
    (pair,) = tree.args["headers"]
    assert isinstance(pair, HeaderPair) and pair.this == exp.Literal.string("h")
    assert tree.args.get("headers_expr") is None
    assert tree.args["format"] == exp.var("json")
    assert isinstance(tree.args["value"], exp.Column)
    assert [o.name for o in tree.args["options"]] == ["name"]
    assert isinstance(tree.expression, exp.Select)

    plain = parse_statement("INSERT INTO KAFKA TOPIC 'x' HEADERS hs SELECT hs FROM t")
    assert plain.args["topic"] == exp.Literal.string("x")
    assert plain.args.get("headers") is None
    assert isinstance(plain.args["headers_expr"], exp.Column)


def test_window_nodes() -> None:
    tree = parse_statement(
        "SELECT window.end, session_window(ts, '1 minute') FROM t "
        "GROUP BY window(ts, '5 minutes', '1 minute'), session_window(ts, '1 minute')"
    )
    windows = list(tree.find_all(TimeWindow))
    assert len(windows) == 1
    assert windows[0].this.name == "ts"
    assert windows[0].args["duration"] == exp.Literal.string("5 minutes")
    assert windows[0].args["slide"] == exp.Literal.string("1 minute")
    assert len(list(tree.find_all(SessionWindow))) == 2
    assert to_spark_sql(tree) == (
        "SELECT window.end, session_window(ts, '1 minute') FROM t "
        "GROUP BY window(ts, '5 minutes', '1 minute'), session_window(ts, '1 minute')"
    )


def test_to_spark_sql_refuses_stream_statements() -> None:
    with pytest.raises(ValueError):
        to_spark_sql(parse_statement("CREATE STREAM v AS SELECT 1"))


def test_set_key_value() -> None:
    tree = parse_statement("SET spark.sql.shuffle.partitions = 4")
    assert [set_key_value(i) for i in tree.expressions] == [("spark.sql.shuffle.partitions", "4")]
    tree = parse_statement("SET 'spark.sql.x' = 'y'")
    assert [set_key_value(i) for i in tree.expressions] == [("spark.sql.x", "y")]
    tree = parse_statement("SET a.b = org.apache.X")
    assert [set_key_value(i) for i in tree.expressions] == [("a.b", "org.apache.X")]


# (input, message fragment, line, col) -- col is sqlglot's: the offending token's last column
PARSE_ERRORS: list[tuple[str, str, int, int]] = [
    (
        "CREATE STREAM orders (a STRING) topic = 'x'",
        "expected FROM KAFKA (...) after the column list of stream 'orders'",
        1,
        37,
    ),
    (
        "CREATE STREAM orders (a STRING) FROM KAFKA topic = 'x'",
        "expected '(' with the Kafka options",
        1,
        48,
    ),
    (
        "CREATE STREAM o (a STRING) FROM KAFKA (topic 'x')",
        "expected '=' after option 'topic'",
        1,
        48,
    ),
    (
        "CREATE STREAM o (a INT) FROM KAFKA (topic = 'x', TOPIC = 'y')",
        "option 'topic' is given twice",
        1,
        54,
    ),
    (
        "CREATE STREAM o (a INT) FROM KAFKA (kafka.group.id = 'x')",
        "option name with dots must be quoted: write 'kafka.group.id'",
        1,
        41,
    ),
    ("CREATE STREAM o (a INT) FROM KAFKA (topic = 'x',)", "expected an option name", 1, 49),
    (
        "CREATE STREAM o (a INT) FROM KAFKA (topic = SELECT)",
        "expected a value for option 'topic'",
        1,
        50,
    ),
    (
        "CREATE STREAM o (a INT) FROM KAFKA (topic = 'x') extra",
        "unexpected 'extra' after the Kafka options",
        1,
        54,
    ),
    ("CREATE STREAM o (a) FROM KAFKA (topic = 'x')", "expected a type after column 'a'", 1, 19),
    (
        "CREATE STREAM o (a STRING NOT NULL) FROM KAFKA (topic = 'x')",
        "unexpected 'NOT' after the type of column 'a'",
        1,
        29,
    ),
    (
        "CREATE STREAM o () FROM KAFKA (topic = 'x')",
        "the column list of stream 'o' is empty",
        1,
        18,
    ),
    (
        "CREATE STREAM o (a STRING HEADER) FROM KAFKA (topic = 'x')",
        "expected ('header-name') after HEADER",
        1,
        33,
    ),
    (
        "CREATE STREAM o (a STRING HEADER(x)) FROM KAFKA (topic = 'x')",
        "expected a quoted header name",
        1,
        34,
    ),
    (
        "CREATE STREAM o (a STRING METADATA FROM ts) FROM KAFKA (topic = 'x')",
        "expected a quoted Kafka field after METADATA FROM",
        1,
        42,
    ),
    (
        "CREATE STREAM o (a TIMESTAMP,\n  WATERMARK FOR a a) FROM KAFKA (topic = 'x')",
        "expected AS <delay expression> after WATERMARK FOR a",
        2,
        19,
    ),
    (
        (
            "CREATE STREAM o (a TIMESTAMP, WATERMARK FOR a AS a, WATERMARK FOR a AS a) "
            "FROM KAFKA (topic = 'x')"
        ),
        "more than one WATERMARK",
        1,
        61,
    ),
    (
        "CREATE STREAM o (a STRING b STRING) FROM KAFKA (topic = 'x')",
        "unexpected 'b' after the type of column 'a'",
        1,
        27,
    ),
    (
        "CREATE STREAM o (a STRING, b INT FROM KAFKA (topic = 'x')",
        "expected ')' to close the column list of stream 'o' before FROM KAFKA",
        1,
        37,
    ),
    (
        "CREATE STREAM o (a STRING KEY b INT) FROM KAFKA (topic = 'x')",
        "expected ',' or ')' in the column list of stream 'o', got 'b'",
        1,
        31,
    ),
    ("CREATE STREAM orders", "expected a column list (...) FROM KAFKA (...) or AS SELECT", 1, 20),
    ("CREATE STREAM", "expected a stream name after CREATE STREAM", 1, 13),
    ("CREATE STREAM a.b AS SELECT 1", "a stream name cannot be qualified", 1, 16),
    ("CREATE STREAM v AS 1", "expected a query (SELECT ...) after AS in CREATE STREAM v", 1, 20),
    ("CREATE OR REPLACE STREAM v AS SELECT 1", "CREATE OR REPLACE STREAM is not supported", 1, 6),
    (
        "CREATE STREAM v AS SELECT 1 SELECT 2",
        "unexpected 'SELECT' after the query of stream 'v'",
        1,
        34,
    ),
    ("INSERT INTO KAFKA 'x' SELECT 1", "expected TOPIC after INSERT INTO KAFKA", 1, 21),
    ("INSERT INTO KAFKA TOPIC x SELECT 1", "expected a topic after INSERT INTO KAFKA TOPIC", 1, 25),
    ("INSERT INTO KAFKA TOPIC (a SELECT 1", "expected ')' to close TOPIC (...)", 1, 33),
    ("INSERT INTO KAFKA TOPIC 'x' KEY a\nKEY b SELECT 1", "the KEY clause is given twice", 2, 3),
    (
        "INSERT INTO KAFKA TOPIC 'x' WITH (a = 1) WITH (b = 2) SELECT 1",
        "the WITH clause is given twice",
        1,
        45,
    ),
    (
        "INSERT INTO KAFKA TOPIC 'x' HEADERS h HEADERS ('a' = 1) SELECT 1",
        "the HEADERS clause is given twice",
        1,
        45,
    ),
    ("INSERT INTO KAFKA TOPIC 'x' PARTITIONS 3 SELECT 1", "unexpected 'PARTITIONS'", 1, 38),
    ("INSERT INTO KAFKA TOPIC 'x'", "expected KEY, PARTITION, HEADERS, FORMAT, VALUE", 1, 27),
    ("INSERT INTO KAFKA TOPIC 'x' FORMAT SELECT 1", "expected a format name after FORMAT", 1, 41),
    (
        "INSERT INTO KAFKA TOPIC 'x' HEADERS ('a' = ) SELECT 1",
        "expected an expression for header 'a'",
        1,
        44,
    ),
    (
        "INSERT INTO KAFKA TOPIC 'x' WITH (trigger = ) SELECT 1",
        "expected a value for option 'trigger'",
        1,
        45,
    ),
    ("INSERT INTO KAFKA TOPIC 'x' KEY SELECT 1", "expected an expression after KEY", 1, 38),
    ("INSERT INTO TOPIC 'x' SELECT 1", "expected KAFKA: write INSERT INTO KAFKA TOPIC", 1, 17),
    ("SELECT 1; SELECT 2", "expected one statement, found more than one", 1, 16),
    ("", "expected a statement", 1, 1),
]


@pytest.mark.parametrize(
    ("sql", "fragment", "line", "col"), PARSE_ERRORS, ids=lambda v: str(v)[:60]
)
def test_parse_errors(sql: str, fragment: str, line: int, col: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_statement(sql)
    error = info.value.errors[0]
    assert fragment in error["description"]
    assert (error["line"], error["col"]) == (line, col)
    # our errors also carry exact offsets; the highlight is the text at them
    if "start" in error and sql:
        assert sql[error["start"] : error["end"] + 1] == error["highlight"]


def test_malformed_stream_statement_is_not_a_command() -> None:
    for sql in (
        "CREATE STREAM",
        "CREATE STREAM x (",
        "INSERT INTO KAFKA",
        "INSERT INTO KAFKA TOPIC",
    ):
        with pytest.raises(ParseError):
            parse_statement(sql)


# --- statement splitting


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1;\nSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 'a;b' -- c;\n; /* x; */ ; SELECT `d;e`", ["SELECT 'a;b'", "SELECT `d;e`"]),
        ("", []),
        ("  -- only a comment;\n ; ;; /* more */", []),
        (
            (
                "CREATE STREAM s (a INT) FROM KAFKA (topic = 'x;y');\n"
                "INSERT INTO KAFKA TOPIC 'o' SELECT * FROM s;"
            ),
            [
                "CREATE STREAM s (a INT) FROM KAFKA (topic = 'x;y')",
                "INSERT INTO KAFKA TOPIC 'o' SELECT * FROM s",
            ],
        ),
    ],
)
def test_split_statements(sql: str, expected: list[str]) -> None:
    assert [sql[a:b] for a, b in split_statements(sql)] == expected


@pytest.mark.parametrize(
    ("sql", "offset", "line", "col"),
    [
        ("SELECT 1;\nSELECT 'abc", 17, 2, 8),
        ("SELECT 1; /* open", 10, 1, 11),
        ("SELECT `x", 7, 1, 8),
    ],
)
def test_split_statements_token_error(sql: str, offset: int, line: int, col: int) -> None:
    with pytest.raises(TokenError) as info:
        split_statements(sql)
    error = info.value
    assert isinstance(error, StatementSplitError)
    assert (error.offset, error.line, error.col) == (offset, line, col)


# --- positions


def _span(sql: str, node: exp.Expr) -> str:
    return sql[node.meta["start"] : node.meta["end"] + 1]


def test_positions_of_stream_nodes() -> None:
    sql = (
        "CREATE STREAM orders (\n"
        "  user_id STRING KEY,\n"
        "  ts TIMESTAMP METADATA FROM 'timestamp',\n"
        "  WATERMARK FOR ts AS ts - INTERVAL '5' SECONDS\n"
        ") FROM KAFKA (topic = 'orders', 'kafka.acks' = 'all')"
    )
    tree = parse_statement(sql)
    assert _span(sql, tree) == sql
    assert _span(sql, tree.this) == "orders"
    user_id, ts = tree.args["columns"]
    assert _span(sql, user_id) == "user_id STRING KEY"
    assert user_id.meta["start"] == sql.index("user_id")
    assert _span(sql, user_id.this) == "user_id"
    assert _span(sql, ts.args["ref"]) == "'timestamp'"
    assert _span(sql, tree.args["watermark"]) == "WATERMARK FOR ts AS ts - INTERVAL '5' SECONDS"
    topic, acks = tree.args["options"]
    assert _span(sql, topic) == "topic = 'orders'"
    assert _span(sql, topic.this) == "topic"
    assert _span(sql, topic.expression) == "'orders'"
    assert _span(sql, acks.this) == "'kafka.acks'"


def test_positions_of_insert_nodes() -> None:
    sql = (
        "INSERT INTO KAFKA TOPIC (CASE WHEN a THEN 'x' END)\n"
        "  HEADERS ('h' = a)\n"
        "  FORMAT JSON\n"
        "  WITH (trigger = continuous '1 second')\n"
        "SELECT a FROM t"
    )
    tree = parse_statement(sql)
    assert _span(sql, tree) == sql
    assert _span(sql, tree.args["topic"]) == "(CASE WHEN a THEN 'x' END)"
    assert _span(sql, tree.args["headers"][0]) == "'h' = a"
    assert _span(sql, tree.args["format"]) == "JSON"
    (trigger,) = tree.args["options"]
    assert _span(sql, trigger.expression) == "continuous '1 second'"


def test_every_leaf_has_a_position() -> None:
    sql = (
        "INSERT INTO KAFKA TOPIC 'o' KEY user_id WITH (trigger = once)\n"
        "SELECT window.end AS e, user_id, sum(amount) AS s, INTERVAL '10 minutes' AS i,\n"
        "       INTERVAL 5 SECONDS AS j, CAST(x AS DECIMAL(10, 2)) AS d\n"
        "FROM orders GROUP BY window(event_time, '5 minutes'), user_id"
    )
    tree = parse_statement(sql)
    for node in tree.walk():
        if isinstance(node, (exp.Identifier, exp.Literal, exp.Var)):
            assert "start" in node.meta and "end" in node.meta, repr(node)
            assert 0 <= node.meta["start"] <= node.meta["end"] < len(sql)
    unit = next(n for n in tree.find_all(exp.Interval) if n.this.name == "5").args["unit"]
    assert _span(sql, unit) == "SECONDS"
    five = next(n for n in tree.find_all(exp.Interval) if n.this.name == "5").this
    assert _span(sql, five) == "5"


def test_set_positions() -> None:
    sql = "SET spark.sql.shuffle.partitions = 4"
    tree = parse_statement(sql)
    literal = next(tree.find_all(exp.Literal))
    assert _span(sql, literal) == "4"
