"""The sqlstream SQL dialect: Spark SQL plus stream statements, on sqlglot.

``SqlStream`` subclasses sqlglot's ``Spark`` dialect (sqlglot registers it as ``"sqlstream"``)
and adds, in class-level tables rather than global patches:

* ``CREATE STREAM name (columns..., WATERMARK FOR c AS expr) FROM KAFKA (options...)``
  -> :class:`CreateKafkaStream`
* ``CREATE STREAM name AS <query>`` -> :class:`CreateDerivedStream`
* ``INSERT INTO KAFKA TOPIC <topic> [KEY ..] [PARTITION ..] [HEADERS ..] [FORMAT ..] [VALUE ..]
  [WITH (..)] <query>`` -> :class:`InsertKafka`
* Spark's streaming ``window(...)`` / ``session_window(...)`` as functions anywhere an expression
  may be (sqlglot's Spark dialect refuses ``GROUP BY window(...)``) -> :class:`TimeWindow`,
  :class:`SessionWindow`.

Stream words (STREAM, KAFKA, TOPIC, KEY, VALUE, ...) are matched by their text inside our
statement parsers and are *not* tokenizer keywords, so they stay usable as column names.

Positions: every ``Identifier``, ``Literal`` and ``Var`` of a parsed tree, and every node our
parsers build, has ``meta["start"]`` / ``meta["end"]`` (0-based character offsets into the parsed
string, end inclusive). ``meta["line"]`` / ``meta["col"]`` follow sqlglot's token convention
(``col`` is the 1-based column of the *last* character of the first token), so prefer
``start``/``end``. Parse errors raised by this dialect carry ``start``/``end`` too, in each
``ParseError.errors[i]`` dict, next to sqlglot's ``line``/``col``.
"""

from __future__ import annotations

import re
import typing as t

from sqlglot import exp
from sqlglot.dialects.spark import Spark
from sqlglot.errors import ErrorLevel, ParseError, TokenError, highlight_sql
from sqlglot.generators.spark import SparkGenerator
from sqlglot.parsers.spark import SparkParser
from sqlglot.tokens import Token, TokenType

__all__ = [
    "CreateDerivedStream",
    "CreateKafkaStream",
    "HeaderPair",
    "InsertKafka",
    "KafkaProperty",
    "SessionWindow",
    "SqlStream",
    "StatementSplitError",
    "StreamColumn",
    "TimeWindow",
    "Watermark",
    "generate",
    "parse_statement",
    "set_key_value",
    "split_statements",
    "to_spark_sql",
]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

#: Leaf nodes that must always carry a position.
_POSITIONED = (exp.Identifier, exp.Literal, exp.Var)

#: Roles of a Kafka source column (``StreamColumn.args["role"]``).
COLUMN_ROLES = ("value", "key", "header", "headers", "metadata")

#: The clauses of INSERT INTO KAFKA, in their documented (and generated) order.
INSERT_CLAUSES = ("KEY", "PARTITION", "HEADERS", "FORMAT", "VALUE", "WITH")


# --------------------------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------------------------


class StreamColumn(exp.Expression):
    """A column of a Kafka source.

    ``role`` is a plain str: ``value`` (a field of the record value), ``key``, ``header``
    (``ref`` = the header name as a string Literal), ``headers`` (all headers) or ``metadata``
    (``ref`` = the Kafka field name as a string Literal, e.g. 'timestamp').
    """

    arg_types: t.ClassVar[dict[str, bool]] = {
        "this": True,
        "kind": True,
        "role": True,
        "ref": False,
    }

    @property
    def role(self) -> str:
        return t.cast(str, self.args.get("role") or "value")


class Watermark(exp.Expression):
    """``WATERMARK FOR <this: Column> AS <expression>``."""

    arg_types: t.ClassVar[dict[str, bool]] = {"this": True, "expression": True}


class KafkaProperty(exp.Expression):
    """``key = value`` in ``FROM KAFKA (...)`` or ``INSERT ... WITH (...)``.

    ``this`` is an ``exp.Var`` for a bare key (``topic``) or a string ``exp.Literal`` for a quoted
    key (``'kafka.group.id'``). ``expression`` is a string/number ``exp.Literal``, an
    ``exp.Boolean``, an ``exp.Var`` for a bare word (``once``, ``available_now``), or, for a word
    followed by a string (``continuous '5 seconds'``), one string Literal joining both
    (``'continuous 5 seconds'``).
    """

    arg_types: t.ClassVar[dict[str, bool]] = {"this": True, "expression": True}

    @property
    def name(self) -> str:
        """The key: bare keys lowercased (they are case-insensitive like keywords), quoted keys
        exactly as written (Kafka client properties are case-sensitive)."""
        key = self.this
        if isinstance(key, exp.Var):
            return key.name.lower()
        return t.cast(str, key.name)

    @property
    def value(self) -> exp.Expr:
        return t.cast(exp.Expr, self.expression)


class CreateKafkaStream(exp.Expression):
    """``CREATE STREAM name (columns) FROM KAFKA (options)``."""

    arg_types: t.ClassVar[dict[str, bool]] = {
        "this": True,
        "columns": True,
        "watermark": False,
        "options": False,
    }


class CreateDerivedStream(exp.Expression):
    """``CREATE STREAM name AS <query>``: a named view over other streams."""

    arg_types: t.ClassVar[dict[str, bool]] = {"this": True, "expression": True}


class HeaderPair(exp.Expression):
    """``'name' = expr`` inside ``HEADERS (...)`` of an INSERT INTO KAFKA."""

    arg_types: t.ClassVar[dict[str, bool]] = {"this": True, "expression": True}


class InsertKafka(exp.Expression):
    """``INSERT INTO KAFKA TOPIC <topic> [clauses] <query>``.

    ``topic`` is a string Literal or an ``exp.Paren`` (per-row routing). ``key`` is any
    expression (an ``exp.Tuple`` for ``KEY (a, b)``, an ``exp.Paren`` for ``KEY (a)``).
    ``headers`` is a list of :class:`HeaderPair`; ``headers_expr`` the expression of
    ``HEADERS <array expr>``. ``format`` is a lowercased ``exp.Var``. ``options`` holds the
    :class:`KafkaProperty` list of ``WITH (...)``. ``expression`` is the query.
    """

    arg_types: t.ClassVar[dict[str, bool]] = {
        "topic": True,
        "key": False,
        "partition": False,
        "headers": False,
        "headers_expr": False,
        "format": False,
        "value": False,
        "options": False,
        "expression": True,
    }


class TimeWindow(exp.Expression, exp.Func):
    """Spark's ``window(time_col, duration[, slide[, start]])`` (tumbling or sliding)."""

    arg_types: t.ClassVar[dict[str, bool]] = {
        "this": True,
        "duration": True,
        "slide": False,
        "start": False,
    }
    _sql_names: t.ClassVar[list[str]] = ["WINDOW"]


class SessionWindow(exp.Expression, exp.Func):
    """Spark's ``session_window(time_col, gap)``."""

    arg_types: t.ClassVar[dict[str, bool]] = {"this": True, "gap": True}
    _sql_names: t.ClassVar[list[str]] = ["SESSION_WINDOW"]


_STREAM_NODES = (
    StreamColumn,
    Watermark,
    KafkaProperty,
    CreateKafkaStream,
    CreateDerivedStream,
    HeaderPair,
    InsertKafka,
)


class StatementSplitError(TokenError):
    """The SQL could not be tokenized. ``offset`` (0-based), ``line`` and ``col`` (1-based)
    point at the start of the token that could not be read, e.g. an unterminated string's
    opening quote or an unterminated comment's ``/*``."""

    def __init__(self, message: str, offset: int, line: int, col: int) -> None:
        super().__init__(message, start=offset, end=offset)
        self.offset = offset
        self.line = line
        self.col = col


def _line_col(sql: str, offset: int) -> tuple[int, int]:
    line = sql.count("\n", 0, offset) + 1
    col = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _set_span(node: exp.Expr, first: Token, last: Token | None = None) -> None:
    last = last or first
    meta = node.meta
    meta["line"] = first.line
    meta["col"] = first.col
    meta["start"] = first.start
    meta["end"] = last.end


def _has_position(node: exp.Expr) -> bool:
    meta = node._meta
    return bool(meta) and "start" in meta and "end" in meta  # type: ignore[operator]


# --------------------------------------------------------------------------------------------
# Generation helpers (Generator.TRANSFORMS entries)
# --------------------------------------------------------------------------------------------


def _paren_list(gen: t.Any, sqls: list[str]) -> str:
    inner = gen.expressions(sqls=sqls)
    return f"({gen.sep('')}{inner}{gen.seg(')', sep='')}"


def _streamcolumn_sql(gen: t.Any, e: StreamColumn) -> str:
    sql = f"{gen.sql(e, 'this')} {gen.sql(e, 'kind')}"
    role = e.role
    ref = gen.sql(e, "ref")
    if role == "key":
        sql += " KEY"
    elif role == "header":
        sql += f" HEADER({ref})"
    elif role == "headers":
        sql += " HEADERS"
    elif role == "metadata":
        sql += f" METADATA FROM {ref}" if ref else " METADATA"
    return sql


def _watermark_sql(gen: t.Any, e: Watermark) -> str:
    return f"WATERMARK FOR {gen.sql(e, 'this')} AS {gen.sql(e, 'expression')}"


def _kafkaproperty_sql(gen: t.Any, e: KafkaProperty) -> str:
    return f"{gen.sql(e, 'this')} = {gen.sql(e, 'expression')}"


def _createkafkastream_sql(gen: t.Any, e: CreateKafkaStream) -> str:
    items = [gen.sql(c) for c in e.args.get("columns") or []]
    if e.args.get("watermark"):
        items.append(gen.sql(e, "watermark"))
    options = [gen.sql(o) for o in e.args.get("options") or []]
    opts = _paren_list(gen, options) if options else "()"
    return f"CREATE STREAM {gen.sql(e, 'this')} {_paren_list(gen, items)} FROM KAFKA {opts}"


def _createderivedstream_sql(gen: t.Any, e: CreateDerivedStream) -> str:
    return f"CREATE STREAM {gen.sql(e, 'this')} AS{gen.sep()}{gen.sql(e, 'expression')}"


def _headerpair_sql(gen: t.Any, e: HeaderPair) -> str:
    return f"{gen.sql(e, 'this')} = {gen.sql(e, 'expression')}"


def _insertkafka_sql(gen: t.Any, e: InsertKafka) -> str:
    parts = [f"INSERT INTO KAFKA TOPIC {gen.sql(e, 'topic')}"]
    if e.args.get("key") is not None:
        parts.append(f"KEY {gen.sql(e, 'key')}")
    if e.args.get("partition") is not None:
        parts.append(f"PARTITION {gen.sql(e, 'partition')}")
    if e.args.get("headers"):
        parts.append(f"HEADERS ({gen.expressions(e, 'headers', flat=True)})")
    elif e.args.get("headers_expr") is not None:
        parts.append(f"HEADERS {gen.sql(e, 'headers_expr')}")
    if e.args.get("format") is not None:
        parts.append(f"FORMAT {gen.sql(e, 'format')}")
    if e.args.get("value") is not None:
        parts.append(f"VALUE {gen.sql(e, 'value')}")
    if e.args.get("options"):
        parts.append(f"WITH ({gen.expressions(e, 'options', flat=True)})")
    parts.append(gen.sql(e, "expression"))
    return gen.sep().join(parts) if gen.pretty else " ".join(parts)


def _timewindow_sql(gen: t.Any, e: TimeWindow) -> str:
    args = gen.format_args(e.this, e.args.get("duration"), e.args.get("slide"), e.args.get("start"))
    return f"window({args})"


def _sessionwindow_sql(gen: t.Any, e: SessionWindow) -> str:
    return f"session_window({gen.format_args(e.this, e.args.get('gap'))})"


def _build_window(args: list) -> exp.Expr:
    if not 2 <= len(args) <= 4:
        # Keep it parseable; the analyser reports the arity with a position.
        return exp.Anonymous(this="window", expressions=args)
    return TimeWindow.from_arg_list(args)


def _build_session_window(args: list) -> exp.Expr:
    if len(args) != 2:
        return exp.Anonymous(this="session_window", expressions=args)
    return SessionWindow.from_arg_list(args)


# --------------------------------------------------------------------------------------------
# The dialect
# --------------------------------------------------------------------------------------------


class SqlStream(Spark):
    """Spark SQL plus sqlstream's stream statements (registered as ``"sqlstream"``)."""

    class Tokenizer(Spark.Tokenizer):
        def tokenize(self, sql: str) -> list[Token]:
            try:
                return super().tokenize(sql)
            except TokenError as e:
                # sqlglot's message quotes a context window only; the tokenizer's core knows where
                # the token it could not finish started.
                core = getattr(self, "_core", None)
                offset = getattr(core, "_start", None)
                if not isinstance(offset, int):
                    offset = e.start or 0
                offset = max(0, min(offset, max(len(sql) - 1, 0)))
                line, col = _line_col(sql, offset)
                what = _describe_token_error(sql, offset)
                raise StatementSplitError(
                    f"{what} at line {line}, col {col}", offset=offset, line=line, col=col
                ) from e

    class Parser(SparkParser):
        STATEMENT_PARSERS: t.ClassVar[dict] = {
            **SparkParser.STATEMENT_PARSERS,
            TokenType.CREATE: lambda self: self._parse_create_or_stream(),
            TokenType.INSERT: lambda self: self._parse_insert_or_kafka(),
        }

        FUNCTIONS: t.ClassVar[dict] = {
            **SparkParser.FUNCTIONS,
            "WINDOW": _build_window,
            "SESSION_WINDOW": _build_session_window,
        }

        # sqlglot stops GROUP BY at a WINDOW token (the named-window clause); Spark's streaming
        # `GROUP BY window(...)` needs it to go on. `WINDOW w AS (...)` after a GROUP BY list
        # still ends the list, since it doesn't follow a comma.
        QUERY_MODIFIER_TOKENS: t.ClassVar[set] = SparkParser.QUERY_MODIFIER_TOKENS - {
            TokenType.WINDOW
        }

        #: Tokens that start the query of a stream statement, never a FORMAT name.
        QUERY_START_TOKENS: t.ClassVar[set[TokenType]] = {
            TokenType.SELECT,
            TokenType.WITH,
            TokenType.FROM,
            TokenType.VALUES,
        }

        #: INSERT INTO KAFKA clause word -> method parsing what follows it; returns the args.
        INSERT_KAFKA_CLAUSE_PARSERS: t.ClassVar[dict[str, t.Callable[[t.Any], dict]]] = {
            "KEY": lambda self: {"key": self._parse_clause_expression("KEY")},
            "PARTITION": lambda self: {"partition": self._parse_clause_expression("PARTITION")},
            "HEADERS": lambda self: self._parse_kafka_headers(),
            "FORMAT": lambda self: {"format": self._parse_kafka_format()},
            "VALUE": lambda self: {"value": self._parse_clause_expression("VALUE")},
            "WITH": lambda self: {"options": self._parse_kafka_properties("WITH (...)")},
        }

        #: Source column role word -> method parsing what follows it; returns (role, ref).
        COLUMN_ROLE_PARSERS: t.ClassVar[dict[str, t.Callable[[t.Any, str], tuple]]] = {
            "KEY": lambda self, where: ("key", None),
            "HEADERS": lambda self, where: ("headers", None),
            "HEADER": lambda self, where: ("header", self._parse_header_ref(where)),
            "METADATA": lambda self, where: ("metadata", self._parse_metadata_ref(where)),
        }

        # ---- positions -------------------------------------------------------------------

        def parse(self, raw_tokens: list[Token], sql: str) -> list[exp.Expr | None]:
            trees = super().parse(raw_tokens, sql)
            for tree in trees:
                if tree is not None:
                    _fill_positions(tree, raw_tokens)
            return trees

        def expression(
            self, instance: t.Any, token: Token | None = None, comments: list[str] | None = None
        ) -> t.Any:
            instance = super().expression(instance, token, comments)
            # Leaves built without a token (interval units, vars, ...) come from a token just
            # consumed: give them (and synthesised leaf children) its position.
            if isinstance(instance, _POSITIONED):
                if not _has_position(instance):
                    self._position_from_recent_token(instance)
            else:
                for value in instance.args.values():
                    if isinstance(value, _POSITIONED) and not _has_position(value):
                        self._position_from_recent_token(value)
            return instance

        def _position_from_recent_token(self, node: exp.Expr, lookback: int = 8) -> None:
            """The most recent consumed token with the node's text, else the last one."""
            text = node.name.upper()
            index = self._index - 1
            for i in range(index, max(index - lookback, -1), -1):
                token = self._tokens[i]
                if token.text.upper() == text:
                    node.update_positions(token)
                    return
            if self._prev is not None and self._prev.token_type is not None:
                node.update_positions(self._prev)

        def raise_error(self, message: str, token: t.Any = None) -> None:
            token = token or self._curr or self._prev or Token.string("")
            formatted_sql, start_context, highlight, end_context = highlight_sql(
                sql=self.sql,
                positions=[(token.start, token.end)],
                context_length=self.error_message_context,
            )
            error = ParseError.new(
                f"{message}. Line {token.line}, Col: {token.col}.\n  {formatted_sql}",
                description=message,
                line=token.line,
                col=token.col,
                start_context=start_context,
                highlight=highlight,
                end_context=end_context,
            )
            # Exact offsets for the error reporter (end inclusive, like tokens).
            error.errors[0]["start"] = token.start
            error.errors[0]["end"] = token.end
            if self.error_level == ErrorLevel.IMMEDIATE:
                raise error
            self.errors.append(error)

        def _fail(self, message: str, token: Token | None = None) -> t.NoReturn:
            """Record a parse error and stop: a malformed stream statement never falls back."""
            self.raise_error(message, token or self._curr or self._prev)
            raise ParseError(
                "\n\n".join(str(e) for e in self.errors[: self.max_errors]),
                errors=[d for err in self.errors for d in err.errors],
            )

        # ---- SET ----------------------------------------------------------------------------

        def _parse_set_item_assignment(self, kind: str | None = None) -> exp.Expr | None:
            # sqlglot turns a dotted value into a Var of its last part only
            # (`SET k = org.apache.X` -> `X`); Spark conf values are text: keep all of it.
            if kind is not None:
                return super()._parse_set_item_assignment(kind)
            index = self._index
            left = self._parse_primary() or self._parse_column()
            delimiter = self._match_texts(self.SET_ASSIGNMENT_DELIMITERS)
            if not left or (self.SET_REQUIRES_ASSIGNMENT_DELIMITER and not delimiter):
                self._retreat(index)
                return None
            first = self._curr
            right = self._parse_statement() or self._parse_id_var()
            if isinstance(right, (exp.Column, exp.Dot, exp.Identifier)) and first is not None:
                right = exp.var(self.sql[first.start : self._prev.end + 1])
                _set_span(right, first, self._prev)
            this = self.expression(exp.EQ(this=left, expression=right))
            return self.expression(exp.SetItem(this=this, kind=kind))

        # ---- token helpers -----------------------------------------------------------------

        def _word(self, token: Token | None = None) -> str | None:
            """The upper-cased text of a bare word token (keyword or name), else None."""
            token = token or self._curr
            if not token or token.token_type in (TokenType.STRING, TokenType.IDENTIFIER):
                return None
            if not _WORD.match(token.text):
                return None
            # A quoted token's text lacks its quotes: compare with the source.
            if self.sql and self.sql[token.start : token.end + 1] != token.text:
                return None
            return token.text.upper()

        def _at_end(self) -> bool:
            return not self._curr or self._curr.token_type == TokenType.SEMICOLON

        def _peek(self, offset: int) -> Token | None:
            index = self._index + offset
            return self._tokens[index] if index < len(self._tokens) else None

        def _describe(self, token: Token | None = None) -> str:
            token = token or self._curr
            if not token:
                return "end of statement"
            if token.token_type == TokenType.SEMICOLON:
                return "';'"
            if token.token_type == TokenType.STRING:
                return f"'{token.text}'"
            return repr(token.text) if len(token.text) < 40 else repr(token.text[:37] + "...")

        def _expect_end(self, what: str) -> None:
            if not self._at_end():
                self._fail(f"unexpected {self._describe()} after {what}")

        def _parse_name(self) -> exp.Identifier | None:
            """A stream or column name: a quoted `identifier` or any bare word."""
            token = self._curr
            if token and token.token_type == TokenType.IDENTIFIER:
                self._advance()
                return self._identifier_expression(token, quoted=True)
            if token and self._word(token):
                self._advance()
                return self._identifier_expression(token, quoted=False)
            return None

        def _literal(self, token: Token) -> exp.Literal:
            node = (
                exp.Literal.string(token.text)
                if token.token_type == TokenType.STRING
                else exp.Literal(this=token.text, is_string=False)
            )
            _set_span(node, token)
            return node

        # ---- CREATE STREAM -----------------------------------------------------------------

        def _parse_create_or_stream(self) -> exp.Expr:
            create = self._prev
            if self._word() == "STREAM":
                return self._parse_create_stream(create)
            index = self._index
            for prefix in (("OR", "REPLACE"), ("TEMPORARY",), ("TEMP",)):
                if self._match_text_seq(*prefix) and self._word() == "STREAM":
                    self._fail(
                        f"CREATE {' '.join(prefix)} STREAM is not supported: "
                        "write CREATE STREAM name ...",
                        create,
                    )
                self._retreat(index)
            return self._parse_create()

        def _parse_create_stream(self, create: Token) -> exp.Expr:
            self._advance()  # STREAM
            if self._match_text_seq("IF", "NOT", "EXISTS"):
                self._fail("IF NOT EXISTS is not supported for streams", self._prev)
            name = self._parse_name()
            if name is None:
                self._fail("expected a stream name after CREATE STREAM")
            if self._curr and self._curr.token_type == TokenType.DOT:
                self._fail(f"a stream name cannot be qualified: write CREATE STREAM {name.name}")
            where = f"stream '{name.name}'"

            if self._match(TokenType.ALIAS):
                query = self._parse_stream_query(f"AS in CREATE STREAM {name.name}")
                node: exp.Expr = CreateDerivedStream(this=name, expression=query)
                _set_span(node, create, self._prev)
                self._expect_end(f"the query of {where}")
                return node

            if not self._match(TokenType.L_PAREN):
                self._fail(
                    f"expected a column list (...) FROM KAFKA (...) or AS SELECT ... after "
                    f"CREATE STREAM {name.name}"
                )
            columns, watermark = self._parse_stream_columns(where)
            if not (self._match(TokenType.FROM) and self._match_text_seq("KAFKA")):
                self._fail(f"expected FROM KAFKA (...) after the column list of {where}")
            if not (self._curr and self._curr.token_type == TokenType.L_PAREN):
                self._fail(f"expected '(' with the Kafka options after FROM KAFKA of {where}")
            options = self._parse_kafka_properties(f"FROM KAFKA (...) of {where}")
            node = CreateKafkaStream(
                this=name, columns=columns, watermark=watermark, options=options
            )
            _set_span(node, create, self._prev)
            self._expect_end(f"the Kafka options of {where}")
            return node

        def _parse_stream_query(self, after: str, message: str = "") -> exp.Expr:
            start = self._curr
            query = self._parse_ddl_select()
            if not isinstance(query, exp.Query):
                message = message or "expected a query (SELECT ...) after {after}, got {token}"
                self._fail(message.format(after=after, token=self._describe(start)), start)
            # `AS (SELECT ...)`: keep the query itself, not a bare Subquery around it.
            while (
                isinstance(query, exp.Subquery)
                and not any(v for k, v in query.args.items() if k != "this")
                and isinstance(query.this, exp.Query)
            ):
                query = query.this
            return query

        def _parse_stream_columns(self, where: str) -> tuple[list[StreamColumn], Watermark | None]:
            columns: list[StreamColumn] = []
            watermark: Watermark | None = None
            if self._curr and self._curr.token_type == TokenType.R_PAREN:
                self._fail(f"the column list of {where} is empty")
            while True:
                next_token = self._peek(1)
                if (
                    self._word() == "WATERMARK"
                    and next_token is not None
                    and next_token.token_type == TokenType.FOR
                ):
                    if watermark is not None:
                        self._fail(f"{where} has more than one WATERMARK")
                    watermark = self._parse_watermark(where)
                else:
                    columns.append(self._parse_stream_column(where))
                if self._match(TokenType.COMMA):
                    continue
                if self._match(TokenType.R_PAREN):
                    break
                self._fail(
                    f"expected ',' or ')' in the column list of {where}, got {self._describe()}"
                )
            return columns, watermark

        def _parse_stream_column(self, where: str) -> StreamColumn:
            first = self._curr
            name = self._parse_name()
            if name is None:
                self._fail(f"expected a column name in the column list of {where}")
            kind = self._parse_types(check_func=False, schema=True, allow_identifiers=False)
            if not isinstance(kind, exp.DataType):
                self._fail(f"expected a type after column '{name.name}' of {where}")
            role, ref = "value", None
            word = self._word()
            if word in self.COLUMN_ROLE_PARSERS:
                self._advance()
                role, ref = self.COLUMN_ROLE_PARSERS[word](self, f"column '{name.name}'")
                if role == "metadata" and ref is None:
                    ref = exp.Literal.string(name.name).update_positions(name)
            elif (
                self._curr
                and self._curr.token_type == TokenType.FROM
                and self._word(self._peek(1)) == "KAFKA"
            ):
                self._fail(f"expected ')' to close the column list of {where} before FROM KAFKA")
            elif not self._match_set((TokenType.COMMA, TokenType.R_PAREN), advance=False):
                self._fail(
                    f"unexpected {self._describe()} after the type of column '{name.name}' of "
                    f"{where}: expected KEY, HEADER('name'), HEADERS, METADATA FROM 'field', "
                    "',' or ')'"
                )
            node = StreamColumn(this=name, kind=kind, role=role, ref=ref)
            _set_span(node, first, self._prev)
            return node

        def _parse_header_ref(self, where: str) -> exp.Literal:
            if not self._match(TokenType.L_PAREN):
                self._fail(f"expected ('header-name') after HEADER of {where}")
            if not self._match(TokenType.STRING):
                self._fail(f"expected a quoted header name in HEADER(...) of {where}")
            ref = self._literal(self._prev)
            if not self._match(TokenType.R_PAREN):
                self._fail(f"expected ')' after the header name of {where}")
            return ref

        def _parse_metadata_ref(self, where: str) -> exp.Literal | None:
            if not self._match(TokenType.FROM):
                return None
            if not self._match(TokenType.STRING):
                self._fail(
                    f"expected a quoted Kafka field after METADATA FROM of {where}, "
                    "e.g. METADATA FROM 'timestamp'"
                )
            return self._literal(self._prev)

        def _parse_watermark(self, where: str) -> Watermark:
            first = self._curr
            self._advance(2)  # WATERMARK FOR
            column = self._parse_column()
            if not isinstance(column, exp.Column):
                self._fail(f"expected the event-time column after WATERMARK FOR in {where}")
            if not self._match(TokenType.ALIAS):
                self._fail(
                    f"expected AS <delay expression> after WATERMARK FOR {column.sql()} in "
                    f"{where}, e.g. AS {column.sql()} - INTERVAL '10' SECONDS"
                )
            delay = self._parse_assignment()
            if delay is None:
                self._fail(f"expected an expression after WATERMARK FOR {column.sql()} AS")
            node = Watermark(this=column, expression=delay)
            _set_span(node, first, self._prev)
            return node

        # ---- Kafka options -----------------------------------------------------------------

        def _parse_kafka_properties(self, where: str) -> list[KafkaProperty]:
            """``(k = v, ...)``, starting at its opening paren."""
            if not self._match(TokenType.L_PAREN):
                self._fail(f"expected '(' to open {where}")
            props: list[KafkaProperty] = []
            seen: set[str] = set()
            if self._match(TokenType.R_PAREN):
                return props
            while True:
                key_token = self._curr
                prop = self._parse_kafka_property(where)
                if prop.name in seen:
                    self._fail(f"option '{prop.name}' is given twice in {where}", key_token)
                seen.add(prop.name)
                props.append(prop)
                if self._match(TokenType.COMMA):
                    continue
                if self._match(TokenType.R_PAREN):
                    return props
                self._fail(
                    f"expected ',' or ')' after option '{prop.name}' in {where}, "
                    f"got {self._describe()}"
                )

        def _parse_kafka_property(self, where: str) -> KafkaProperty:
            first = self._curr
            key: exp.Expr
            if self._match(TokenType.STRING):
                key = self._literal(self._prev)
            elif self._word():
                following = self._peek(1)
                if following is not None and following.token_type == TokenType.DOT:
                    dotted = self._dotted_text()
                    self._fail(
                        f"an option name with dots must be quoted: write '{dotted}' in {where}",
                        first,
                    )
                self._advance()
                key = exp.Var(this=self._prev.text)
                _set_span(key, self._prev)
            else:
                self._fail(f"expected an option name in {where}, got {self._describe()}")
            key_name = key.name
            if not self._match(TokenType.EQ):
                self._fail(f"expected '=' after option '{key_name}' in {where}")
            value = self._parse_kafka_value(key_name, where)
            node = KafkaProperty(this=key, expression=value)
            _set_span(node, first, self._prev)
            return node

        def _dotted_text(self) -> str:
            parts, i = [], 0
            while True:
                token = self._peek(i)
                if token is None or token.token_type in (TokenType.EQ, TokenType.COMMA):
                    break
                if token.token_type == TokenType.R_PAREN:
                    break
                parts.append(token.text)
                i += 1
            return "".join(parts)

        def _parse_kafka_value(self, key: str, where: str) -> exp.Expr:
            token = self._curr
            node: exp.Expr
            if self._match(TokenType.STRING):
                return self._literal(token)
            if self._match(TokenType.NUMBER):
                return self._literal(token)
            if token and token.token_type == TokenType.DASH:
                number = self._peek(1)
                if number is not None and number.token_type == TokenType.NUMBER:
                    self._advance(2)
                    node = exp.Literal.number(f"-{number.text}")
                    _set_span(node, token, number)
                    return node
            if self._match_set((TokenType.TRUE, TokenType.FALSE)):
                node = exp.Boolean(this=token.token_type == TokenType.TRUE)
                _set_span(node, token)
                return node
            if self._word() and token.token_type not in self.QUERY_START_TOKENS:
                self._advance()
                if self._match(TokenType.STRING):
                    # `continuous '5 seconds'`: one string, read the same way as '10 seconds'.
                    node = exp.Literal.string(f"{token.text} {self._prev.text}")
                    _set_span(node, token, self._prev)
                    return node
                node = exp.Var(this=token.text)
                _set_span(node, token)
                return node
            self._fail(
                f"expected a value for option '{key}' in {where}: a 'string', a number, "
                "TRUE/FALSE or a word such as once"
            )

        # ---- INSERT INTO KAFKA -------------------------------------------------------------

        def _parse_insert_or_kafka(self) -> exp.Expr:
            insert = self._prev
            if self._match_text_seq("INTO", "KAFKA", advance=False):
                return self._parse_insert_kafka(insert)
            after = self._peek(2)
            if (
                self._match_text_seq("INTO", "TOPIC", advance=False)
                and after is not None
                and after.token_type in (TokenType.STRING, TokenType.L_PAREN)
            ):
                self._fail("expected KAFKA: write INSERT INTO KAFKA TOPIC ...", self._peek(1))
            return self._parse_insert()

        def _parse_insert_kafka(self, insert: Token) -> InsertKafka:
            self._advance(2)  # INTO KAFKA
            if self._word() != "TOPIC":
                self._fail(
                    "expected TOPIC after INSERT INTO KAFKA, e.g. INSERT INTO KAFKA TOPIC 'x'"
                )
            self._advance()
            args: dict[str, t.Any] = {"topic": self._parse_kafka_topic()}
            seen: set[str] = set()
            while True:
                word = self._word()
                if word == "WITH":
                    following = self._peek(1)
                    if following is None or following.token_type != TokenType.L_PAREN:
                        break  # a CTE: the query starts here
                if word not in self.INSERT_KAFKA_CLAUSE_PARSERS:
                    break
                if word in seen:
                    self._fail(f"the {word} clause is given twice")
                seen.add(word)
                self._advance()
                args.update(self.INSERT_KAFKA_CLAUSE_PARSERS[word](self))
            args["expression"] = self._parse_stream_query(
                "",
                "unexpected {token} in INSERT INTO KAFKA: expected KEY, PARTITION, HEADERS, "
                "FORMAT, VALUE, WITH (...) or the query (SELECT ...)",
            )
            node = InsertKafka(**args)
            _set_span(node, insert, self._prev)
            self._expect_end("the query of INSERT INTO KAFKA")
            return node

        def _parse_kafka_topic(self) -> exp.Expr:
            token = self._curr
            if self._match(TokenType.STRING):
                return self._literal(token)
            if self._match(TokenType.L_PAREN):
                inner = self._parse_assignment()
                if inner is None:
                    self._fail("expected an expression inside TOPIC (...)")
                if not self._match(TokenType.R_PAREN):
                    self._fail("expected ')' to close TOPIC (...)")
                node = exp.Paren(this=inner)
                _set_span(node, token, self._prev)
                return node
            self._fail(
                "expected a topic after INSERT INTO KAFKA TOPIC: a quoted name such as 'orders' "
                "or a parenthesised expression for per-row routing"
            )

        def _parse_clause_expression(self, clause: str) -> exp.Expr:
            node = self._parse_assignment()
            if node is None:
                self._fail(f"expected an expression after {clause}")
            return node

        def _parse_kafka_headers(self) -> dict[str, t.Any]:
            second, third = self._peek(1), self._peek(2)
            if (
                self._curr
                and self._curr.token_type == TokenType.L_PAREN
                and second is not None
                and second.token_type == TokenType.STRING
                and third is not None
                and third.token_type == TokenType.EQ
            ):
                self._advance()
                pairs: list[HeaderPair] = []
                while True:
                    first = self._curr
                    if not self._match(TokenType.STRING):
                        self._fail("expected a quoted header name in HEADERS (...)")
                    name = self._literal(first)
                    if not self._match(TokenType.EQ):
                        self._fail(f"expected '=' after header '{name.name}' in HEADERS (...)")
                    value = self._parse_assignment()
                    if value is None:
                        self._fail(f"expected an expression for header '{name.name}'")
                    pair = HeaderPair(this=name, expression=value)
                    _set_span(pair, first, self._prev)
                    pairs.append(pair)
                    if self._match(TokenType.COMMA):
                        continue
                    if self._match(TokenType.R_PAREN):
                        return {"headers": pairs}
                    self._fail(f"expected ',' or ')' in HEADERS (...), got {self._describe()}")
            node = self._parse_assignment()
            if node is None:
                self._fail("expected ('name' = expr, ...) or an array expression after HEADERS")
            return {"headers_expr": node}

        def _parse_kafka_format(self) -> exp.Var:
            token = self._curr
            if (self._word() and token.token_type not in self.QUERY_START_TOKENS) or (
                token and token.token_type == TokenType.STRING
            ):
                self._advance()
                node = exp.Var(this=token.text.lower())
                _set_span(node, token)
                return node
            self._fail("expected a format name after FORMAT, e.g. FORMAT json")

    class Generator(SparkGenerator):
        TRANSFORMS: t.ClassVar[dict] = {
            **SparkGenerator.TRANSFORMS,
            StreamColumn: _streamcolumn_sql,
            Watermark: _watermark_sql,
            KafkaProperty: _kafkaproperty_sql,
            CreateKafkaStream: _createkafkastream_sql,
            CreateDerivedStream: _createderivedstream_sql,
            HeaderPair: _headerpair_sql,
            InsertKafka: _insertkafka_sql,
            TimeWindow: _timewindow_sql,
            SessionWindow: _sessionwindow_sql,
        }


def _describe_token_error(sql: str, offset: int) -> str:
    text = sql[offset : offset + 2]
    if text.startswith("/*"):
        return "unterminated comment"
    if text[:1] in ("'", '"'):
        return "unterminated string"
    if text[:1] == "`":
        return "unterminated quoted identifier"
    return "cannot read the SQL"


def _fill_positions(tree: exp.Expr, tokens: list[Token]) -> None:
    """Give every Identifier/Literal/Var left without a position the best one we can find.

    sqlglot builds some leaves without a token (e.g. ``INTERVAL '10 minutes'`` splits into a
    number and a unit). Prefer the first token with the same text at or after the last known
    position; else the nearest positioned ancestor; else the last positioned node seen.
    """
    last: exp.Expr | None = None
    for node in tree.dfs():
        if _has_position(node):
            last = node
            continue
        if not isinstance(node, _POSITIONED):
            continue
        after = last.meta["start"] if last is not None else 0
        text = node.name.upper()
        match = next(
            (tok for tok in tokens if tok.start >= after and tok.text.upper() == text), None
        )
        if match is not None:
            node.update_positions(match)
            last = node
            continue
        source = next((a for a in _ancestors(node) if _has_position(a)), None) or last
        if source is not None:
            node.update_positions(source)
        elif tokens:
            node.update_positions(tokens[0])


def _ancestors(node: exp.Expr) -> t.Iterator[exp.Expr]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------

_DIALECT = SqlStream()


def split_statements(sql: str) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` (end exclusive) of each ``;``-separated statement of ``sql``.

    Uses this dialect's tokenizer, so a ``;`` in a string or comment does not split. Statements
    holding only whitespace or comments are skipped; the last may lack its ``;``. A span starts
    at the statement's first token (or a comment just before it) and ends after its last token
    (the ``;`` is not included). Raises :class:`StatementSplitError` (a sqlglot ``TokenError``)
    with ``offset``/``line``/``col`` of the token that could not be read.
    """
    tokens = _DIALECT.tokenize(sql)
    spans: list[tuple[int, int]] = []
    current: list[Token] = []
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if current:
                spans.append((current[0].start, current[-1].end + 1))
            current = []
        else:
            current.append(token)
    if current:
        spans.append((current[0].start, current[-1].end + 1))
    return spans


def parse_statement(sql: str) -> exp.Expr:
    """Parse exactly one statement (an optional trailing ``;`` is fine) with this dialect.

    Raises ``sqlglot.errors.ParseError``; each dict of ``.errors`` has sqlglot's ``line``,
    ``col`` (column of the offending token's last character), ``description``,
    ``start_context``, ``highlight``, and, for errors raised by this dialect's parser, ``start``
    and ``end`` offsets. A tokenizer failure raises :class:`StatementSplitError`.
    """
    tokens = _DIALECT.tokenize(sql)
    parser = _DIALECT.parser(error_level=ErrorLevel.RAISE)
    trees = [tree for tree in parser.parse(tokens, sql) if tree is not None]
    if not trees:
        raise _error(sql, "expected a statement, found none", 0, max(len(sql) - 1, 0))
    if len(trees) > 1:
        second = _second_statement_token(tokens)
        raise _error(sql, "expected one statement, found more than one", second.start, second.end)
    tree = trees[0]
    for node in tree.walk():
        if isinstance(node, exp.Command):
            start = node.meta.get("start", 0) if node._meta else 0
            raise _error(sql, f"unsupported statement: {node.name}", start, start)
    return tree


def _second_statement_token(tokens: list[Token]) -> Token:
    seen_semicolon = False
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            seen_semicolon = True
        elif seen_semicolon:
            return token
    return tokens[0]


def _error(sql: str, message: str, start: int, end: int) -> ParseError:
    line, col = _line_col(sql, end)
    _, start_context, highlight, end_context = highlight_sql(sql or " ", [(start, end)])
    error = ParseError.new(
        f"{message}. Line {line}, Col: {col}.",
        description=message,
        line=line,
        col=col,
        start_context=start_context,
        highlight=highlight,
        end_context=end_context,
    )
    error.errors[0]["start"] = start
    error.errors[0]["end"] = end
    return error


def generate(e: exp.Expr, pretty: bool = False) -> str:
    """SQL text of ``e`` in the sqlstream dialect."""
    return _DIALECT.generate(e, pretty=pretty)


def to_spark_sql(e: exp.Expr, pretty: bool = False) -> str:
    """Text Spark itself accepts for a plain query or expression (``window(...)`` included).

    Stream statements are not Spark SQL: passing one raises ``ValueError``.
    """
    stream_node = next((n for n in e.walk() if isinstance(n, _STREAM_NODES)), None)
    if stream_node is not None:
        raise ValueError(f"{type(stream_node).__name__} is a sqlstream statement, not Spark SQL")
    return _DIALECT.generate(e, pretty=pretty)


def set_key_value(item: exp.Expr) -> tuple[str, str]:
    """``(key, value)`` text of one ``SET key = value`` item (an ``exp.SetItem`` of ``exp.Set``).

    sqlglot parses ``SET spark.sql.shuffle.partitions = 4`` as ``EQ(Column, Literal)``; Spark
    confs are strings, so both sides become text: quoted keys/values without quotes, a dotted key
    as written (``spark.sql.shuffle.partitions``), ``TRUE`` as ``true``, ``-1`` as ``-1``.
    """
    eq = item.this if isinstance(item, exp.SetItem) else item
    if not isinstance(eq, exp.EQ):
        raise TypeError(f"not a SET key = value item: {generate(item)}")

    def text(node: exp.Expr) -> str:
        if isinstance(node, (exp.Literal, exp.Identifier, exp.Var)):
            return t.cast(str, node.name)
        if isinstance(node, exp.Boolean):
            return "true" if node.this else "false"
        if isinstance(node, exp.Column):
            return ".".join(p.name for p in node.parts)
        if isinstance(node, exp.Dot):
            return ".".join(text(p) for p in node.flatten())
        return _DIALECT.generate(node)

    return text(eq.this), text(eq.expression)
