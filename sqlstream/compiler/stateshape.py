"""The state shape of a streaming query: what the state in its checkpoint is keyed by and made of.

Spark keeps an aggregation's, a stream-stream join's and a deduplication's state in the query's
checkpoint, laid out by the query as it was when the checkpoint was written. When the query
changes (an aggregate, a grouping key, the window), Spark notices late, mid-batch, and fails with
``STATE_STORE_VALUE_SCHEMA_NOT_COMPATIBLE`` and the advice to turn its schema check off, which
lets the new query read the old bytes as if they were the new layout: corrupt state. So the
shape is computed here, from the plan's Spark SQL text alone (no JVM), written beside the
checkpoint on the first run, and compared before every later run (``sqlstream.spark.state``).

The shape is what decides the state's layout and meaning: per stateful operator, its grouping
keys, aggregate expressions, event-time window, join sides and condition, or deduplication keys,
each as normalised SQL text (lower-case names, no aliases), so that renaming an output column or
reformatting the query is not a change, and ``sum(amount)`` becoming ``avg(amount)`` is.
Parsing goes through sqlglot's stock Spark dialect, by its public API only.
"""

from __future__ import annotations

import difflib
import itertools
import re
import typing as t
from dataclasses import asdict, dataclass, field

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Token, TokenType

from sqlstream.compiler.plan import Plan, SinkPlan

SHAPE_VERSION = 1

OperatorKind = t.Literal["aggregate", "join", "distinct"]

# Spark aggregate functions that sqlglot's Spark dialect parses as plain (anonymous) calls.
_MORE_AGGREGATES = frozenset(
    {
        "count_min_sketch",
        "every",
        "histogram_numeric",
        "hll_sketch_agg",
        "hll_union_agg",
        "mean",
        "some",
        "std",
        "try_avg",
        "try_sum",
        "theta_sketch_agg",
        "theta_union_agg",
        "kll_sketch_agg_bigint",
        "kll_sketch_agg_double",
        "kll_sketch_agg_float",
    }
)
_WINDOW_FUNCTIONS = frozenset({"window", "session_window"})
_INTERVAL = re.compile(r"^\s*(?:interval\s+)?'?\s*(\d+)\s*'?\s*([a-z]+?)s?\s*'?\s*$", re.IGNORECASE)
_UNITS: dict[str, int] = {  # microseconds per unit, largest first: how a duration is printed
    "week": 604_800_000_000,
    "day": 86_400_000_000,
    "hour": 3_600_000_000,
    "minute": 60_000_000,
    "second": 1_000_000,
    "millisecond": 1_000,
    "microsecond": 1,
}
_UNIT_ALIASES = {
    "min": "minute",
    "sec": "second",
    "ms": "millisecond",
    "us": "microsecond",
    "hr": "hour",
    "h": "hour",
    "m": "minute",
    "s": "second",
    "d": "day",
}


@dataclass(frozen=True)
class Window:
    """An event-time window of a GROUP BY: ``window(col, duration[, slide[, start]])`` or
    ``session_window(col, gap)``."""

    kind: t.Literal["tumbling", "sliding", "session"]
    column: str
    duration: str
    slide: str | None = None
    start: str | None = None

    def describe(self) -> str:
        if self.kind == "session":
            return f"session window with a gap of {self.duration} on {self.column}"
        text = f"{self.kind} window of {self.duration}"
        if self.slide:
            text += f" every {self.slide}"
        if self.start:
            text += f" starting at {self.start}"
        return f"{text} on {self.column}"


@dataclass(frozen=True)
class Operator:
    """One stateful operator of a query, in the stream (``where``) it is written in."""

    kind: OperatorKind
    where: str
    """``query spend_1`` for the query's own SELECT, ``stream big_orders`` for a derived stream."""
    keys: tuple[str, ...] = ()
    """Grouping keys (the window apart), or the deduplicated columns."""
    aggregates: tuple[str, ...] = ()
    window: Window | None = None
    join_type: str | None = None
    sides: tuple[str, ...] = ()
    condition: str | None = None

    def describe(self) -> str:
        return _DESCRIBE[self.kind](self)


@dataclass(frozen=True)
class StateShape:
    """Every stateful operator of one query, in the order Spark numbers them (source order)."""

    query: str
    operators: tuple[Operator, ...] = field(default_factory=tuple)
    version: int = SHAPE_VERSION

    @property
    def stateful(self) -> bool:
        return bool(self.operators)

    def to_dict(self) -> dict[str, t.Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> StateShape:
        ops = []
        for op in data.get("operators") or ():
            window = Window(**op["window"]) if op.get("window") else None
            ops.append(
                Operator(
                    **{
                        **op,
                        "window": window,
                        "keys": tuple(op.get("keys") or ()),
                        "aggregates": tuple(op.get("aggregates") or ()),
                        "sides": tuple(op.get("sides") or ()),
                    }
                )
            )
        return cls(str(data.get("query", "")), tuple(ops), int(data.get("version", SHAPE_VERSION)))


# --------------------------------------------------------------------------------------------
# Computing a shape
# --------------------------------------------------------------------------------------------


def shape_of(sink: SinkPlan, plan: Plan) -> StateShape:
    """The shape of ``sink``'s query: the derived streams it reads (in order), then its SELECT."""
    ops: list[Operator] = []
    for name in sink.views:
        ops.extend(operators(plan.view(name).sql, f"stream {name}"))
    ops.extend(operators(sink.sql, f"query {sink.name}"))
    return StateShape(sink.name, tuple(ops))


def parse_spark(sql: str) -> exp.Expr:
    """``sql`` parsed by sqlglot's stock Spark dialect, with ``window(...)`` and ``window.start``
    read as a function and a column: the dialect tokenizes ``window`` as a keyword (for
    ``OVER w`` / ``WINDOW w AS``), so ``GROUP BY window(...)`` would not parse otherwise."""
    dialect = Dialect.get_or_raise("spark")
    tokens = dialect.tokenize(sql)
    fixed = [
        Token(TokenType.VAR, tok.text, tok.line, tok.col, tok.start, tok.end, tok.comments)
        if tok.token_type == TokenType.WINDOW and nxt in (TokenType.L_PAREN, TokenType.DOT)
        else tok
        for tok, nxt in zip(tokens, [x.token_type for x in tokens[1:]] + [None])
    ]
    trees = dialect.parser().parse(fixed, sql)
    tree = trees[0] if trees else None
    if tree is None:
        raise ValueError(f"no query in {sql!r}")
    return tree


def operators(sql: str, where: str) -> list[Operator]:
    """The stateful operators of one SELECT (and of the SELECTs inside it), in source order."""
    tree = parse_spark(sql)
    found: list[Operator] = []
    for select in tree.find_all(exp.Select, bfs=False):
        found.extend(_joins(select, where))
        found.extend(_aggregate_or_distinct(select, where))
    return found


def norm(node: exp.Expr) -> str:
    """Normalised SQL: lower-case names and functions, aliases dropped, Spark's syntax."""
    if isinstance(node, exp.Alias):
        node = node.this
    return node.sql(dialect="spark", normalize=True, normalize_functions="lower")


def _own(select: exp.Select, nodes: t.Iterable[exp.Expr]) -> t.Iterator[exp.Expr]:
    """The nodes of ``nodes`` that belong to ``select`` itself, not to a SELECT nested in it."""
    for node in nodes:
        if node.find_ancestor(exp.Select) is select:
            yield node


def _is_aggregate(node: exp.Expr) -> bool:
    if isinstance(node, exp.AggFunc):
        return not isinstance(node.parent, exp.Window)  # sum(x) OVER (...): not Spark state
    return isinstance(node, exp.Anonymous) and str(node.this).lower() in _MORE_AGGREGATES


def _aggregate_or_distinct(select: exp.Select, where: str) -> list[Operator]:
    group = select.args.get("group")
    scopes = [*select.expressions, select.args.get("having")]
    aggs = [
        # count(*) FILTER (WHERE ...) keeps its filter: it is part of what the state counts.
        norm(node.parent if isinstance(node.parent, exp.Filter) else node)
        for scope in scopes
        if scope is not None
        for node in _own(select, scope.find_all(exp.Expr, bfs=False))
        if _is_aggregate(node) and not _inside_aggregate(node)
    ]
    keys = list(group.expressions) if group is not None else []
    window = next((w for w in map(_window, keys) if w is not None), None)
    plain = tuple(norm(k) for k in keys if _window(k) is None)
    if keys or aggs:
        return [Operator("aggregate", where, plain, tuple(aggs), window)]
    if select.args.get("distinct"):
        return [Operator("distinct", where, tuple(norm(e) for e in select.expressions))]
    return []


def _inside_aggregate(node: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        if _is_aggregate(parent):
            return True
        parent = parent.parent
    return False


def _window(node: exp.Expr) -> Window | None:
    if not isinstance(node, exp.Anonymous) or str(node.this).lower() not in _WINDOW_FUNCTIONS:
        return None
    args = [norm(a) for a in node.expressions]
    durations = [duration(a) for a in args[1:]]
    column = args[0] if args else ""
    if str(node.this).lower() == "session_window":
        return Window("session", column, durations[0] if durations else "")
    size = durations[0] if durations else ""
    slide = durations[1] if len(durations) > 1 and durations[1] != size else None
    start = durations[2] if len(durations) > 2 and durations[2] != "0 seconds" else None
    return Window("sliding" if slide else "tumbling", column, size, slide, start)


def duration(text: str) -> str:
    """``'300 seconds'`` and ``'5 minutes'`` alike read ``5 minutes``: one duration, one text."""
    m = _INTERVAL.match(text)
    unit = _UNIT_ALIASES.get(m.group(2).lower(), m.group(2).lower()) if m else ""
    if m is None or unit not in _UNITS:
        return text.strip("'")
    micros = int(m.group(1)) * _UNITS[unit]
    if micros == 0:
        return "0 seconds"
    name, size = next((n, s) for n, s in _UNITS.items() if micros % s == 0)
    count = micros // size
    return f"{count} {name}{'s' if count != 1 else ''}"


def _joins(select: exp.Select, where: str) -> list[Operator]:
    joins = select.args.get("joins") or []
    if not joins:
        return []
    first = select.args.get("from_") or select.args.get("from")  # the key's name varies by version
    left = _side(first.this) if first is not None else "?"
    found = []
    for join in joins:
        right = _side(join.this)
        on = join.args.get("on")
        using = join.args.get("using")
        if on is not None:
            condition = norm(on)
        elif using:
            condition = "USING (" + ", ".join(norm(u) for u in using) + ")"
        else:
            condition = None
        kind = " ".join(x for x in (join.side, join.kind) if x).lower() or "inner"
        found.append(
            Operator("join", where, join_type=kind, sides=(left, right), condition=condition)
        )
        left = f"{left} and {right}"
    return found


def _side(node: exp.Expr) -> str:
    if isinstance(node, exp.Table):
        return node.name.lower()
    return node.alias_or_name.lower() or "a subquery"


# --------------------------------------------------------------------------------------------
# What changed
# --------------------------------------------------------------------------------------------


def _describe_aggregate(op: Operator) -> str:
    by = [*([op.window.describe()] if op.window else []), *op.keys]
    what = ", ".join(op.aggregates) or "no aggregate"
    return f"aggregation {what}" + (f" by {', '.join(by)}" if by else "") + f" in {op.where}"


def _describe_join(op: Operator) -> str:
    on = (
        f" {'' if op.condition.startswith('USING') else 'on '}{op.condition}"
        if op.condition
        else ""
    )
    return f"{op.join_type} join of {' and '.join(op.sides)}{on} in {op.where}"


def _describe_distinct(op: Operator) -> str:
    return f"deduplication by {', '.join(op.keys)} in {op.where}"


_DESCRIBE: dict[str, t.Callable[[Operator], str]] = {
    "aggregate": _describe_aggregate,
    "join": _describe_join,
    "distinct": _describe_distinct,
}

# Per kind of operator: (attribute, the word for one item) compared item by item.
_COMPARED: dict[str, tuple[tuple[str, str], ...]] = {
    "aggregate": (("keys", "grouping key"), ("aggregates", "aggregate")),
    "join": (("sides", "join side"),),
    "distinct": (("keys", "deduplication key"),),
}


def changes(old: StateShape, new: StateShape) -> list[str]:
    """What differs between two shapes, one phrase each (empty: the state can be resumed)."""
    found: list[str] = []
    for was, now in itertools.zip_longest(old.operators, new.operators):
        if was is None:
            found.append(f"{now.describe()} was added")
        elif now is None:
            found.append(f"{was.describe()} was removed")
        elif (was.kind, was.where) != (now.kind, now.where):
            found.append(f"{was.describe()} became {now.describe()}")
        else:
            found.extend(_operator_changes(was, now))
    return found


def _operator_changes(was: Operator, now: Operator) -> list[str]:
    where = f" in {now.where}"
    found: list[str] = []
    if was.window != now.window:
        found.append(f"{_window_text(was.window)} became {_window_text(now.window)}{where}")
    if was.join_type != now.join_type:
        found.append(f"{was.join_type} join became {now.join_type} join{where}")
    for attr, word in _COMPARED[now.kind]:
        found.extend(
            f"{c}{where}" for c in sequence_changes(word, getattr(was, attr), getattr(now, attr))
        )
    if was.condition != now.condition:
        found.append(
            f"join condition {was.condition or '(none)'} became {now.condition or '(none)'}{where}"
        )
    return found


def _window_text(window: Window | None) -> str:
    return window.describe() if window else "no window"


def sequence_changes(word: str, old: t.Sequence[str], new: t.Sequence[str]) -> list[str]:
    """``aggregate sum(amount) became avg(amount)``, ``... was added``, ``... was removed``."""
    found: list[str] = []
    matcher = difflib.SequenceMatcher(a=list(old), b=list(new), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        was, now = ", ".join(old[i1:i2]), ", ".join(new[j1:j2])
        plural = "s" if max(i2 - i1, j2 - j1) > 1 else ""
        if tag == "replace":
            found.append(f"{word}{plural} {was} became {now}")
        elif tag == "delete":
            found.append(f"{word}{plural} {was} was removed")
        elif tag == "insert":
            found.append(f"{word}{plural} {now} was added")
    return found
