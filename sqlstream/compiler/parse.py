"""Rendered text -> statements: tokenize once, split on ``;``, parse each with our parser.

Each statement is parsed on its own so that one mistake does not hide the next: every parse
error of a file is reported in one run, located in the file the user wrote. Positions are
offsets into the rendered file (the tokens are the file's).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from sqlglot import exp

from sqlstream.compiler import spark_names, syntax
from sqlstream.compiler.source import SourceFile
from sqlstream.errors import Diagnostics, Location, UserError


@dataclass
class Statement:
    """One parsed statement, with the file and the offsets it came from."""

    node: syntax.Statement
    file: SourceFile
    start: int
    """Offset of the statement in ``file.rendered``."""
    end: int
    index: int
    """0-based position among the file's statements."""

    @property
    def text(self) -> str:
        return self.file.rendered[self.start : self.end]

    def locate(self, node: exp.Expr | syntax.nodes.Spanned | syntax.Span | None = None) -> Location:
        """Where ``node`` (a sqlglot node, one of our statement nodes or a span; default: the
        whole statement) stands in the user's file."""
        span = _span(node) if node is not None else None
        if span is None:
            # Nothing with a position: point at the statement's first word.
            first = self.text.split(None, 1)[0] if self.text.strip() else ""
            return self.file.locate(self.start, max(1, len(first)))
        start, end = span
        return self.file.locate(start, end - start + 1)

    def locate_keyword(self, word: str, node: exp.Expr) -> Location:
        """The last ``word`` (a keyword sqlglot keeps no position for: CASE, TABLESAMPLE)
        before ``node``'s first position; ``node`` itself when there is none."""
        span = syntax.node_span(node)
        found = -1 if span is None else self.file.rendered.upper().rfind(word, self.start, span[0])
        return self.file.locate(found, len(word)) if found >= 0 else self.locate(node)


def _span(node: t.Any) -> tuple[int, int] | None:
    if isinstance(node, exp.Expr):
        return syntax.node_span(node)
    span = node if isinstance(node, syntax.Span) else getattr(node, "span", None)
    return (span.start, span.end) if span is not None else None


def parse_file(file: SourceFile, diags: Diagnostics) -> list[Statement]:
    """Every statement of the file that parses; errors for the others go to ``diags``."""
    text = file.rendered
    try:
        tokens = syntax.tokenize(text)
    except syntax.SyntaxProblem as e:
        diags.error(
            f"cannot read the SQL: {e.message} at {_line_col(text, e.start)}",
            file.locate(e.start),
            "look for a string or a quoted name that is not closed",
        )
        return []
    statements: list[Statement] = []
    for index, part in enumerate(syntax.split(tokens)):
        start, end = part[0].start, part[-1].end + 1
        try:
            node = syntax.parse_tokens(part, text)
        except syntax.SyntaxProblem as e:
            diags.add(_user_error(e, file, text))
            continue
        statements.append(Statement(node, file, start, end, index))
    return statements


def _line_col(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, col {col}"


def _user_error(e: syntax.SyntaxProblem, file: SourceFile, text: str) -> UserError:
    highlight = text[e.start : e.end + 1]
    return UserError(
        _message(e.message, highlight),
        file.locate(e.start, max(1, e.end - e.start + 1)),
        e.hint or _hint(e.message, highlight),
    )


def _message(description: str, highlight: str) -> str:
    desc = description.strip().splitlines()[0] if description.strip() else ""
    if desc.startswith("Invalid expression / Unexpected token"):
        return f"unexpected '{highlight}'" if highlight else "unexpected end of statement"
    if desc.startswith("Expecting"):
        return f"expected {desc[len('Expecting ') :].strip()}" + (
            f" near '{highlight}'" if highlight else ""
        )
    if not desc:
        return "cannot parse this statement"
    first_word = desc.split(None, 1)[0]
    return desc if first_word.isupper() and len(first_word) > 1 else desc[0].lower() + desc[1:]


def _hint(description: str, highlight: str) -> str:
    if description.lower().startswith("expected type") and spark_names.type_hint(highlight):
        return t.cast(str, spark_names.type_hint(highlight))  # CAST(x AS DOUBEL)
    if highlight.upper() in {"SELECT", "INSERT", "CREATE", "SET"}:
        return "is the ';' at the end of the statement before it missing?"
    if "Expecting )" in description:
        return "check that every '(' has its ')' and that list items are separated by commas"
    return (
        "statements are Spark SQL plus CREATE STREAM ... FROM KAFKA, CREATE STREAM ... AS "
        "SELECT and INSERT INTO KAFKA TOPIC ... SELECT; each ends with ';'"
    )
