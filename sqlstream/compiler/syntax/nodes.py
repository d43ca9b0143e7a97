"""The statements of a sqlstream file, as typed dataclasses.

Only the statement layer is ours: the embedded Spark SQL (queries, clause expressions, column
types, watermark delays) stays sqlglot nodes, parsed by stock Spark. ``span`` fields hold
0-based character offsets (end inclusive) into the text that was parsed, and take no part in
equality, so a statement parsed from generated text equals the original.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from sqlglot import exp


@dataclass(frozen=True)
class Span:
    """Offsets of a node in the rendered text of its file."""

    start: int
    end: int
    """Inclusive, like sqlglot's token ``end``."""


def _span() -> t.Any:
    return field(default=Span(0, 0), compare=False, repr=False)


@dataclass
class Name:
    """A stream or column name: a bare word or a `quoted` identifier."""

    text: str
    quoted: bool = False
    span: Span = _span()


@dataclass
class Text:
    """A quoted string of a statement (a header name, a Kafka field, a topic) or a bare word
    (a FORMAT name, lowercased)."""

    value: str
    quoted: bool = True
    span: Span = _span()


@dataclass
class OptionValue:
    """The value of ``key = value``: ``kind`` is ``string``, ``number``, ``boolean`` or ``word``.

    ``continuous '5 seconds'`` (a word and a string) is one string, ``continuous 5 seconds``,
    read the same way as ``'10 seconds'``.
    """

    text: str
    kind: str
    span: Span = _span()


@dataclass
class Option:
    """``key = value`` in ``FROM KAFKA (...)`` or ``INSERT ... WITH (...)``."""

    key: str
    quoted: bool
    value: OptionValue
    key_span: Span = _span()
    span: Span = _span()

    @property
    def name(self) -> str:
        """Bare keys lowercased (case-insensitive like keywords), quoted keys as written (Kafka
        client properties are case-sensitive)."""
        return self.key if self.quoted else self.key.lower()


#: The role of a Kafka source column (the same words as ``plan.ColumnRole``).
Role = t.Literal["value", "key", "header", "headers", "metadata"]


@dataclass
class StreamColumn:
    """A column of a Kafka source. ``role``: ``value`` (a field of the record value), ``key``,
    ``header`` (``ref`` = the header name), ``headers`` (all of them) or ``metadata`` (``ref`` =
    the Kafka field, e.g. 'timestamp')."""

    name: Name
    type: exp.DataType
    role: Role = "value"
    ref: Text | None = None
    span: Span = _span()


@dataclass
class Watermark:
    """``WATERMARK FOR <column> AS <delay>``."""

    column: exp.Column
    delay: exp.Expr
    span: Span = _span()


@dataclass
class CreateKafkaStream:
    """``CREATE STREAM name (columns) FROM KAFKA (options)``."""

    name: Name
    columns: list[StreamColumn]
    watermark: Watermark | None = None
    options: list[Option] = field(default_factory=list)
    span: Span = _span()


@dataclass
class CreateTable:
    """``CREATE TABLE name (columns, PRIMARY KEY (k)) FROM KAFKA | FILES | JDBC (options)``: a
    reference table that a stream is joined to (its value at processing time)."""

    name: Name
    columns: list[StreamColumn]
    primary_key: list[Name]
    connector: Text
    """``kafka``, ``files`` or ``jdbc`` (lowercased, as written after FROM)."""
    options: list[Option] = field(default_factory=list)
    span: Span = _span()


@dataclass
class CreateDerivedStream:
    """``CREATE STREAM name AS <query>``: a named view over other streams."""

    name: Name
    query: exp.Query
    span: Span = _span()


@dataclass
class HeaderPair:
    """``'name' = expr`` inside ``HEADERS (...)``."""

    key: Text
    value: exp.Expr
    span: Span = _span()


@dataclass
class InsertKafka:
    """``INSERT INTO KAFKA TOPIC <topic> [clauses] <query>``.

    ``topic`` is a :class:`Text` or an ``exp.Paren`` (per-row routing); ``key`` any expression
    (an ``exp.Tuple`` for ``KEY (a, b)``); ``headers`` the pairs of ``HEADERS (...)``,
    ``headers_expr`` the expression of ``HEADERS <array expr>``; ``format`` a lowercased word.
    """

    topic: Text | exp.Expr
    query: exp.Query
    key: exp.Expr | None = None
    partition: exp.Expr | None = None
    headers: list[HeaderPair] | None = None
    headers_expr: exp.Expr | None = None
    format: Text | None = None
    value: exp.Expr | None = None
    options: list[Option] = field(default_factory=list)
    changelog: Text | None = None
    """``CHANGELOG``: each change of a group's result is a record keyed by the group."""
    span: Span = _span()


@dataclass
class SetItem:
    """``key = value`` of a SET. ``key``/``value`` are the text Spark's conf gets (quotes
    removed, dotted names as written); ``key_sql``/``value_sql`` what the user wrote."""

    key: str
    value: str
    key_sql: str = field(default="", compare=False)
    value_sql: str = field(default="", compare=False)
    span: Span = _span()


@dataclass
class SetStatement:
    """``SET key = value, ...``: Spark confs for the run."""

    items: list[SetItem]
    span: Span = _span()


@dataclass
class QueryStatement:
    """A bare query (an error in ``run``; an input of ``test``)."""

    query: exp.Query
    span: Span = _span()


Statement = t.Union[
    CreateKafkaStream, CreateDerivedStream, CreateTable, InsertKafka, SetStatement, QueryStatement
]

#: Nodes that carry a ``span``.
Spanned = t.Union[
    Statement, Name, Text, OptionValue, Option, StreamColumn, Watermark, HeaderPair, SetItem
]
