"""The bridge to stock sqlglot: its Spark tokenizer, and its Spark parser for embedded SQL.

Everything here goes through sqlglot's public API only (``Dialect.get_or_raise``,
``tokenize``, ``parser().parse`` / ``parse_into``, ``Token``, ``node.meta``), so the same code
runs on pure sqlglot and on its compiled build (``sqlglotc``), which refuses subclasses.

A statement is tokenized once; each embedded part (a query, a clause expression, a type) is a
slice of that token list handed to the Spark parser together with the whole text, so sqlglot's
positions are offsets into that text by construction.
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
import typing as t

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import Token, TokenType

SPARK = "spark"
DIALECT = Dialect.get_or_raise(SPARK)
"""The dialect, given to sqlglot as an object: given its name, every call built a new one."""

#: Deepest nesting of parentheses, brackets and CASE accepted. Measured (sqlglot 30.30/30.31,
#: Python's default recursion limit of 1000): the compile path (parse, qualify, annotate_types,
#: generate) of pure sqlglot survives 42 nested calls, 48 parentheses, 53 CASE and 42
#: subqueries run from a shallow stack; sqlglotc survives 200 of each. 32 leaves room for the
#: frames of the CLI, pytest and the compiler itself.
MAX_DEPTH = 32

#: Chains of AND / OR longer than this are rebalanced (see :func:`rebalance`).
LONG_CHAIN = 64

#: Spark's streaming window functions; stock sqlglot parses them as ``exp.Anonymous``.
WINDOW_FUNCTIONS = {"window": (2, 4), "session_window": (2, 2)}

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END}
#: Tokens Spark's grammar has no use for in our files (``$x`` substitution, ``?`` markers).
_STRAY = {TokenType.PARAMETER, TokenType.PLACEHOLDER}


class SyntaxProblem(Exception):
    """A statement that cannot be read. ``start``/``end``: offsets (end inclusive) of the token
    at fault in the parsed text. ``hint``: ours, or None to let the caller derive one from
    the message (sqlglot's messages)."""

    def __init__(self, message: str, start: int, end: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = max(start, end)
        self.hint = hint


# --- tokens ---------------------------------------------------------------------------------


_TOKENIZER = DIALECT.tokenizer()
"""One tokenizer for the process (each ``tokenize`` starts afresh): ``Dialect.tokenize`` built
a new one per call, which cost as much as tokenizing a short file (sqlglotc)."""


def tokenize(sql: str) -> list[Token]:
    """Spark's tokens of ``sql``; an unreadable token is a :class:`SyntaxProblem` at its start."""
    try:
        return _TOKENIZER.tokenize(sql)
    except TokenError:
        offset = unreadable_offset(sql)
        raise SyntaxProblem(_describe_unreadable(sql, offset), offset, offset) from None


def unreadable_offset(sql: str) -> int:
    """Where the token the tokenizer could not finish starts: the opening quote of a string or
    quoted name, or the ``/*`` of a comment, that is never closed (else the end)."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            if close < 0:
                return i
            i = close + 2
        elif ch in "'\"`":
            j = _closing_quote(sql, i)
            if j < 0:
                return i
            i = j + 1
        else:
            i += 1
    return max(0, n - 1)


def _closing_quote(sql: str, i: int) -> int:
    quote, j = sql[i], i + 1
    while j < len(sql):
        ch = sql[j]
        if ch == "\\" and quote != "`":
            j += 2
            continue
        if ch == quote:
            if sql.startswith(quote, j + 1):
                j += 2  # a doubled quote stands for itself
                continue
            return j
        j += 1
    return -1


def _describe_unreadable(sql: str, offset: int) -> str:
    text = sql[offset : offset + 2]
    if text.startswith("/*"):
        return "unterminated comment"
    if text[:1] in ("'", '"'):
        return "unterminated string"
    if text[:1] == "`":
        return "unterminated quoted identifier"
    return "cannot read the SQL"


def word(token: Token | None, sql: str) -> str | None:
    """The upper-cased text of a bare word token (keyword or name), else None."""
    if token is None or token.token_type in (TokenType.STRING, TokenType.IDENTIFIER):
        return None
    text = token.text
    if not _WORD.match(text) or sql[token.start : token.end + 1] != text:
        return None  # a quoted token's text lacks its quotes
    return text.upper()


def check_depth(tokens: t.Sequence[Token]) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` at the token that goes past it, before any
    recursive parser sees it (sqlglot recurses per level; compiled, it overflows the C stack)."""
    depth = 0
    for token in tokens:
        kind = token.token_type
        if kind in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                raise too_deep(token)
        elif kind in _CLOSE:
            depth -= 1


def too_deep(token: Token) -> SyntaxProblem:
    return SyntaxProblem(
        f"the SQL is nested too deeply (more than {MAX_DEPTH} levels of parentheses, brackets "
        "or CASE)",
        token.start,
        token.end,
        "split it: compute a part in a derived stream (CREATE STREAM ... AS SELECT) and read it",
    )


def _prepare(tokens: t.Sequence[Token]) -> list[Token]:
    """Tokens for the stock parser: ``window(`` / ``window.`` become names (stock Spark takes
    WINDOW for the named-window clause and refuses ``GROUP BY window(...)``); refuse what
    sqlglot would silently drop or keep for Spark to refuse: empty list items and ``$``."""
    out = list(tokens)
    last = len(tokens) - 1
    for i, token in enumerate(tokens):
        kind = token.token_type
        if kind not in _PREPARED:
            continue  # most tokens: one set lookup
        following = tokens[i + 1].token_type if i < last else None
        if kind in _STRAY:
            raise SyntaxProblem(
                f"unexpected '{token.text}'",
                token.start,
                token.end,
                "remove it: Spark SQL has no parameters here (use Jinja's {{ var('x') }})",
            )
        if kind == TokenType.COMMA and following in (TokenType.COMMA, TokenType.R_PAREN):
            raise _empty_item(tokens[i + 1] if following == TokenType.COMMA else token)
        if kind == TokenType.COMMA and following == TokenType.FROM:
            raise _empty_item(token)
        if kind == TokenType.L_PAREN and following == TokenType.COMMA:
            raise _empty_item(tokens[i + 1])
        if kind == TokenType.WINDOW and following in (TokenType.L_PAREN, TokenType.DOT):
            text = token.text.lower() if following == TokenType.L_PAREN else token.text
            out[i] = Token(
                TokenType.VAR, text, token.line, token.col, token.start, token.end, token.comments
            )
    return out


_PREPARED = {*_STRAY, TokenType.COMMA, TokenType.L_PAREN, TokenType.WINDOW}
"""The kinds of token ``_prepare`` looks at (refuses, or renames)."""


def _empty_item(token: Token) -> SyntaxProblem:
    return SyntaxProblem(
        "unexpected ',': an item of the list is missing",
        token.start,
        token.end,
        "remove the extra ',' or write the missing item",
    )


# --- embedded Spark SQL ---------------------------------------------------------------------

_PARSER = DIALECT.parser(error_level=ErrorLevel.RAISE)


def parse_query(tokens: t.Sequence[Token], sql: str) -> exp.Expr:
    """One statement of stock Spark (a query, for our callers) from ``tokens``."""
    trees = _run(lambda toks: _PARSER.parse(toks, sql), tokens, sql)
    found = [tree for tree in trees if tree is not None]
    if len(found) != 1:
        token = tokens[-1] if tokens else None
        raise SyntaxProblem(
            "expected one query", token.start if token else 0, token.end if token else 0
        )
    return found[0]


def parse_expression(tokens: t.Sequence[Token], sql: str) -> exp.Expr:
    """One expression (a condition, arithmetic, a call, a CASE, ...) from ``tokens``."""
    trees = _run(lambda toks: _PARSER.parse_into(exp.Condition, toks, sql), tokens, sql)
    return t.cast(exp.Expr, trees[0])


_ONE_WORD_TYPES: dict[tuple[TokenType, str], exp.DataType | None] = {}
"""A type of one token (``DOUBLE``, ``STRING``) -> what it parses to, for the process: a
project declares thousands of columns of a few types, and each parse had the stock parser's
set-up cost."""


def parse_type(tokens: t.Sequence[Token], sql: str) -> exp.DataType | None:
    """A column type from ``tokens``, or None if they are not exactly one type."""
    if len(tokens) == 1 and not tokens[0].comments:
        key = (tokens[0].token_type, tokens[0].text)
        if key not in _ONE_WORD_TYPES:
            _ONE_WORD_TYPES[key] = _parse_type(tokens, sql)
        known = _ONE_WORD_TYPES[key]
        return known.copy() if known is not None else None
    return _parse_type(tokens, sql)


def _parse_type(tokens: t.Sequence[Token], sql: str) -> exp.DataType | None:
    try:
        tree = _run(lambda toks: _PARSER.parse_into(exp.DataType, toks, sql), tokens, sql)[0]
    except SyntaxProblem:
        return None
    if not isinstance(tree, exp.DataType) or tree.is_type(exp.DataType.Type.USERDEFINED):
        return None
    return tree


def parse_column(tokens: t.Sequence[Token], sql: str) -> exp.Column | None:
    if len(tokens) == 1 and tokens[0].token_type in _NAME_TOKENS and not tokens[0].comments:
        return _one_name_column(tokens[0])  # what the stock parser builds, without its set-up
    try:
        tree = _run(lambda toks: _PARSER.parse_into(exp.Column, toks, sql), tokens, sql)[0]
    except SyntaxProblem:
        return None
    return tree if isinstance(tree, exp.Column) else None


_NAME_TOKENS = {TokenType.VAR: False, TokenType.IDENTIFIER: True}
"""A bare name and a `quoted` one: the tokens a one-token column is (-> quoted)."""


def _one_name_column(token: Token) -> exp.Column:
    name = exp.Identifier(this=token.text, quoted=_NAME_TOKENS[token.token_type])
    name.meta.update(line=token.line, col=token.col, start=token.start, end=token.end)
    return exp.Column(this=name)


class _Fallback(logging.Filter):
    """Keeps sqlglot's warnings of one parse off the log (and off the user's terminal), and
    says whether there was one: "contains unsupported syntax. Falling back to parsing as a
    'Command'" is sqlglot giving up on a statement, which for us is a syntax error."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        self.seen = True
        return False


_SQLGLOT_LOG = logging.getLogger("sqlglot")


def _unsupported(tokens: t.Sequence[Token]) -> SyntaxProblem:
    return SyntaxProblem(
        "cannot read this as Spark SQL: sqlglot's Spark parser does not know this syntax",
        tokens[0].start,
        tokens[0].end,
        "a query is SELECT ... or WITH name AS (...) SELECT ...; sqlstream's own statements"
        " (CREATE STREAM, CREATE TABLE, INSERT INTO KAFKA TOPIC, SET) do not follow a WITH",
    )


def _run(parse: t.Callable[[list[Token]], list], tokens: t.Sequence[Token], sql: str) -> list:
    prepared = _prepare(tokens)
    fallback = _Fallback()
    _SQLGLOT_LOG.addFilter(fallback)
    try:
        trees = _parse_quietly(parse, prepared, tokens, sql)
    finally:
        _SQLGLOT_LOG.removeFilter(fallback)
    if fallback.seen or any(isinstance(tree, exp.Command) for tree in trees):
        raise _unsupported(tokens)
    return [_finish(tree, prepared) if tree is not None else None for tree in trees]


def _parse_quietly(
    parse: t.Callable[[list[Token]], list],
    prepared: list[Token],
    tokens: t.Sequence[Token],
    sql: str,
) -> list:
    try:
        return parse(prepared)
    except ParseError as e:
        raise from_parse_error(e, sql, tokens) from None
    except RecursionError:  # a safety net: check_depth refuses what gets here first
        raise too_deep(tokens[0]) from None
    except (IndexError, KeyError, TypeError, ValueError, AttributeError):
        # sqlglot's function builders index their arguments (`map(a)` raised IndexError): a
        # call sqlglot cannot build is a mistake in the SQL, not a crash of ours.
        raise SyntaxProblem(
            "cannot read this SQL: a function call here has arguments sqlglot cannot build",
            tokens[0].start,
            tokens[-1].end,
            "check the number and kind of the arguments of each function call",
        ) from None


def from_parse_error(e: ParseError, sql: str, tokens: t.Sequence[Token]) -> SyntaxProblem:
    """sqlglot's first error of a statement (later ones follow from it), at the token it names:
    sqlglot gives the line and the column of the token's *last* character and its text."""
    details = e.errors[0] if e.errors else {}
    description = str(details.get("description") or e).strip().splitlines()[0]
    highlight = str(details.get("highlight") or "")
    line = max(1, int(details.get("line") or 1))
    col = max(1, int(details.get("col") or 1))
    line_start = _line_start(sql, line)
    end = min(line_start + col - 1, max(len(sql.rstrip()) - 1, 0))
    start = max(line_start, end - len(highlight) + 1) if highlight else end
    return SyntaxProblem(description, start, end)


def _line_start(sql: str, line: int) -> int:
    offset = 0
    for _ in range(line - 1):
        found = sql.find("\n", offset)
        if found < 0:
            break
        offset = found + 1
    return offset


# --- after parsing --------------------------------------------------------------------------


def _finish(tree: exp.Expr, tokens: list[Token]) -> exp.Expr:
    """Name window calls and other anonymous functions the way the generator keeps them, give
    positions to the leaves sqlglot builds without one, rebalance long AND/OR chains."""
    starts = [token.start for token in tokens]
    chains: list[exp.Expr] = []
    cursor = 0
    seen: int | None = None
    stack = [tree]
    while stack:  # tree.dfs(), without a generator: the same nodes in the same order
        node = stack.pop()
        _push_children(stack, node)
        cls = type(node)
        role = _ROLES.get(cls)
        if role is None:
            role = _ROLES[cls] = _role(cls)
        if not role:
            continue
        if role & _CALL and isinstance(node.this, str):
            _name_call(t.cast(exp.Anonymous, node))
        if role & _CHAIN and type(node.parent) is not cls:
            chains.append(node)
        if not role & _POSITION:
            continue  # reading .meta creates it, and every copy of the tree copies it then
        meta = node.meta
        if "start" in meta:
            seen = meta["start"]  # the cursor follows it when a leaf needs one
        elif role & _LEAF:
            if seen is not None:
                cursor, seen = bisect.bisect_left(starts, seen), None
            cursor = _position_leaf(node, tokens, cursor)
    for chain in chains:
        balanced = rebalance(chain)
        tree = balanced if chain is tree else tree
    return tree


def _push_children(stack: list[exp.Expr], node: exp.Expr) -> None:
    """``node``'s children onto ``stack``, the first on top (``iter_expressions(reverse=True)``)."""
    for value in reversed(node.args.values()):
        if type(value) is list:
            stack += [v for v in reversed(value) if isinstance(v, exp.Expr)]
        elif isinstance(value, exp.Expr):
            stack.append(value)


_CALL, _CHAIN, _POSITION, _LEAF = 1, 2, 4, 8
_ROLES: dict[type, int] = {}
"""A node class -> what ``_finish`` does with its nodes (bits above; 0: nothing): one lookup a
node, not four ``isinstance`` against tuples of classes (most nodes are in none of them)."""


def _role(cls: type) -> int:
    return (
        (_CALL if issubclass(cls, exp.Anonymous) else 0)
        | (_CHAIN if issubclass(cls, exp.Connector) else 0)
        | (_POSITION if issubclass(cls, _POSITIONED) else 0)
        | (_LEAF if issubclass(cls, _LEAVES) else 0)
    )


def _name_call(node: exp.Anonymous) -> None:
    """``window`` / ``session_window`` in lower case (as Spark's docs write them), other calls
    in upper case (as sqlglot prints them), except a qualified ``db.fn``: case-sensitive."""
    parent = node.parent
    if isinstance(parent, exp.Dot) and parent.expression is node:
        return
    name = t.cast(str, node.this)
    node.set("this", name.lower() if name.lower() in WINDOW_FUNCTIONS else name.upper())


_LEAVES = (exp.Identifier, exp.Literal, exp.Var, exp.Star, exp.Boolean, exp.Null)
#: The nodes that carry a position: the leaves, the calls (stock sqlglot gives them their name
#: token's) and the parentheses our parser builds.
_POSITIONED = (*_LEAVES, exp.Func, exp.Paren, exp.HexString)


def _leaf_text(node: exp.Expr) -> str:
    if isinstance(node, exp.Star):
        return "*"
    if isinstance(node, exp.Boolean):
        return "TRUE" if node.this else "FALSE"
    if isinstance(node, exp.Null):
        return "NULL"
    return str(node.name).upper()


def _position_leaf(node: exp.Expr, tokens: list[Token], cursor: int, lookahead: int = 16) -> int:
    """The next token (from ``cursor``, a few at most) with the leaf's text, else the token at
    the cursor: linear over a tree, where searching from the start for each leaf was quadratic."""
    text = _leaf_text(node)
    stop = min(len(tokens), cursor + lookahead)
    for i in range(cursor, stop):
        if tokens[i].text.upper() == text:
            node.update_positions(tokens[i])
            return i
    if tokens:
        node.update_positions(tokens[min(cursor, len(tokens) - 1)])
    return cursor


def rebalance(chain: exp.Expr) -> exp.Expr:
    """Turn a long ``a AND b AND c ...`` (a left-deep tree as deep as it is long) into a
    balanced tree of the same operator, which prints as the same text. sqlglot's scope code
    walks up from every column to its select, so on a deep chain qualify was quadratic.

    An operand in parentheses stays in them (``flatten``'s default unwraps it): ``... AND (b OR
    c)`` rebuilt as ``... AND b OR c`` would keep every row where ``c`` holds."""
    operands = _operands(chain)
    if len(operands) <= LONG_CHAIN:
        return chain
    cls = type(chain)
    while len(operands) > 1:
        paired = [
            cls(this=operands[i], expression=operands[i + 1])
            for i in range(0, len(operands) - 1, 2)
        ]
        if len(operands) % 2:
            paired.append(operands[-1])
        operands = paired
    return chain.replace(operands[0])


def _operands(chain: exp.Expr) -> list[exp.Expr]:
    """The operands of a chain of one operator, left to right, each as written (in its
    parentheses): ``flatten(unnest=False)``, without a generator and a prune call a node."""
    cls = type(chain)
    operands: list[exp.Expr] = []
    stack = [chain]
    while stack:
        node = stack.pop()
        if type(node) is cls:
            stack += (node.expression, node.this)
        else:
            operands.append(node)
    return operands


def balanced_and(conditions: t.Sequence[exp.Expr]) -> exp.Expr:
    """``c1 AND c2 AND ...`` as a balanced tree (never as deep as it is long)."""
    operands = list(conditions)
    while len(operands) > 1:
        paired: list[exp.Expr] = [
            exp.And(this=operands[i], expression=operands[i + 1])
            for i in range(0, len(operands) - 1, 2)
        ]
        if len(operands) % 2:
            paired.append(operands[-1])
        operands = paired
    return operands[0]


# --- window calls ---------------------------------------------------------------------------


def is_window_call(node: exp.Expr) -> bool:
    """Spark's streaming ``window(time, duration[, slide[, start]])`` or
    ``session_window(time, gap)``, with a number of arguments Spark accepts."""
    if not isinstance(node, exp.Anonymous) or not isinstance(node.this, str):
        return False
    arity = WINDOW_FUNCTIONS.get(node.this.lower())
    return arity is not None and arity[0] <= len(node.expressions) <= arity[1]


def uses_window_function(query: exp.Expr) -> bool:
    return any(is_window_call(node) for node in find_all(query, exp.Anonymous))


#: A condition of more nodes than this, of :data:`PLAIN` nodes only, is a long plain filter.
LONG_FILTER = 256

PLAIN = (
    *(exp.Connector, exp.Not, exp.Paren, exp.Neg, exp.Is),
    *(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE),
    *(exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod),
    *(exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null),
)
"""What a long plain filter is made of: operators, columns and constants; no function, no
subquery, no lambda, nothing the generator or qualify rewrites."""


def plain_columns(condition: exp.Expr) -> list[exp.Column] | None:
    """The columns of a long plain filter (see :data:`LONG_FILTER`) in the order they are
    written, or None for any other condition.

    The order is the one qualify's scope walk meets them in (depth first, left to right; not
    ``walk()``'s breadth first), so that of two unknown columns the same one is reported."""
    columns: list[exp.Column] = []
    size = 0
    stack = [condition]
    while stack:
        node = stack.pop()
        kind = _PLAIN_KIND.get(type(node))
        if kind is None:
            kind = _PLAIN_KIND[type(node)] = _plain_kind(type(node))
        if not kind:
            return None
        size += 1
        if kind == _CONSTANT:
            continue  # a name or a constant: no node below it
        if kind == _COLUMN:
            columns.append(t.cast(exp.Column, node))
        _push_children(stack, node)
    return columns if size > LONG_FILTER else None


_COLUMN, _CONSTANT = 2, 3
_PLAIN_KIND: dict[type, int] = {}
"""A node class -> 0 (not :data:`PLAIN`), 1 (plain), ``_COLUMN`` or ``_CONSTANT`` (a name or a
constant, whose arguments hold no node): one lookup a node, where ``isinstance`` against the
tuple tried its classes one by one (a tenth of the 20,000-term chain's validate on pure)."""


def _plain_kind(cls: type) -> int:
    if not issubclass(cls, PLAIN):
        return 0
    if issubclass(cls, exp.Column):
        return _COLUMN
    return _CONSTANT if issubclass(cls, (exp.Identifier, exp.Literal, exp.Boolean, exp.Null)) else 1


_LONG_FILTER_MARK = "sqlstream_long_filter"
"""The key in a WHERE condition's ``meta`` of whether it is a long plain filter."""


def long_filter(query: exp.Expr) -> exp.Expr | None:
    """The condition of ``query``'s WHERE if it is a long plain filter (:func:`plain_columns`),
    else None. The answer is kept in the condition's ``meta``: a query's tree is not changed
    after parsing (rewrites are of copies, or undone), and a dozen stages ask."""
    where = query.args.get("where") if isinstance(query, exp.Select) else None
    if not isinstance(where, exp.Where):
        return None
    condition = where.this
    known = condition.meta_get(_LONG_FILTER_MARK)
    if known is None:
        known = long_filter_columns(condition) is not None
        condition.meta[_LONG_FILTER_MARK] = known
    return condition if known else None


_LAST_COLUMNS: list[tuple[exp.Expr, list[exp.Column] | None]] = []
"""The last condition :func:`long_filter_columns` read, and its answer: ``long_filter`` reads a
filter before ``analyse`` needs its columns, and each reading is a walk of 100,000 nodes."""


def long_filter_columns(condition: exp.Expr) -> list[exp.Column] | None:
    """:func:`plain_columns` of a condition, remembered for the last one asked (the trees are
    not changed after parsing; the condition is held, so its identity is not reused)."""
    if _LAST_COLUMNS and _LAST_COLUMNS[0][0] is condition:
        return _LAST_COLUMNS[0][1]
    columns = plain_columns(condition)
    _LAST_COLUMNS[:] = [(condition, columns)]
    return columns


def walk(query: exp.Expr) -> t.Iterator[exp.Expr]:
    """``query.walk()``, breadth first, but not into a long plain filter: a filter of 20,000
    terms is 100,000 nodes, and what the walks of a query look for (tables, CTEs, SELECTs,
    calls, windows) is never in one (:data:`PLAIN`). The filter's root is still yielded."""
    condition = long_filter(query)
    if condition is None:
        return query.walk()
    return query.walk(prune=lambda node: node is condition)


_E = t.TypeVar("_E", bound=exp.Expr)


@functools.cache
def _may_be_plain(kinds: tuple[type[exp.Expr], ...]) -> bool:
    """Whether a node of a plain filter can be of one of ``kinds`` (a kind of :data:`PLAIN`,
    one of theirs, or a class above one)."""
    return any(issubclass(k, p) or issubclass(p, k) for k in kinds for p in PLAIN)


def find_all(query: exp.Expr, *kinds: type[_E]) -> t.Iterator[_E]:
    """``query.find_all(*kinds)``, in its order, by :func:`walk` when no node of a plain filter
    can be of ``kinds``."""
    condition = None if _may_be_plain(kinds) else long_filter(query)
    if condition is None:
        return query.find_all(*kinds)
    pruned = query.walk(prune=lambda node: node is condition)
    return (t.cast(_E, node) for node in pruned if isinstance(node, kinds))


def to_spark_sql(node: exp.Expr, pretty: bool = False) -> str:
    """Text Spark accepts for an embedded query or expression. Anonymous function names were
    normalised at parse time (``window`` lower case, as Spark's docs write it; others upper
    case, as sqlglot prints them), so the generator is asked to keep them as they are.

    The generator copies what it writes (its transforms rewrite queries); a long plain WHERE
    (a filter of 20,000 terms: 100,000 nodes, most of the copy) is written apart, uncopied,
    as the generator writes plain operators without rewriting them, into the text of the rest
    of the query, written with a stand-in column where the filter goes."""
    where = node.args.get("where") if isinstance(node, exp.Select) and not pretty else None
    if not isinstance(where, exp.Where) or where.comments or long_filter(node) is None:
        copy = not written_as_is(node)
        return node.sql(DIALECT, pretty=pretty, normalize_functions=False, copy=copy)
    node.set("where", exp.Where(this=exp.column(_STAND_IN)))  # same key: arguments' order kept
    try:
        rest = node.sql(DIALECT, normalize_functions=False)
    finally:
        node.set("where", where)
    marker = f"WHERE {_STAND_IN}"
    if rest.count(marker) != 1:
        return node.sql(DIALECT, normalize_functions=False)
    condition = where.this.sql(DIALECT, copy=False, normalize_functions=False)
    return rest.replace(marker, f"WHERE {condition}")


_STAND_IN = "sqlstream_filter_stand_in_8a1f"


_AS_IS_KINDS = frozenset(
    {
        *(exp.Column, exp.Identifier, exp.Literal, exp.Anonymous, exp.Dot, exp.Paren, exp.Var),
        *(exp.Interval, exp.Boolean, exp.Null, exp.Neg, exp.Not, exp.And, exp.Or),
        *(exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod),
        *(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE),
        *(exp.Alias, exp.From, exp.Table, exp.TableAlias, exp.Where, exp.Group, exp.Having),
        *(exp.Order, exp.Ordered, exp.Limit, exp.Sum, exp.Count, exp.Avg, exp.Min, exp.Max),
    }
)
"""Kinds of node (exactly these classes) that Spark's generator writes from their arguments
without changing the tree: their ``*_sql`` methods only read, and the dialect's transforms
leave them alone. (Types, joins, UNNEST, VALUES, pivots, CONCAT_WS and CTEs, among others,
are rewritten in place as they are written.)"""

_AS_IS_ARGS: dict[type[exp.Expr], frozenset[str]] = {
    exp.Select: frozenset({"expressions", "from_", "where", "group", "having", "order", "limit"}),
    exp.Star: frozenset(),
}
"""Kinds written as they are only with these arguments: Spark's transforms rewrite a SELECT
with QUALIFY or DISTINCT ON, and a star with EXCEPT or REPLACE."""


def written_as_is(node: exp.Expr) -> bool:
    """Whether Spark's generator writes ``node`` without changing it, so that it can be given
    the tree itself instead of a copy (positions and all: the copy was a third of writing a
    windowed query). A root under a ``Dot`` is not: ``anonymous_sql`` reads the parent, which
    a copy has none of."""
    if isinstance(node.parent, exp.Dot):
        return False
    for n in node.walk():
        kind = type(n)
        if kind in _AS_IS_KINDS:
            continue
        allowed = _AS_IS_ARGS.get(kind)
        if allowed is None or any(v and k not in allowed for k, v in n.args.items()):
            return False
    return True


def expression_sql(node: exp.Expr) -> str:
    """``node.sql("spark")`` of a small expression (a GROUP BY key, a watermark's interval, a
    PARTITION), without the copy when the generator leaves the tree as it is."""
    return node.sql(DIALECT, copy=not written_as_is(node))


_TYPE_SQL: dict[object, str] = {}
"""A simple type's kind (``exp.DType.TEXT``) -> its Spark SQL text (``STRING``)."""


def type_sql(dtype: exp.DataType) -> str:
    """Spark SQL text of a column type. A type with no parameters, no nested types and no
    comments is written the same for the same kind, so it is generated once per process:
    thousands of columns of a few kinds made the generator (a copy and an ``is_type`` that
    parses type names) a tenth of a compile."""
    simple = not dtype.comments and all(k == "this" or not v for k, v in dtype.args.items())
    kind = dtype.args.get("this")
    if not simple or not isinstance(kind, exp.DType):
        return dtype.sql(DIALECT)
    text = _TYPE_SQL.get(kind)
    if text is None:
        text = _TYPE_SQL[kind] = dtype.sql(DIALECT)
    return text


def node_span(node: exp.Expr) -> tuple[int, int] | None:
    """(first, last) offsets covered by a sqlglot node, from the positions in its ``meta``."""
    start: int | None = None
    end = -1
    for n in node.walk():
        if not isinstance(n, _POSITIONED):
            continue
        meta = n.meta
        if "start" in meta and "end" in meta:
            start = meta["start"] if start is None else min(start, meta["start"])
            end = max(end, meta["end"])
    return None if start is None else (start, end)


def set_span(node: exp.Expr, first: Token, last: Token) -> exp.Expr:
    node.meta.update(line=first.line, col=first.col, start=first.start, end=last.end)
    return node
