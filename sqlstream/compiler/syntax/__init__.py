"""sqlstream's syntax: statements parsed by our own parser over stock sqlglot's Spark tokens.

``parse_statement`` / ``split`` / ``parse_tokens`` read; ``generate`` writes a statement back;
``to_spark_sql`` writes an embedded query or expression as Spark accepts it. Errors are
:class:`SyntaxProblem` with exact offsets.
"""

from __future__ import annotations

import typing as t

from sqlglot.tokens import Token, TokenType

from sqlstream.compiler.syntax import nodes
from sqlstream.compiler.syntax.generator import generate
from sqlstream.compiler.syntax.nodes import (
    CreateDerivedStream,
    CreateKafkaStream,
    CreateTable,
    HeaderPair,
    InsertKafka,
    Name,
    Option,
    OptionValue,
    QueryStatement,
    SetItem,
    SetStatement,
    Span,
    Statement,
    StreamColumn,
    Text,
    Watermark,
)
from sqlstream.compiler.syntax.parser import Parser
from sqlstream.compiler.syntax.spark import (
    SyntaxProblem,
    balanced_and,
    expression_sql,
    find_all,
    is_window_call,
    long_filter,
    long_filter_columns,
    node_span,
    plain_columns,
    to_spark_sql,
    tokenize,
    type_sql,
    uses_window_function,
    walk,
)

__all__ = [
    "CreateDerivedStream",
    "CreateTable",
    "CreateKafkaStream",
    "HeaderPair",
    "InsertKafka",
    "Name",
    "Option",
    "OptionValue",
    "QueryStatement",
    "SetItem",
    "SetStatement",
    "Span",
    "Statement",
    "StreamColumn",
    "SyntaxProblem",
    "Text",
    "Watermark",
    "balanced_and",
    "expression_sql",
    "find_all",
    "generate",
    "is_window_call",
    "node_span",
    "nodes",
    "parse_statement",
    "long_filter",
    "long_filter_columns",
    "plain_columns",
    "parse_tokens",
    "split",
    "to_spark_sql",
    "tokenize",
    "type_sql",
    "uses_window_function",
    "walk",
]


def split(tokens: t.Sequence[Token]) -> list[list[Token]]:
    """The tokens of each ``;``-separated statement (statements of nothing are skipped)."""
    statements: list[list[Token]] = []
    current: list[Token] = []
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if current:
                statements.append(current)
            current = []
        else:
            current.append(token)
    if current:
        statements.append(current)
    return statements


def parse_tokens(tokens: list[Token], sql: str) -> Statement:
    """One statement from its tokens (no ``;``) of ``sql``, the text they were read from."""
    return Parser(tokens, sql).statement()


def parse_statement(sql: str) -> Statement:
    """Exactly one statement (a trailing ``;`` is fine). Raises :class:`SyntaxProblem`."""
    statements = split(tokenize(sql))
    if not statements:
        raise SyntaxProblem("expected a statement, found none", 0, max(len(sql) - 1, 0))
    if len(statements) > 1:
        second = statements[1][0]
        raise SyntaxProblem("expected one statement, found more than one", second.start, second.end)
    return parse_tokens(statements[0], sql)
