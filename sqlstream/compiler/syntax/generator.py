"""Statements back to text: ours for the statement layer, sqlglot's Spark for embedded SQL.

``parse(generate(s)) == s`` for every statement (tests/compiler/test_dialect.py), in the
one-line and the pretty form.
"""

from __future__ import annotations

import typing as t

from sqlglot import exp

from sqlstream.compiler.syntax import nodes as n
from sqlstream.compiler.syntax.spark import to_spark_sql


def generate(node: n.Statement, pretty: bool = False) -> str:
    """SQL text of a statement."""
    return GENERATORS[type(node)](node, pretty)


def _sql(node: exp.Expr, pretty: bool = False) -> str:
    return to_spark_sql(node, pretty=pretty)


def _string(value: str) -> str:
    return exp.Literal.string(value).sql("spark")


def _name(name: n.Name) -> str:
    if name.quoted:
        return "`" + name.text.replace("`", "``") + "`"
    return name.text


def _text(text: n.Text) -> str:
    return _string(text.value) if text.quoted else text.value


def _list(items: list[str], pretty: bool) -> str:
    if pretty and items:
        return "(\n  " + ",\n  ".join(items) + "\n)"
    return "(" + ", ".join(items) + ")"


_ROLES: dict[str, t.Callable[[n.StreamColumn], str]] = {
    "value": lambda c: "",
    "key": lambda c: " KEY",
    "header": lambda c: f" HEADER({_text(t.cast(n.Text, c.ref))})",
    "headers": lambda c: " HEADERS",
    "metadata": lambda c: f" METADATA FROM {_text(c.ref)}" if c.ref else " METADATA",
}

_VALUES: dict[str, t.Callable[[str], str]] = {
    "string": _string,
    "number": lambda text: text,
    "boolean": lambda text: text.upper(),
    "word": lambda text: text,
}


def _column(c: n.StreamColumn) -> str:
    return f"{_name(c.name)} {_sql(c.type)}{_ROLES[c.role](c)}"


def _option(o: n.Option) -> str:
    key = _string(o.key) if o.quoted else o.key
    return f"{key} = {_VALUES[o.value.kind](o.value.text)}"


def _kafka_stream(s: n.CreateKafkaStream, pretty: bool) -> str:
    items = [_column(c) for c in s.columns]
    if s.watermark is not None:
        w = s.watermark
        items.append(f"WATERMARK FOR {_sql(w.column)} AS {_sql(w.delay)}")
    options = _list([_option(o) for o in s.options], pretty)
    return f"CREATE STREAM {_name(s.name)} {_list(items, pretty)} FROM KAFKA {options}"


def _table(s: n.CreateTable, pretty: bool) -> str:
    items = [_column(c) for c in s.columns]
    items.append(f"PRIMARY KEY ({', '.join(_name(k) for k in s.primary_key)})")
    options = _list([_option(o) for o in s.options], pretty)
    connector = s.connector.value.upper()
    return f"CREATE TABLE {_name(s.name)} {_list(items, pretty)} FROM {connector} {options}"


def _derived_stream(s: n.CreateDerivedStream, pretty: bool) -> str:
    return f"CREATE STREAM {_name(s.name)} AS{chr(10) if pretty else ' '}{_sql(s.query, pretty)}"


def _headers(s: n.InsertKafka) -> str | None:
    if s.headers:
        return "HEADERS (" + ", ".join(f"{_text(h.key)} = {_sql(h.value)}" for h in s.headers) + ")"
    if s.headers_expr is not None:
        return f"HEADERS {_sql(s.headers_expr)}"
    return None


#: The clauses of INSERT INTO KAFKA, in their documented order: clause -> its text or None.
_INSERT_CLAUSES: list[t.Callable[[n.InsertKafka], str | None]] = [
    lambda s: "CHANGELOG" if s.changelog is not None else None,
    lambda s: f"KEY {_sql(s.key)}" if s.key is not None else None,
    lambda s: f"PARTITION {_sql(s.partition)}" if s.partition is not None else None,
    _headers,
    lambda s: f"FORMAT {_text(s.format)}" if s.format is not None else None,
    lambda s: f"VALUE {_sql(s.value)}" if s.value is not None else None,
    lambda s: "WITH (" + ", ".join(map(_option, s.options)) + ")" if s.options else None,
]


def _insert_kafka(s: n.InsertKafka, pretty: bool) -> str:
    topic = _text(s.topic) if isinstance(s.topic, n.Text) else _sql(s.topic)
    parts = [f"INSERT INTO KAFKA TOPIC {topic}"]
    parts.extend(part for clause in _INSERT_CLAUSES if (part := clause(s)) is not None)
    parts.append(_sql(s.query, pretty))
    return ("\n" if pretty else " ").join(parts)


def _set(s: n.SetStatement, pretty: bool) -> str:
    return "SET " + ", ".join(f"{i.key_sql or i.key} = {i.value_sql or i.value}" for i in s.items)


def _query(s: n.QueryStatement, pretty: bool) -> str:
    return _sql(s.query, pretty)


GENERATORS: dict[type, t.Callable[[t.Any, bool], str]] = {
    n.CreateKafkaStream: _kafka_stream,
    n.CreateDerivedStream: _derived_stream,
    n.CreateTable: _table,
    n.InsertKafka: _insert_kafka,
    n.SetStatement: _set,
    n.QueryStatement: _query,
}
