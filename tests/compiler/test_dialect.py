"""The sqlstream syntax: round trips, node types, parse errors, statement splitting, positions.

Pure Python: no JVM, no Kafka. Runs the same on pure sqlglot and on its compiled build.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from sqlstream.compiler import syntax
from sqlstream.compiler.syntax import (
    CreateDerivedStream,
    CreateKafkaStream,
    CreateTable,
    HeaderPair,
    InsertKafka,
    Option,
    QueryStatement,
    SetStatement,
    StreamColumn,
    SyntaxProblem,
    Text,
    Watermark,
    generate,
    is_window_call,
    node_span,
    parse_statement,
    parse_tokens,
    split,
    to_spark_sql,
    tokenize,
)
from sqlstream.compiler.syntax.spark import MAX_DEPTH

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
    # --- tables
    (
        "CREATE TABLE p (product STRING, category STRING, PRIMARY KEY (product)) "
        "FROM KAFKA (topic = 'products', format = 'json')",
        None,
        CreateTable,
    ),
    (
        "CREATE TABLE r (a STRING, b INT, PRIMARY KEY (a, b)) "
        "FROM FILES (path = 'r.csv', format = 'csv')",
        None,
        CreateTable,
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
    (
        "INSERT INTO KAFKA TOPIC 'out' CHANGELOG KEY a SELECT a, COUNT(*) AS n FROM t GROUP BY a",
        None,
        InsertKafka,
    ),
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
    ("SET spark.sql.shuffle.partitions = 4", None, SetStatement),
    ("SET 'spark.sql.x' = 'y'", None, SetStatement),
    ("SET spark.sql.streaming.stateStore.providerClass = org.apache.X", None, SetStatement),
    # --- Spark streaming functions and everyday Spark
    (
        "SELECT window(ts, '5 minutes') FROM t GROUP BY window(ts, '5 minutes')",
        None,
        QueryStatement,
    ),
    (
        "SELECT a FROM t GROUP BY WINDOW(ts, '10 minutes', '5 minutes', '1 minute'), a",
        "SELECT a FROM t GROUP BY window(ts, '10 minutes', '5 minutes', '1 minute'), a",
        QueryStatement,
    ),
    (
        "SELECT count(*) FROM t GROUP BY session_window(ts, '5 minutes')",
        "SELECT COUNT(*) FROM t GROUP BY session_window(ts, '5 minutes')",
        QueryStatement,
    ),
    (
        "SELECT window.start, window.end, w.window.end FROM t AS w WHERE window.start > 1",
        None,
        QueryStatement,
    ),
    ("SELECT a FROM t WHERE window(ts, '1 minute').start > x", None, QueryStatement),
    ("SELECT SUM(x) OVER w FROM t GROUP BY a WINDOW w AS (PARTITION BY y)", None, QueryStatement),
    ("SELECT SUM(x) OVER (PARTITION BY y ORDER BY z) FROM t", None, QueryStatement),
    ("SELECT FILTER(headers, h -> h.key = 'x'), ELEMENT_AT(m, 'k') FROM t", None, QueryStatement),
    (
        "SELECT INTERVAL '10' MINUTES, INTERVAL 10 MINUTES",
        "SELECT INTERVAL '10' MINUTES, INTERVAL '10' MINUTES",
        QueryStatement,
    ),
    (
        "SELECT CAST(x AS BINARY), named_struct('a', 1), struct(a, b), to_json(struct(*)) FROM t",
        (
            "SELECT CAST(x AS BINARY), STRUCT(1 AS a), STRUCT(a AS a, b AS b), TO_JSON(STRUCT(*)) "
            "FROM t"
        ),
        QueryStatement,
    ),
    ("SELECT CASE WHEN a > 1 THEN 'x' ELSE 'y' END FROM t", None, QueryStatement),
    # calls print upper case, as sqlglot prints them; a qualified one keeps its case
    (
        "SELECT my_udf(x), db.fn(x), `quoted`(x) FROM t",
        "SELECT MY_UDF(x), db.fn(x), `quoted`(x) FROM t",
        QueryStatement,
    ),
    (
        "SELECT key, value, topic, partition, offset, timestamp, timestampType, headers FROM t",
        None,
        QueryStatement,
    ),
    (
        "SELECT 1 AS key, 2 AS value, 3 AS format, 4 AS stream, 5 AS kafka, 6 AS topic",
        None,
        QueryStatement,
    ),
]


def _no_command(tree: object) -> None:
    queries = [v for v in vars(tree).values() if isinstance(v, exp.Expr)]
    assert not any(isinstance(n, exp.Command) for q in queries for n in q.walk())


@pytest.mark.parametrize(("sql", "expected", "root"), ROUND_TRIPS, ids=lambda v: str(v)[:60])
def test_round_trip(sql: str, expected: str | None, root: type) -> None:
    tree = parse_statement(sql)
    assert isinstance(tree, root)
    _no_command(tree)
    out = generate(tree)
    assert out == (expected or sql)
    again = parse_statement(out)
    assert again == tree
    assert parse_statement(generate(tree, pretty=True)) == tree


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
    assert tree.name.text == "orders"
    columns = tree.columns
    assert all(isinstance(c, StreamColumn) for c in columns)
    assert [(c.name.text, c.role) for c in columns] == [
        ("order_id", "value"),
        ("user_id", "key"),
        ("trace_id", "header"),
        ("all_headers", "headers"),
        ("kafka_ts", "metadata"),
        ("event_time", "value"),
    ]
    assert columns[2].ref == Text("trace-id")
    assert columns[4].ref == Text("timestamp")
    assert isinstance(columns[3].type, exp.DataType)
    assert columns[3].type.is_type("array")
    watermark = tree.watermark
    assert isinstance(watermark, Watermark)
    assert isinstance(watermark.column, exp.Column) and watermark.column.name == "event_time"
    assert isinstance(watermark.delay, exp.Sub)
    assert isinstance(watermark.delay.expression, exp.Interval)
    options = tree.options
    assert all(isinstance(o, Option) for o in options)
    assert [o.name for o in options] == ["topic", "kafka.group.id", "max_offsets_per_trigger"]
    assert [o.quoted for o in options] == [False, True, False]
    assert (options[2].value.kind, options[2].value.text) == ("number", "10")


def test_option_value_nodes() -> None:
    tree = parse_statement(
        "INSERT INTO KAFKA TOPIC 'o' WITH (TRIGGER = once, a = continuous '1 second', "
        "b = true, c = -3, d = 'x') SELECT 1"
    )
    assert isinstance(tree, InsertKafka)
    values = {o.name: (o.value.kind, o.value.text) for o in tree.options}
    assert values == {
        "trigger": ("word", "once"),
        "a": ("string", "continuous 1 second"),
        "b": ("boolean", "true"),
        "c": ("number", "-3"),
        "d": ("string", "x"),
    }


def test_insert_kafka_shape() -> None:
    tree = parse_statement(
        "INSERT INTO KAFKA TOPIC (CASE WHEN a THEN 'x' ELSE 'y' END) KEY (a, b) "
        "PARTITION 1 HEADERS ('h' = a) FORMAT Json VALUE a WITH (name = 'n') SELECT a, b FROM t"
    )
    assert isinstance(tree, InsertKafka)
    assert isinstance(tree.topic, exp.Paren)
    assert isinstance(tree.topic.this, exp.Case)
    assert isinstance(tree.key, exp.Tuple)
    assert tree.partition == exp.Literal.number(1)
    assert tree.headers is not None
    (pair,) = tree.headers
    assert isinstance(pair, HeaderPair) and pair.key == Text("h")
    assert tree.headers_expr is None
    assert tree.format == Text("json", quoted=False)
    assert isinstance(tree.value, exp.Column)
    assert [o.name for o in tree.options] == ["name"]
    assert isinstance(tree.query, exp.Select)

    plain = parse_statement("INSERT INTO KAFKA TOPIC 'x' HEADERS hs SELECT hs FROM t")
    assert isinstance(plain, InsertKafka)
    assert plain.topic == Text("x")
    assert plain.headers is None
    assert isinstance(plain.headers_expr, exp.Column)


@pytest.mark.parametrize(
    ("clauses", "key", "value"),
    [
        # a clause word is a clause after an operand, a name after an operator or a dot
        ("KEY key VALUE value", "key", "value"),
        ("KEY a || format VALUE t.key", "a || format", "t.key"),
        ("KEY CASE WHEN a THEN key ELSE value END", "CASE WHEN a THEN key ELSE value END", None),
    ],
)
def test_clause_extents(clauses: str, key: str, value: str | None) -> None:
    tree = parse_statement(f"INSERT INTO KAFKA TOPIC 'o' {clauses} SELECT 1")
    assert isinstance(tree, InsertKafka)
    assert tree.key is not None and to_spark_sql(tree.key) == key
    assert (to_spark_sql(tree.value) if tree.value is not None else None) == value


def test_window_calls() -> None:
    tree = parse_statement(
        "SELECT window.end, session_window(ts, '1 minute') FROM t "
        "GROUP BY WINDOW(ts, '5 minutes', '1 minute'), session_window(ts, '1 minute'), "
        "window(ts)"
    )
    assert isinstance(tree, QueryStatement)
    calls = [c for c in tree.query.find_all(exp.Anonymous) if is_window_call(c)]
    assert sorted(c.name for c in calls) == ["session_window", "session_window", "window"]
    wrong_arity = [c for c in tree.query.find_all(exp.Anonymous) if not is_window_call(c)]
    assert [c.name for c in wrong_arity] == ["window"]
    assert to_spark_sql(tree.query) == (
        "SELECT window.end, session_window(ts, '1 minute') FROM t "
        "GROUP BY window(ts, '5 minutes', '1 minute'), session_window(ts, '1 minute'), "
        "window(ts)"
    )


def test_set_items() -> None:
    cases = {
        "SET spark.sql.shuffle.partitions = 4": [("spark.sql.shuffle.partitions", "4")],
        "SET 'spark.sql.x' = 'y'": [("spark.sql.x", "y")],
        "SET a.b = org.apache.X": [("a.b", "org.apache.X")],
        "SET a = 1, b = TRUE, c = -1": [("a", "1"), ("b", "true"), ("c", "-1")],
    }
    for sql, expected in cases.items():
        tree = parse_statement(sql)
        assert isinstance(tree, SetStatement)
        assert [(i.key, i.value) for i in tree.items] == expected


def test_long_and_chain_is_balanced_and_prints_the_same() -> None:
    terms = [f"a = {i}" for i in range(1000)]
    tree = parse_statement("SELECT a FROM t WHERE " + " AND ".join(terms))
    assert isinstance(tree, QueryStatement)
    where = tree.query.args["where"].this
    depth, node = 0, where
    while isinstance(node, exp.And):
        node, depth = node.this, depth + 1
    assert depth <= 11
    assert to_spark_sql(tree.query) == "SELECT a FROM t WHERE " + " AND ".join(terms)


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
    # statements we do not know are refused by our dispatch table, before sqlglot sees them
    ("INSERT INTO t SELECT 1", "this statement (INSERT) is not supported", 1, 6),
    ("CREATE VIEW v AS SELECT 1", "this statement (CREATE) is not supported", 1, 6),
    ("CREATE TABLE t (a INT)", "table 't' needs a PRIMARY KEY", 1, 22),
    (
        "CREATE TABLE t (a INT, PRIMARY KEY (a)) FROM S3 (x = 1)",
        "expected FROM KAFKA (...), FROM FILES (...) or FROM JDBC (...)",
        1,
        47,
    ),
    ("SHOW TABLES", "this statement (SHOW) is not supported", 1, 4),
    ("SET a", "expected SET key = value", 1, 5),
    ("SET a = ", "expected a value after '=' in SET", 1, 7),
    # what sqlglot would drop silently, or keep for Spark to refuse when the run starts
    ("SELECT a, , b FROM t", "an item of the list is missing", 1, 11),
    ("SELECT f(a, ) FROM t", "an item of the list is missing", 1, 11),
    ("SELECT a, FROM t", "an item of the list is missing", 1, 9),
    ("INSERT INTO KAFKA TOPIC 'x' HEADERS $$('k' = a) SELECT a FROM t", "unexpected '$'", 1, 37),
    ("SELECT " + "abs(" * 40 + "a" + ")" * 40, "nested too deeply", 1, 7 + 4 * 33),
]


def _line_col(sql: str, offset: int) -> tuple[int, int]:
    return sql.count("\n", 0, offset) + 1, offset - (sql.rfind("\n", 0, offset) + 1) + 1


@pytest.mark.parametrize(
    ("sql", "fragment", "line", "col"), PARSE_ERRORS, ids=lambda v: str(v)[:60]
)
def test_parse_errors(sql: str, fragment: str, line: int, col: int) -> None:
    with pytest.raises(SyntaxProblem) as info:
        parse_statement(sql)
    error = info.value
    assert fragment in error.message
    # (line, col of the offending token's last character), as sqlglot counts
    assert _line_col(sql, error.end) == (line, col)
    assert 0 <= error.start <= error.end


PARSE_HINTS = [
    ("INSERT INTO KAFKA TOPIC user-spending SELECT 1", "quote it: TOPIC 'user-spending'"),
    ("INSERT INTO KAFKA TOPIC out.v2 KEY a SELECT 1", "quote it: TOPIC 'out.v2'"),
    ("INSERT INTO KAFKA TOPIC 'x' KEY a KEY b SELECT 1", "keep one KEY clause"),
    ("CREATE STREAM s (a INT, b INT,) FROM KAFKA (topic = 't')", "remove the ',' before the ')'"),
]


@pytest.mark.parametrize(("sql", "hint"), PARSE_HINTS, ids=lambda v: str(v)[:60])
def test_parse_error_hints(sql: str, hint: str) -> None:
    with pytest.raises(SyntaxProblem) as info:
        parse_statement(sql)
    assert info.value.hint == hint


def test_depth_limit_is_a_limit() -> None:
    ok = "SELECT " + "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH + " FROM t"
    assert isinstance(parse_statement(ok), QueryStatement)
    for deep in (
        "SELECT " + "f(" * 3000 + "a" + ")" * 3000,
        "SELECT " + "CASE WHEN a THEN " * 3000 + "1" + " END" * 3000,
        "SELECT " + "(SELECT " * 3000 + "1" + ")" * 3000,
        "CREATE STREAM s (a " + "ARRAY<" * 3000 + "INT" + ">" * 3000 + ") FROM KAFKA ()",
    ):
        with pytest.raises(SyntaxProblem, match="nested too deeply"):
            parse_statement(deep)


def test_malformed_stream_statement_is_not_a_command() -> None:
    for sql in (
        "CREATE STREAM",
        "CREATE STREAM x (",
        "INSERT INTO KAFKA",
        "INSERT INTO KAFKA TOPIC",
    ):
        with pytest.raises(SyntaxProblem):
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
def test_split(sql: str, expected: list[str]) -> None:
    parts = split(tokenize(sql))
    assert [sql[p[0].start : p[-1].end + 1] for p in parts] == expected


@pytest.mark.parametrize(
    ("sql", "offset", "message"),
    [
        ("SELECT 1;\nSELECT 'abc", 17, "unterminated string"),
        ("SELECT 1; /* open", 10, "unterminated comment"),
        ("SELECT `x", 7, "unterminated quoted identifier"),
        ("SELECT 'it''s', \"a\\\"b\" /* c */ , 'open", 33, "unterminated string"),
    ],
)
def test_tokenize_error(sql: str, offset: int, message: str) -> None:
    with pytest.raises(SyntaxProblem) as info:
        tokenize(sql)
    assert (info.value.start, info.value.message) == (offset, message)


# --- positions


def _span(sql: str, node: object) -> str:
    if isinstance(node, exp.Expr):
        found = node_span(node)
        assert found is not None
        start, end = found
    else:
        span = node.span  # type: ignore[attr-defined]
        start, end = span.start, span.end
    return sql[start : end + 1]


def test_positions_of_stream_nodes() -> None:
    sql = (
        "CREATE STREAM orders (\n"
        "  user_id STRING KEY,\n"
        "  ts TIMESTAMP METADATA FROM 'timestamp',\n"
        "  WATERMARK FOR ts AS ts - INTERVAL '5' SECONDS\n"
        ") FROM KAFKA (topic = 'orders', 'kafka.acks' = 'all')"
    )
    tree = parse_statement(sql)
    assert isinstance(tree, CreateKafkaStream)
    assert _span(sql, tree) == sql
    assert _span(sql, tree.name) == "orders"
    user_id, ts = tree.columns
    assert _span(sql, user_id) == "user_id STRING KEY"
    assert _span(sql, user_id.name) == "user_id"
    assert _span(sql, ts.ref) == "'timestamp'"
    assert _span(sql, tree.watermark) == "WATERMARK FOR ts AS ts - INTERVAL '5' SECONDS"
    topic, acks = tree.options
    assert _span(sql, topic) == "topic = 'orders'"
    assert sql[topic.key_span.start : topic.key_span.end + 1] == "topic"
    assert _span(sql, topic.value) == "'orders'"
    assert sql[acks.key_span.start : acks.key_span.end + 1] == "'kafka.acks'"


def test_positions_of_insert_nodes() -> None:
    sql = (
        "INSERT INTO KAFKA TOPIC (CASE WHEN a THEN 'x' END)\n"
        "  HEADERS ('h' = a)\n"
        "  FORMAT JSON\n"
        "  WITH (trigger = continuous '1 second')\n"
        "SELECT a FROM t"
    )
    tree = parse_statement(sql)
    assert isinstance(tree, InsertKafka)
    assert _span(sql, tree) == sql
    assert _span(sql, tree.topic) == "(CASE WHEN a THEN 'x' END)"
    assert tree.headers is not None
    assert _span(sql, tree.headers[0]) == "'h' = a"
    assert _span(sql, tree.format) == "JSON"
    (trigger,) = tree.options
    assert _span(sql, trigger.value) == "continuous '1 second'"


def test_positions_are_offsets_into_the_whole_text() -> None:
    sql = "SELECT 1;\n\nINSERT INTO KAFKA TOPIC 'o' KEY k SELECT k FROM t"
    _, second = split(tokenize(sql))
    tree = parse_tokens(second, sql)
    assert isinstance(tree, InsertKafka) and tree.key is not None
    assert _span(sql, tree.key) == "k"
    assert _span(sql, tree.query) == "k FROM t"


def test_every_leaf_has_a_position() -> None:
    sql = (
        "INSERT INTO KAFKA TOPIC 'o' KEY user_id WITH (trigger = once)\n"
        "SELECT window.end AS e, user_id, sum(amount) AS s, INTERVAL '10 minutes' AS i,\n"
        "       INTERVAL 5 SECONDS AS j, CAST(x AS DECIMAL(10, 2)) AS d, *, TRUE, NULL\n"
        "FROM orders GROUP BY window(event_time, '5 minutes'), user_id"
    )
    tree = parse_statement(sql)
    assert isinstance(tree, InsertKafka)
    for node in tree.query.walk():
        if isinstance(node, (exp.Identifier, exp.Literal, exp.Var, exp.Star, exp.Boolean)):
            assert "start" in node.meta and "end" in node.meta, repr(node)
            assert 0 <= node.meta["start"] <= node.meta["end"] < len(sql)
    interval = next(n for n in tree.query.find_all(exp.Interval) if n.this.name == "5")
    assert _span(sql, interval.args["unit"]) == "SECONDS"
    assert _span(sql, interval.this) == "5"
    assert _span(sql, next(tree.query.find_all(exp.Star))) == "*"


def test_set_positions() -> None:
    sql = "SET spark.sql.shuffle.partitions = 4"
    tree = parse_statement(sql)
    assert isinstance(tree, SetStatement)
    assert _span(sql, tree.items[0]) == "spark.sql.shuffle.partitions = 4"


EXPRESSIONS = [
    "window(ts, '5 minutes')",
    "ts - INTERVAL '1' MINUTE",
    "NOT (a.b = 1 OR -c <> 2) AND d IS NULL",
    "CAST(x AS VARCHAR)",
    "(SELECT max(a) FROM t LIMIT 1) + 1",
    "(SELECT a FROM t QUALIFY row_number() OVER (ORDER BY a) = 1) + 1",  # rewritten in place
    "CAST(x AS FLOAT(53))",  # rewritten in place (FLOAT(53) -> DOUBLE)
    "concat_ws('-', a, b)",
    "x.window(1)",
]


GOLDEN = Path(__file__).parent / "golden" / "rendered"
CASES = (
    [(c[0], True) for c in ROUND_TRIPS]
    + [(e, False) for e in EXPRESSIONS]
    + [(f"golden/{f.name}", True) for f in sorted(GOLDEN.glob("*.sql"))]
)


def _roots(sql: str, statement: bool) -> list[exp.Expr]:
    if not statement:
        return [sqlglot.parse_one(sql, "spark")]
    if sql.startswith("golden/"):
        text = (GOLDEN / sql.removeprefix("golden/")).read_text()
        return [r for ts in split(tokenize(text)) for r in _trees(parse_tokens(ts, text))]
    return _trees(parse_statement(sql))


@pytest.mark.parametrize(("sql", "statement"), CASES, ids=lambda v: str(v)[:60])
def test_expression_sql_is_the_generators_text_and_changes_nothing(
    sql: str, statement: bool
) -> None:
    """``to_spark_sql`` and ``syntax.expression_sql`` skip the generator's copy of a tree it
    writes as it is (``written_as_is``): for every case, and every node of it, the text is the
    generator's own (on a copy) and the tree is as it was."""
    for root in _roots(sql, statement):
        before = root.copy()
        assert to_spark_sql(root) == root.sql("spark", normalize_functions=False)
        for node in list(root.walk()):
            expected = node.sql("spark")  # copies what it writes
            assert syntax.expression_sql(node) == expected, node
        assert root == before and repr(root) == repr(before)


def _trees(value: object) -> list[exp.Expr]:
    """The sqlglot trees of a statement node, in its fields and theirs."""
    if isinstance(value, exp.Expr):
        return [value]
    if isinstance(value, (list, tuple)):
        return [tree for v in value for tree in _trees(v)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [tree for f in dataclasses.fields(value) for tree in _trees(getattr(value, f.name))]
    return []
