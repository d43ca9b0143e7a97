"""sqlstream's statement parser: our statements over stock Spark's tokens.

Driven by tables, in sqlglot's style: :data:`STATEMENT_PARSERS` by leading word,
:data:`INSERT_CLAUSE_PARSERS`, :data:`COLUMN_ROLE_PARSERS`, :data:`OPTION_VALUE_PARSERS`.
Adding a statement or a clause is adding an entry. Stream words (STREAM, KAFKA, TOPIC, KEY,
...) are matched by their text, so they stay usable as column names.

The embedded Spark SQL is found by extent: a clause expression runs, at depth 0 (parentheses,
brackets, CASE..END), up to the next clause word or the start of the query, and that slice of
tokens goes to the stock Spark parser (:mod:`.spark`).
"""

from __future__ import annotations

import re
import typing as t

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from sqlstream.compiler import spark_names
from sqlstream.compiler.syntax import nodes as n
from sqlstream.compiler.syntax import spark
from sqlstream.compiler.syntax.spark import SyntaxProblem

#: Where a table's rows come from: ``CREATE TABLE ... FROM <connector> (...)``.
TABLE_CONNECTORS = ("kafka", "files", "jdbc")

#: Tokens that start a query (a CREATE STREAM ... AS body, the query of an INSERT).
QUERY_START = {TokenType.SELECT, TokenType.WITH, TokenType.FROM, TokenType.VALUES}

#: The clauses of INSERT INTO KAFKA, in their documented (and generated) order.
INSERT_CLAUSES = ("CHANGELOG", "KEY", "PARTITION", "HEADERS", "FORMAT", "VALUE", "WITH")

#: Words that continue an expression: a clause word after one of them is a column name.
OPERATOR_WORDS = {
    "AND", "OR", "NOT", "IS", "IN", "LIKE", "ILIKE", "RLIKE", "REGEXP", "BETWEEN", "DIV",
    "ESCAPE", "WHEN", "THEN", "ELSE", "CASE", "DISTINCT", "INTERVAL", "AS",
}  # fmt: skip

TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}(?![^\s;])")
"""A Kafka topic name written bare, up to a space or the statement's end."""
UNSUPPORTED_HINT = "a file holds CREATE STREAM, INSERT INTO KAFKA TOPIC, SET and SELECT statements"


class Parser:
    """One statement: ``tokens`` (no ``;``) of ``sql`` (the whole text they come from)."""

    def __init__(self, tokens: list[Token], sql: str) -> None:
        self.tokens = tokens
        self.sql = sql
        self.i = 0

    # ---- cursor --------------------------------------------------------------------------

    @property
    def curr(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    @property
    def prev(self) -> Token:
        return self.tokens[max(self.i - 1, 0)]

    def peek(self, offset: int = 1) -> Token | None:
        index = self.i + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def word(self, token: Token | None = None, *, at: int = 0) -> str | None:
        return spark.word(token if token is not None else self.peek(at), self.sql)

    def kind(self, offset: int = 0) -> TokenType | None:
        token = self.peek(offset)
        return token.token_type if token is not None else None

    def match(self, kind: TokenType) -> Token | None:
        token = self.curr
        if token is not None and token.token_type == kind:
            self.i += 1
            return token
        return None

    def match_word(self, *words: str) -> bool:
        if all(self.word(at=k) == w for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def at_end(self) -> bool:
        return self.i >= len(self.tokens)

    def fail(self, message: str, token: Token | None = None, hint: str | None = None) -> t.NoReturn:
        token = token or self.curr or self.prev
        raise SyntaxProblem(message, token.start, token.end, hint)

    def describe(self, token: Token | None = None) -> str:
        token = token or self.curr
        if token is None:
            return "end of statement"
        if token.token_type == TokenType.STRING:
            return f"'{token.text}'"
        text = token.text
        return repr(text) if len(text) < 40 else repr(text[:37] + "...")

    def expect_end(self, what: str) -> None:
        if not self.at_end():
            self.fail(f"unexpected {self.describe()} after {what}")

    def written(self, start: int, stop: int) -> str:
        """The text of tokens ``start`` to ``stop`` (not included), as the user wrote it."""
        return self.sql[self.tokens[start].start : self.tokens[stop - 1].end + 1]

    def span(self, first: Token, last: Token | None = None) -> n.Span:
        return n.Span(first.start, (last or self.prev).end)

    # ---- extents -------------------------------------------------------------------------

    def extent(self, stop: t.Callable[[int], bool]) -> list[Token]:
        """Tokens from the cursor up to (not including) the first one at depth 0 for which
        ``stop(index)`` holds, or a closing bracket that closes nothing opened here."""
        depth, j = 0, self.i
        tokens = self.tokens
        while j < len(tokens):
            kind = tokens[j].token_type
            if depth == 0 and (kind in _CLOSE or stop(j)):
                break
            if kind in _OPEN:
                depth += 1
            elif kind in _CLOSE:
                depth -= 1
            j += 1
        part = tokens[self.i : j]
        self.i = j
        return part

    def ends_operand(self, j: int) -> bool:
        """Whether token ``j`` can end an operand (so a clause word after it starts a clause)."""
        token = self.tokens[j]
        if token.token_type in _CLOSE or token.token_type in (
            TokenType.STRING, TokenType.NUMBER, TokenType.IDENTIFIER, TokenType.STAR
        ):  # fmt: skip
            return True
        text = spark.word(token, self.sql)
        return text is not None and text not in OPERATOR_WORDS

    def starts_query(self, j: int) -> bool:
        token = self.tokens[j]
        if j > 0 and self.tokens[j - 1].token_type == TokenType.DOT:
            return False
        if token.token_type == TokenType.WITH:
            following = self.tokens[j + 1] if j + 1 < len(self.tokens) else None
            return following is None or following.token_type != TokenType.L_PAREN
        if token.token_type == TokenType.L_PAREN and j + 1 < len(self.tokens):
            return self.tokens[j + 1].token_type in QUERY_START or (
                self.tokens[j + 1].token_type == TokenType.L_PAREN and self.starts_query(j + 1)
            )
        return token.token_type in QUERY_START

    def starts_clause(self, j: int) -> bool:
        if j == 0 or self.tokens[j - 1].token_type == TokenType.DOT:
            return False
        text = spark.word(self.tokens[j], self.sql)
        if text not in INSERT_CLAUSES or not self.ends_operand(j - 1):
            return False
        if text == "WITH":
            return j + 1 < len(self.tokens) and self.tokens[j + 1].token_type == TokenType.L_PAREN
        return True

    def expression(self, stop: t.Callable[[int], bool], missing: str) -> exp.Expr:
        first = self.i
        part = self.extent(lambda j: j > first and stop(j) or (j == first and self.starts_query(j)))
        if not part:
            self.fail(missing)
        return spark.parse_expression(part, self.sql)

    # ---- statements ----------------------------------------------------------------------

    def statement(self) -> n.Statement:
        token = self.curr
        if token is None:
            raise SyntaxProblem("expected a statement, found none", 0, 0)
        spark.check_depth(self.tokens)
        leading = self.word(token)
        parse = STATEMENT_PARSERS.get(leading or "") or TOKEN_STATEMENT_PARSERS.get(
            token.token_type
        )
        if parse is None:
            if leading:
                self.unsupported(token)
            self.fail(f"unexpected {self.describe(token)}")
        return parse(self)

    def unsupported(self, token: Token) -> t.NoReturn:
        self.fail(
            f"this statement ({self.word(token)}) is not supported in a stream project",
            token,
            UNSUPPORTED_HINT,
        )

    def query(self, after: str, message: str = "", end: str | None = None) -> exp.Query:
        """The rest of the statement, a query (``AS (SELECT ...)`` gives the query itself).
        ``end`` names it in the error for what follows a complete query."""
        start = self.curr
        if start is None or not self.starts_query(self.i):
            message = message or "expected a query (SELECT ...) after {after}, got {token}"
            self.fail(message.format(after=after, token=self.describe(start)), start)
        part = self.tokens[self.i :]
        self.i = len(self.tokens)
        try:
            query = spark.parse_query(part, self.sql)
        except SyntaxProblem as e:
            if end and e.message.startswith("Invalid expression / Unexpected token"):
                bad = self.sql[e.start : e.end + 1]
                e = SyntaxProblem(f"unexpected '{bad}' after {end}", e.start, e.end)
            raise e from None
        while (
            isinstance(query, exp.Subquery)
            and not any(v for k, v in query.args.items() if k != "this")
            and isinstance(query.this, exp.Query)
        ):
            query = query.this
        if not isinstance(query, exp.Query):
            message = message or "expected a query (SELECT ...) after {after}, got {token}"
            self.fail(message.format(after=after, token=self.describe(start)), start)
        return query

    def bare_query(self) -> n.QueryStatement:
        first = self.curr
        assert first is not None
        query = self.query("the query")
        return n.QueryStatement(query, self.span(first))

    # ---- names and texts -----------------------------------------------------------------

    def name(self) -> n.Name | None:
        """A stream or column name: a quoted `identifier` or any bare word."""
        token = self.curr
        if token is not None and token.token_type == TokenType.IDENTIFIER:
            self.i += 1
            return n.Name(token.text, True, self.span(token, token))
        if token is not None and self.word(token):
            self.i += 1
            return n.Name(token.text, False, self.span(token, token))
        return None

    def string(self) -> n.Text | None:
        token = self.match(TokenType.STRING)
        return n.Text(token.text, True, self.span(token, token)) if token else None

    # ---- CREATE STREAM -------------------------------------------------------------------

    def create(self) -> n.Statement:
        create = t.cast(Token, self.curr)
        self.i += 1
        if self.word() == "STREAM":
            return self.create_stream(create)
        if self.word() == "TABLE":
            return self.create_table(create)
        for prefix in (("OR", "REPLACE"), ("TEMPORARY",), ("TEMP",)):
            if all(self.word(at=k) == w for k, w in enumerate(prefix)) and (
                self.word(at=len(prefix)) == "STREAM"
            ):
                self.fail(
                    f"CREATE {' '.join(prefix)} STREAM is not supported: write CREATE STREAM "
                    "name ...",
                    create,
                    "a stream is defined once in a project: edit its CREATE STREAM to change it",
                )
        self.unsupported(create)

    def create_stream(self, create: Token) -> n.Statement:
        self.i += 1  # STREAM
        if self.match_word("IF", "NOT", "EXISTS"):
            self.fail("IF NOT EXISTS is not supported for streams", self.prev)
        name = self.name()
        if name is None:
            self.fail("expected a stream name after CREATE STREAM")
        if self.kind() == TokenType.DOT:
            self.fail(f"a stream name cannot be qualified: write CREATE STREAM {name.text}")
        where = f"stream '{name.text}'"
        if self.match(TokenType.ALIAS):
            query = self.query(f"AS in CREATE STREAM {name.text}", end=f"the query of {where}")
            node = n.CreateDerivedStream(name, query, self.span(create))
            return node
        columns: list[n.StreamColumn] = []
        watermark: n.Watermark | None = None
        if self.kind() == TokenType.FROM:
            pass  # no column list: the registry's latest schema gives them (analyse)
        elif not self.match(TokenType.L_PAREN):
            self.fail(
                f"expected a column list (...) FROM KAFKA (...) or AS SELECT ... after "
                f"CREATE STREAM {name.text}"
            )
        else:
            columns, watermark = self.columns(where)
        if not (self.match(TokenType.FROM) and self.match_word("KAFKA")):
            self.fail(f"expected FROM KAFKA (...) after the column list of {where}")
        if self.kind() != TokenType.L_PAREN:
            self.fail(f"expected '(' with the Kafka options after FROM KAFKA of {where}")
        options = self.options(f"FROM KAFKA (...) of {where}")
        self.expect_end(f"the Kafka options of {where}")
        return n.CreateKafkaStream(name, columns, watermark, options, self.span(create))

    def create_table(self, create: Token) -> n.CreateTable:
        self.i += 1  # TABLE
        name = self.name()
        if name is None or self.kind() == TokenType.DOT:
            self.fail("expected a table name after CREATE TABLE, e.g. CREATE TABLE products (...)")
        where = f"table '{name.text}'"
        if not self.match(TokenType.L_PAREN):
            self.fail(
                f"expected a column list (..., PRIMARY KEY (k)) after CREATE TABLE {name.text}"
            )
        columns: list[n.StreamColumn] = []
        key: list[n.Name] | None = None
        while True:
            if self.kind() == TokenType.PRIMARY_KEY:  # one token in sqlglot's tokenizer
                if key is not None:
                    self.fail(f"{where} has more than one PRIMARY KEY")
                self.i += 1
                key = self.name_list(f"PRIMARY KEY of {where}")
            else:
                columns.append(self.column(where))
            if self.match(TokenType.COMMA):
                continue
            if self.match(TokenType.R_PAREN):
                break
            self.fail(f"expected ',' or ')' in the column list of {where}, got {self.describe()}")
        if key is None:
            self.fail(
                f"{where} needs a PRIMARY KEY: the column a stream is joined on",
                self.prev,
                "add PRIMARY KEY (column) to the column list",
            )
        connector = self.word(at=1) if self.kind() == TokenType.FROM else None
        if connector is None or connector.lower() not in TABLE_CONNECTORS:
            self.fail(
                f"expected FROM KAFKA (...), FROM FILES (...) or FROM JDBC (...) after {where}",
                self.peek(1) if self.kind() == TokenType.FROM else None,
            )
        self.i += 2
        word = self.prev
        options = self.options(f"FROM {connector} (...) of {where}")
        self.expect_end(f"the options of {where}")
        text = n.Text(connector.lower(), False, self.span(word, word))
        return n.CreateTable(name, columns, key, text, options, self.span(create))

    def name_list(self, where: str) -> list[n.Name]:
        """``(a, b)``: column names."""
        if not self.match(TokenType.L_PAREN):
            self.fail(f"expected '(' with the column names of the {where}")
        names: list[n.Name] = []
        while True:
            name = self.name()
            if name is None:
                self.fail(f"expected a column name in the {where}")
            names.append(name)
            if self.match(TokenType.COMMA):
                continue
            if self.match(TokenType.R_PAREN):
                return names
            self.fail(f"expected ',' or ')' in the {where}, got {self.describe()}")

    def columns(self, where: str) -> tuple[list[n.StreamColumn], n.Watermark | None]:
        columns: list[n.StreamColumn] = []
        watermark: n.Watermark | None = None
        if self.kind() == TokenType.R_PAREN:
            self.fail(f"the column list of {where} is empty")
        while True:
            if self.word() == "WATERMARK" and self.kind(1) == TokenType.FOR:
                if watermark is not None:
                    self.fail(f"{where} has more than one WATERMARK")
                watermark = self.watermark(where)
            else:
                columns.append(self.column(where))
            if self.match(TokenType.COMMA):
                continue
            if self.match(TokenType.R_PAREN):
                return columns, watermark
            self.fail(f"expected ',' or ')' in the column list of {where}, got {self.describe()}")

    def column(self, where: str) -> n.StreamColumn:
        first = self.curr
        name = self.name()
        if first is None or name is None:
            if first is not None and first.token_type == TokenType.R_PAREN:
                self.fail(
                    f"a ',' with no column after it, in the column list of {where}",
                    self.prev,
                    "remove the ',' before the ')'",
                )
            self.fail(f"expected a column name in the column list of {where}")
        kind = self.column_type(name.text, where)
        role: n.Role = "value"
        ref: n.Text | None = None
        role_word = self.word()
        if role_word in COLUMN_ROLE_PARSERS:
            self.i += 1
            role, ref = COLUMN_ROLE_PARSERS[role_word](self, f"column '{name.text}'")
            if role == "metadata" and ref is None:
                ref = n.Text(name.text, True, name.span)
        elif self.kind() == TokenType.FROM and self.word(at=1) == "KAFKA":
            self.fail(f"expected ')' to close the column list of {where} before FROM KAFKA")
        elif self.kind() not in (TokenType.COMMA, TokenType.R_PAREN):
            self.fail(
                f"unexpected {self.describe()} after the type of column '{name.text}' of "
                f"{where}: expected KEY, HEADER('name'), HEADERS, METADATA FROM 'field', "
                "',' or ')'"
            )
        return n.StreamColumn(name, kind, role, ref, self.span(first))

    def column_type(self, column: str, where: str) -> exp.DataType:
        """The longest run of tokens that is one type (types are short: a few tries at most)."""
        start = self.i
        part = self.type_extent()
        for size in range(len(part), 0, -1):
            kind = spark.parse_type(part[:size], self.sql)
            if kind is not None:
                self.i = start + size
                return kind
        self.i = start
        word = part[0].text if part and part[0].token_type == TokenType.VAR else ""
        self.fail(
            f"expected a type after column '{column}' of {where}", hint=spark_names.type_hint(word)
        )

    def type_extent(self) -> list[Token]:
        """Tokens up to a ',', ')', FROM or role word outside the type's ``(...)`` and ``<...>``."""
        depth = angle = 0
        j = self.i
        while j < len(self.tokens):
            token = self.tokens[j]
            kind = token.token_type
            outside = depth == 0 and angle == 0
            if outside and (
                kind in _CLOSE or kind in _TYPE_ENDS or self.word(token) in COLUMN_ROLE_PARSERS
            ):
                break
            depth += (kind in _OPEN) - (kind in _CLOSE)
            angle += (kind == TokenType.LT) - (kind == TokenType.GT)
            if max(depth, angle) > spark.MAX_DEPTH:
                raise spark.too_deep(token)
            j += 1
        part = self.tokens[self.i : j]
        self.i = j
        return part

    def header_ref(self, where: str) -> n.Text:
        if not self.match(TokenType.L_PAREN):
            self.fail(f"expected ('header-name') after HEADER of {where}")
        ref = self.string()
        if ref is None:
            self.fail(f"expected a quoted header name in HEADER(...) of {where}")
        if not self.match(TokenType.R_PAREN):
            self.fail(f"expected ')' after the header name of {where}")
        return ref

    def metadata_ref(self, where: str) -> n.Text | None:
        if not self.match(TokenType.FROM):
            return None
        ref = self.string()
        if ref is None:
            self.fail(
                f"expected a quoted Kafka field after METADATA FROM of {where}, "
                "e.g. METADATA FROM 'timestamp'"
            )
        return ref

    def watermark(self, where: str) -> n.Watermark:
        first = t.cast(Token, self.curr)
        self.i += 2  # WATERMARK FOR
        start = self.i
        self.skip_dotted_name()
        column = (
            spark.parse_column(self.tokens[start : self.i], self.sql) if self.i > start else None
        )
        if column is None:
            self.i = start
            self.fail(f"expected the event-time column after WATERMARK FOR in {where}")
        name = self.written(start, self.i)  # as written: no generator run on the way
        if not self.match(TokenType.ALIAS):
            self.fail(
                f"expected AS <delay expression> after WATERMARK FOR {name} in "
                f"{where}, e.g. AS {name} - INTERVAL '10' SECONDS"
            )
        delay = self.expression(
            lambda j: self.tokens[j].token_type == TokenType.COMMA,
            f"expected an expression after WATERMARK FOR {name} AS",
        )
        return n.Watermark(column, delay, self.span(first))

    def skip_dotted_name(self) -> None:
        """Past ``name`` or ``a.b.name`` (bare or `quoted` parts)."""
        while self.word() or self.kind() == TokenType.IDENTIFIER:
            self.i += 1
            name_follows = self.word(at=1) or self.kind(1) == TokenType.IDENTIFIER
            if self.kind() != TokenType.DOT or not name_follows:
                return
            self.i += 1

    # ---- options -------------------------------------------------------------------------

    def options(self, where: str) -> list[n.Option]:
        """``(k = v, ...)``, starting at its opening paren."""
        if not self.match(TokenType.L_PAREN):
            self.fail(f"expected '(' to open {where}")
        options: list[n.Option] = []
        seen: set[str] = set()
        if self.match(TokenType.R_PAREN):
            return options
        while True:
            key_token = self.curr
            option = self.option(where)
            if option.name in seen:
                self.fail(f"option '{option.name}' is given twice in {where}", key_token)
            seen.add(option.name)
            options.append(option)
            if self.match(TokenType.COMMA):
                continue
            if self.match(TokenType.R_PAREN):
                return options
            self.fail(
                f"expected ',' or ')' after option '{option.name}' in {where}, "
                f"got {self.describe()}"
            )

    def option(self, where: str) -> n.Option:
        first = self.curr
        quoted = self.kind() == TokenType.STRING
        if first is None or not (quoted or self.word()):
            self.fail(f"expected an option name in {where}, got {self.describe()}")
        if not quoted and self.kind(1) == TokenType.DOT:
            self.fail(
                f"an option name with dots must be quoted: write '{self.dotted_text()}' in {where}",
                first,
            )
        self.i += 1
        if not self.match(TokenType.EQ):
            self.fail(f"expected '=' after option '{first.text}' in {where}")
        value = self.option_value(first.text, where)
        return n.Option(first.text, quoted, value, self.span(first, first), self.span(first))

    def dotted_text(self) -> str:
        parts, j = [], self.i
        stops = (TokenType.EQ, TokenType.COMMA, TokenType.R_PAREN)
        while j < len(self.tokens) and self.tokens[j].token_type not in stops:
            parts.append(self.tokens[j].text)
            j += 1
        return "".join(parts)

    def option_value(self, key: str, where: str) -> n.OptionValue:
        token = self.curr
        kind = token.token_type if token is not None else None
        parse = OPTION_VALUE_PARSERS.get(kind) if kind is not None else None
        if parse is None and token is not None and self.word() and kind not in QUERY_START:
            parse = Parser.word_value
        value = parse(self) if parse is not None else None
        if value is None:
            self.fail(
                f"expected a value for option '{key}' in {where}: a 'string', a number, "
                "TRUE/FALSE or a word such as once"
            )
        return value

    def literal_value(self) -> n.OptionValue:
        token = t.cast(Token, self.curr)
        self.i += 1
        kind = "string" if token.token_type == TokenType.STRING else "number"
        return n.OptionValue(token.text, kind, self.span(token, token))

    def negative_value(self) -> n.OptionValue | None:
        minus, number = t.cast(Token, self.curr), self.peek()
        if number is None or number.token_type != TokenType.NUMBER:
            return None
        self.i += 2
        return n.OptionValue(f"-{number.text}", "number", self.span(minus, number))

    def boolean_value(self) -> n.OptionValue:
        token = t.cast(Token, self.curr)
        self.i += 1
        text = "true" if token.token_type == TokenType.TRUE else "false"
        return n.OptionValue(text, "boolean", self.span(token, token))

    def word_value(self) -> n.OptionValue:
        token = t.cast(Token, self.curr)
        self.i += 1
        following = self.match(TokenType.STRING)
        if following is not None:
            # `continuous '5 seconds'`: one string, read the same way as '10 seconds'.
            return n.OptionValue(f"{token.text} {following.text}", "string", self.span(token))
        return n.OptionValue(token.text, "word", self.span(token, token))

    # ---- INSERT INTO KAFKA ---------------------------------------------------------------

    def insert(self) -> n.Statement:
        insert = t.cast(Token, self.curr)
        self.i += 1
        if self.word() == "INTO" and self.word(at=1) == "KAFKA":
            return self.insert_kafka(insert)
        if (
            self.word() == "INTO"
            and self.word(at=1) == "TOPIC"
            and self.kind(2) in (TokenType.STRING, TokenType.L_PAREN)
        ):
            self.fail("expected KAFKA: write INSERT INTO KAFKA TOPIC ...", self.peek(1))
        self.unsupported(insert)

    def insert_kafka(self, insert: Token) -> n.InsertKafka:
        self.i += 2  # INTO KAFKA
        if not self.match_word("TOPIC"):
            self.fail("expected TOPIC after INSERT INTO KAFKA, e.g. INSERT INTO KAFKA TOPIC 'x'")
        args: dict[str, t.Any] = {"topic": self.topic()}
        seen: set[str] = set()
        while not self.at_end() and self.starts_clause(self.i):
            clause = t.cast(str, self.word())
            if clause in seen:
                self.fail(f"the {clause} clause is given twice", hint=f"keep one {clause} clause")
            seen.add(clause)
            self.i += 1
            args.update(INSERT_CLAUSE_PARSERS[clause](self))
        args["query"] = self.query(
            "the query of INSERT INTO KAFKA",
            "unexpected {token} in INSERT INTO KAFKA: expected KEY, PARTITION, HEADERS, "
            "FORMAT, VALUE, WITH (...), CHANGELOG or the query (SELECT ...)",
            end="the query of INSERT INTO KAFKA",
        )
        return n.InsertKafka(span=self.span(insert), **args)

    def quote_hint(self) -> str | None:
        """``quote it: TOPIC 'user-spending'`` when what follows TOPIC is a bare topic name."""
        token = self.curr
        if token is None:
            return None
        bare = TOPIC_NAME.match(self.sql, token.start)
        return f"quote it: TOPIC '{bare.group()}'" if bare else None

    def topic(self) -> n.Text | exp.Expr:
        text = self.string()
        if text is not None:
            return text
        opening = self.match(TokenType.L_PAREN)
        if opening is None:
            self.fail(
                "expected a topic after INSERT INTO KAFKA TOPIC: a quoted name such as 'orders' "
                "or a parenthesised expression for per-row routing",
                hint=self.quote_hint(),
            )
        if self.kind() == TokenType.R_PAREN:
            self.fail("expected an expression inside TOPIC (...)")
        inner = self.expression(self.starts_query, "expected an expression inside TOPIC (...)")
        closing = self.match(TokenType.R_PAREN)
        if closing is None:
            self.fail("expected ')' to close TOPIC (...)")
        return spark.set_span(exp.Paren(this=inner), opening, closing)

    def clause_expression(self, clause: str) -> exp.Expr:
        return self.expression(
            lambda j: self.starts_clause(j) or self.starts_query(j),
            f"expected an expression after {clause}",
        )

    def headers(self) -> dict[str, t.Any]:
        if (
            self.kind() == TokenType.L_PAREN
            and self.kind(1) == TokenType.STRING
            and self.kind(2) == TokenType.EQ
        ):
            self.i += 1
            pairs: list[n.HeaderPair] = []
            while True:
                first = self.curr
                key = self.string()
                if first is None or key is None:
                    self.fail("expected a quoted header name in HEADERS (...)")
                if not self.match(TokenType.EQ):
                    self.fail(f"expected '=' after header '{key.value}' in HEADERS (...)")
                value = self.expression(
                    lambda j: self.tokens[j].token_type == TokenType.COMMA,
                    f"expected an expression for header '{key.value}'",
                )
                pairs.append(n.HeaderPair(key, value, self.span(first)))
                if self.match(TokenType.COMMA):
                    continue
                if self.match(TokenType.R_PAREN):
                    return {"headers": pairs}
                self.fail(f"expected ',' or ')' in HEADERS (...), got {self.describe()}")
        return {
            "headers_expr": self.expression(
                lambda j: self.starts_clause(j) or self.starts_query(j),
                "expected ('name' = expr, ...) or an array expression after HEADERS",
            )
        }

    def format(self) -> dict[str, t.Any]:
        token = self.curr
        if token is not None and (
            (self.word() and token.token_type not in QUERY_START)
            or token.token_type == TokenType.STRING
        ):
            self.i += 1
            quoted = token.token_type == TokenType.STRING
            text, last = token.text, token
            # `avro-confluent`: words joined by dashes with no space between are one name.
            while not quoted and self.kind() == TokenType.DASH and self.word(at=1):
                dash, word = t.cast(Token, self.curr), t.cast(Token, self.peek())
                if dash.start != last.end + 1 or word.start != dash.end + 1:
                    break
                text, last = f"{text}-{word.text}", word
                self.i += 2
            return {"format": n.Text(text.lower(), quoted, self.span(token, last))}
        self.fail("expected a format name after FORMAT, e.g. FORMAT json")

    # ---- SET -----------------------------------------------------------------------------

    def set(self) -> n.SetStatement:
        first = t.cast(Token, self.curr)
        self.i += 1
        items: list[n.SetItem] = []
        while True:
            items.append(self.set_item())
            if not self.match(TokenType.COMMA):
                break
        self.expect_end("SET key = value")
        return n.SetStatement(items, self.span(first))

    def set_item(self) -> n.SetItem:
        hint = "e.g. SET spark.sql.shuffle.partitions = 4;"
        key = self.extent(lambda j: self.tokens[j].token_type in (TokenType.EQ, TokenType.COMMA))
        if not key or not self.match(TokenType.EQ):
            self.fail("expected SET key = value", key[0] if key else None, hint)
        value = self.extent(lambda j: self.tokens[j].token_type == TokenType.COMMA)
        if not value:
            self.fail("expected a value after '=' in SET", self.prev, hint)
        return n.SetItem(
            _conf_text(key, self.sql),
            _conf_text(value, self.sql),
            self.sql[key[0].start : key[-1].end + 1],
            self.sql[value[0].start : value[-1].end + 1],
            n.Span(key[0].start, value[-1].end),
        )


_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END}
_TYPE_ENDS = {TokenType.COMMA, TokenType.FROM}


def _conf_text(tokens: list[Token], sql: str) -> str:
    """Spark confs are strings: a quoted key or value without its quotes, TRUE as true, the
    rest (a dotted name, a number, ``-1``) as written."""
    if len(tokens) == 1 and tokens[0].token_type in (TokenType.STRING, TokenType.IDENTIFIER):
        return tokens[0].text
    if len(tokens) == 1 and tokens[0].token_type in (TokenType.TRUE, TokenType.FALSE):
        return tokens[0].text.lower()
    return sql[tokens[0].start : tokens[-1].end + 1]


#: Leading word -> parser of the statement.
STATEMENT_PARSERS: dict[str, t.Callable[[Parser], n.Statement]] = {
    "CREATE": Parser.create,
    "INSERT": Parser.insert,
    "SET": Parser.set,
    "SELECT": Parser.bare_query,
    "WITH": Parser.bare_query,
    "VALUES": Parser.bare_query,
    "FROM": Parser.bare_query,
}

#: Leading punctuation -> parser of the statement.
TOKEN_STATEMENT_PARSERS: dict[TokenType, t.Callable[[Parser], n.Statement]] = {
    TokenType.L_PAREN: Parser.bare_query,
}

#: INSERT INTO KAFKA clause word -> parser of what follows it; returns InsertKafka fields.
INSERT_CLAUSE_PARSERS: dict[str, t.Callable[[Parser], dict[str, t.Any]]] = {
    "CHANGELOG": lambda p: {"changelog": n.Text("changelog", False, p.span(p.prev, p.prev))},
    "KEY": lambda p: {"key": p.clause_expression("KEY")},
    "PARTITION": lambda p: {"partition": p.clause_expression("PARTITION")},
    "HEADERS": Parser.headers,
    "FORMAT": Parser.format,
    "VALUE": lambda p: {"value": p.clause_expression("VALUE")},
    "WITH": lambda p: {"options": p.options("WITH (...)")},
}

#: Source column role word -> parser of what follows it; returns (role, ref).
COLUMN_ROLE_PARSERS: dict[str, t.Callable[[Parser, str], tuple[n.Role, n.Text | None]]] = {
    "KEY": lambda p, where: ("key", None),
    "HEADERS": lambda p, where: ("headers", None),
    "HEADER": lambda p, where: ("header", p.header_ref(where)),
    "METADATA": lambda p, where: ("metadata", p.metadata_ref(where)),
}

#: First token of an option value -> its parser (a bare word: :meth:`Parser.word_value`).
OPTION_VALUE_PARSERS: dict[TokenType, t.Callable[[Parser], n.OptionValue | None]] = {
    TokenType.STRING: Parser.literal_value,
    TokenType.NUMBER: Parser.literal_value,
    TokenType.DASH: Parser.negative_value,
    TokenType.TRUE: Parser.boolean_value,
    TokenType.FALSE: Parser.boolean_value,
}
