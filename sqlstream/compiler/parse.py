"""Rendered text -> statements: split on ``;`` and parse each with the sqlstream dialect.

Each statement is parsed on its own so that one mistake does not hide the next: every parse
error of a file is reported in one run, located in the file the user wrote.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from sqlstream.compiler import dialect
from sqlstream.errors import Diagnostics, Location
from sqlstream.compiler.source import SourceFile


@dataclass
class Statement:
    node: exp.Expr
    file: SourceFile
    start: int
    """Offset of the statement in ``file.rendered``."""
    end: int
    index: int
    """0-based position among the file's statements."""

    @property
    def text(self) -> str:
        return self.file.rendered[self.start : self.end]

    def locate(self, node: exp.Expr | None = None) -> Location:
        """Where ``node`` (default: the whole statement) stands in the user's file."""
        span = node_span(node) if node is not None else None
        if span is None:
            # Nothing with a position: point at the statement's first token.
            text = self.text
            lead = len(text) - len(text.lstrip())
            first = text.lstrip().split(None, 1)[0] if text.strip() else ""
            return self.file.locate(self.start + lead, max(1, len(first)))
        start, end = span
        return self.file.locate(self.start + start, end - start + 1)


def node_span(node: exp.Expr) -> tuple[int, int] | None:
    """(first, last) offsets covered by a node, from the positions its tokens left in ``meta``."""
    starts: list[int] = []
    ends: list[int] = []
    for n in node.walk():
        if not isinstance(n, exp.Expr):
            continue
        meta = n._meta  # reading without creating the dict
        if meta and "start" in meta and "end" in meta:
            starts.append(meta["start"])
            ends.append(meta["end"])
    if not starts:
        return None
    return min(starts), max(ends)


def parse_file(file: SourceFile, diags: Diagnostics) -> list[Statement]:
    """Every statement of the file that parses; errors for the others go to ``diags``."""
    text = file.rendered
    try:
        spans = dialect.split_statements(text)
    except TokenError as e:
        offset = getattr(e, "offset", None)
        loc = file.locate(offset) if offset is not None else file.end_location()
        diags.error(
            f"cannot read the SQL: {_first_line(str(e))}",
            loc,
            "look for a string or a quoted name that is not closed",
        )
        return []
    statements: list[Statement] = []
    for index, (start, end) in enumerate(spans):
        sql = text[start:end]
        try:
            node = dialect.parse_statement(sql)
        except ParseError as e:
            diags.add_all(_parse_errors(e, file, start, sql))
            continue
        except TokenError as e:
            offset = getattr(e, "offset", None)
            diags.error(
                f"cannot read the SQL: {_first_line(str(e))}",
                file.locate(start + offset) if offset is not None else file.locate(start),
                "look for a string or a quoted name that is not closed",
            )
            continue
        statements.append(Statement(node, file, start, end, index))
    return statements


def _parse_errors(e: ParseError, file: SourceFile, base: int, sql: str) -> t.Iterator[t.Any]:
    from sqlstream.errors import UserError

    details = e.errors or [{"description": str(e), "line": 1, "col": 1, "highlight": ""}]
    line_starts = [0] + [i + 1 for i, ch in enumerate(sql) if ch == "\n"]
    for d in details[:1]:  # sqlglot's later errors of one statement follow from the first
        line = max(1, int(d.get("line") or 1))
        col = max(1, int(d.get("col") or 1))
        highlight = d.get("highlight") or ""
        # sqlglot's col is the *last* character of the offending token.
        start_col = max(1, col - len(highlight) + 1) if highlight else col
        offset = line_starts[min(line, len(line_starts)) - 1] + start_col - 1
        offset = min(offset, len(sql.rstrip()))
        desc = d.get("description") or str(e)
        yield UserError(
            _message(desc, highlight),
            file.locate(base + offset, max(1, len(highlight))),
            _hint(desc, highlight),
        )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _message(description: str, highlight: str) -> str:
    desc = _first_line(description)
    if desc.startswith("Invalid expression / Unexpected token"):
        return f"unexpected '{highlight}'" if highlight else "unexpected end of statement"
    if desc.startswith("Required keyword"):
        return desc[0].lower() + desc[1:]
    if desc.startswith("Expecting"):
        return f"expected {desc[len('Expecting '):].strip()}" + (
            f" near '{highlight}'" if highlight else ""
        )
    return desc[0].lower() + desc[1:] if desc else "cannot parse this statement"


def _hint(description: str, highlight: str) -> str:
    if highlight.upper() in {"SELECT", "INSERT", "CREATE", "SET"}:
        return "is the ';' at the end of the statement before it missing?"
    if "Expecting )" in description:
        return "check that every '(' has its ')' and that list items are separated by commas"
    return (
        "statements are Spark SQL plus CREATE STREAM ... FROM KAFKA, CREATE STREAM ... AS "
        "SELECT and INSERT INTO KAFKA TOPIC ... SELECT; each ends with ';'"
    )
