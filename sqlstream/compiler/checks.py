"""What Spark would refuse or regret, found by ``validate`` with no JVM.

Spark refuses an unknown function only when the query starts, after a page of log, at a
position in its own text; it runs a query whose TOPIC can be NULL or whose PARTITION can be
negative until the first such record fails it; and a pattern that also subscribes the project's
own outputs quietly reads them back. Each check here turns one of these into a located error or
warning before anything starts. The append-only rule of the planner is ``appendonly``.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from sqlglot import exp

from sqlstream.compiler import appendonly, spark_names, syntax
from sqlstream.compiler.analyse import SPARK, Analysis, QueryDef, SourceDef
from sqlstream.compiler.plan import Plan
from sqlstream.compiler.syntax import nodes as n
from sqlstream.errors import Diagnostics, Location


def check(analysis: Analysis, plan: Plan, diags: Diagnostics) -> None:
    """Every check of this module, over every query and stream of the project."""
    for q in [*analysis.views, *analysis.sinks, *analysis.selects]:
        for expr in _expressions(q):
            _unknown_functions(q, expr, diags)
        for select in syntax.find_all(q.query, exp.Select):
            _misplaced_calls(q, select, diags)
            _aggregation(q, select, diags)
        if not q.broken:  # what it reads is unknown: a warning would follow from that error
            diags.warnings.extend(appendonly.unbounded_joins(q, analysis))
    for q in analysis.sinks:
        if not q.broken:
            _check_sink(q, analysis, diags)
    _reads_own_output(analysis, plan, diags)
    for source in plan.sources:
        if source.dlq_topic:
            _dead_letters_to_itself(analysis.sources[source.name], source.dlq_topic, diags)


def _check_sink(q: QueryDef, analysis: Analysis, diags: Diagnostics) -> None:
    """What only an INSERT INTO KAFKA has: a TOPIC, a PARTITION, a topic it may also read."""
    node = t.cast(n.InsertKafka, q.node)
    if node.topic is not None and not isinstance(node.topic, n.Text):
        _nullable_topic(q, node.topic, analysis, diags)
    if node.partition is not None:
        _negative_partition(q, node.partition, diags)
    _writes_what_it_reads(q, analysis, diags)


def _expressions(q: QueryDef) -> t.Iterator[exp.Expr]:
    """The query and, for a sink, its KEY, PARTITION, TOPIC, HEADERS and VALUE expressions."""
    yield q.query
    node = q.node
    if isinstance(node, n.InsertKafka):
        topic = node.topic if not isinstance(node.topic, n.Text) else None
        for e in (node.key, node.partition, topic, node.headers_expr, node.value):
            if e is not None:
                yield e
        for pair in node.headers or []:
            yield pair.value


def _spelled(q: QueryDef, call: exp.Expr) -> str:
    """A call's name as the user wrote it (sqlglot keeps it upper-cased)."""
    start, end = call.meta.get("start"), call.meta.get("end")
    if start is None or end is None:
        return str(call.name)
    return q.stmt.file.rendered[start : end + 1]


def _call_name(q: QueryDef, call: exp.Expr) -> str:
    """A call's name as the user wrote it, without its arguments."""
    return _spelled(q, call).split("(")[0].strip()


def _written(q: QueryDef, node: exp.Expr) -> str:
    """An expression as the user wrote it, for a message; Spark SQL text when it has no place."""
    span = syntax.node_span(node)
    if span is None:
        return node.sql(SPARK)
    return q.stmt.file.rendered[span[0] : span[1] + 1]


def _at_name(q: QueryDef, node: exp.Expr, length: int) -> Location:
    """Where a call's name stands: the caret under the name, not the whole call."""
    return dataclasses.replace(q.stmt.locate(node), length=max(1, length))


# --- functions --------------------------------------------------------------------


def _unknown_functions(q: QueryDef, expr: exp.Expr, diags: Diagnostics) -> None:
    """sqlglot parses a function it does not know as ``Anonymous``: the names Spark may not
    have. (The ones it knows are typed nodes, written back as Spark spells them.)"""
    for call in syntax.find_all(expr, exp.Anonymous):
        if spark_names.is_function(str(call.name)):
            continue
        name = _spelled(q, call)
        diags.error(
            f"unknown function '{name}'",
            _at_name(q, call, len(name)),
            spark_names.function_hint(name),
        )


MISPLACED: dict[str, tuple[tuple[type[exp.Expr], str, str], ...]] = {
    "where": (
        (exp.Window, "a window function", "filter its result in an outer query"),
        (exp.AggFunc, "an aggregate function", "a condition on an aggregate goes in HAVING"),
        (exp.Explode, "a generator function", "filter the exploded rows in an outer query"),
    ),
    "group": ((exp.AggFunc, "an aggregate function", "group by columns; aggregate in the SELECT"),),
}
"""Clause -> (kind of call, what it is, hint): the calls Spark's analyser refuses in a clause
(INVALID_WHERE_CONDITION, WINDOW_FUNCTION_NOT_ALLOWED_IN_CLAUSE,
UNSUPPORTED_GENERATOR.OUTSIDE_SELECT, GROUP_BY_AGGREGATE), which sqlglot parses and Spark
refuses only when the query starts. The first call of a clause is reported (a window's own
aggregate is the window's); a subquery in the clause is its own query, not looked into."""


def _misplaced_calls(q: QueryDef, select: exp.Select, diags: Diagnostics) -> None:
    for clause, rules in MISPLACED.items():
        part = select.args.get(clause)
        if part is None or (clause == "where" and syntax.long_filter(select) is not None):
            continue  # a long plain filter has no calls
        found = _first_call(part, rules)
        if found is not None:
            node, what, hint = found
            call = node.this if isinstance(node, exp.Window) else node
            name = _call_name(q, call)
            where = "GROUP BY" if clause == "group" else clause.upper()
            diags.error(
                f"{what} ({name}) is not allowed in {where}", _at_name(q, call, len(name)), hint
            )


def _first_call(
    part: exp.Expr, rules: t.Sequence[tuple[type[exp.Expr], str, str]]
) -> tuple[exp.Expr, str, str] | None:
    for node in part.walk(prune=lambda e: isinstance(e, (exp.Select, exp.Subquery))):
        for kind, what, hint in rules:
            if isinstance(node, kind):
                return node, what, hint
    return None


# --- grouping: what a SELECT of an aggregation may name --------------------------------------

_OPAQUE = (exp.Select, exp.Subquery, exp.Lambda, exp.Window)
"""What the grouping checks do not look into: another query, a lambda's own variables, a window
function (computed per row, over a window of its own)."""


_AGGREGATE = (exp.AggFunc, exp.Filter, exp.WithinGroup)
"""An aggregate call, with what it aggregates over: ``count(*) FILTER (WHERE price < 10)``,
``percentile_cont(0.5) WITHIN GROUP (ORDER BY price)``."""


_NOT_GROUPED = (*_OPAQUE, *_AGGREGATE)
_NOT_AGGREGATED = (*_OPAQUE, exp.AggFunc)


@dataclasses.dataclass
class _Grouping:
    names: set[str]
    """Grouped columns, window calls (``window`` of ``window.start``) and the SELECT's aliases
    (a later expression may name an earlier one: ``count(*) AS c, c + 1``)."""
    texts: dict[type[exp.Expr], set[str]]
    """The Spark SQL of each grouped expression that is not a column (a window call too: the
    SELECT may name it whole), by its class."""

    def covers(self, node: exp.Expr) -> bool:
        texts = self.texts.get(type(node))
        return bool(texts) and syntax.expression_sql(node) in t.cast(set, texts)


def _grouping(select: exp.Select) -> _Grouping | None:
    """What the GROUP BY of ``select`` groups by; None when it cannot be told without Spark's
    resolution (an ordinal, ALL, GROUPING SETS, ROLLUP, CUBE)."""
    group = select.args.get("group")
    if group is not None and any(
        group.args.get(k) for k in ("all", "grouping_sets", "cube", "rollup")
    ):
        return None
    found = _Grouping({s.alias.lower() for s in select.expressions if isinstance(s, exp.Alias)}, {})
    for key in group.expressions if group is not None else []:
        if isinstance(key, exp.Literal):
            return None
        if isinstance(key, exp.Column):
            found.names.add(key.name.lower())
        else:
            if syntax.is_window_call(key):  # window.start, and the call itself
                found.names.add(str(key.this).lower())
            found.texts.setdefault(type(key), set()).add(syntax.expression_sql(key))
    return found


def _aggregates(node: exp.Expr) -> t.Iterator[exp.AggFunc]:
    """The outermost aggregate calls of an expression (not those of a window or a subquery)."""
    walk = node.walk(prune=lambda e: isinstance(e, _NOT_AGGREGATED))
    return (e for e in walk if isinstance(e, exp.AggFunc))


def _ungrouped(node: exp.Expr, grouping: _Grouping) -> exp.Column | None:
    """The first column of a SELECT expression that is neither grouped nor aggregated."""
    for e in node.walk(prune=lambda e: isinstance(e, _NOT_GROUPED) or grouping.covers(e)):
        if isinstance(e, exp.Column) and not e.is_star:
            parts = {p.name.lower() for p in e.parts}
            if not parts & grouping.names:
                return e
    return None


def _aggregation(q: QueryDef, select: exp.Select, diags: Diagnostics) -> None:
    """A column of an aggregation's SELECT that is not grouped (MISSING_AGGREGATION, or
    MISSING_GROUP_BY without a GROUP BY), and an aggregate inside an aggregate
    (NESTED_AGGREGATE_FUNCTION): Spark's analyser refuses them when the query starts."""
    aggregates = [a for e in select.expressions for a in _aggregates(e)]
    nested = next(((i, a) for a in aggregates for i in _inner_aggregates(a)), None)
    if nested is not None:
        inner, outer = nested
        name = _call_name(q, inner)
        diags.error(
            f"an aggregate inside an aggregate ({name} in {_call_name(q, outer)})",
            _at_name(q, inner, len(name)),
            "aggregate in a derived stream (CREATE STREAM ... AS SELECT), then again",
        )
    elif aggregates or select.args.get("group") is not None:
        _ungrouped_column(q, select, diags)


def _inner_aggregates(call: exp.AggFunc) -> t.Iterator[exp.AggFunc]:
    return (a for child in call.iter_expressions() for a in _aggregates(child))


def _ungrouped_column(q: QueryDef, select: exp.Select, diags: Diagnostics) -> None:
    grouping = _grouping(select)
    if grouping is None:
        return
    group = select.args.get("group")
    keys = (
        {k.name.lower() for k in group.expressions if isinstance(k, exp.Column)} if group else set()
    )
    for e in select.expressions:
        if isinstance(e, exp.Alias) and e.alias.lower() in keys:
            continue  # GROUP BY u of `user_id AS u`: the expression is grouped
        column = _ungrouped(e, grouping)
        if column is not None:
            name = _written(q, column)
            diags.error(
                f"'{name}' is not in GROUP BY and not inside an aggregate function",
                q.stmt.locate(column),
                f"add it to GROUP BY, or aggregate it: any_value({name}), max({name}), ..."
                if group
                else f"add GROUP BY {name}, or aggregate it: any_value({name}), ...",
            )
            return


# --- a TOPIC that can be NULL ---------------------------------------------------------------


Scope = t.Callable[[exp.Column], "tuple[exp.Expr, Scope] | None"]
"""What a column names where it stands: the expression it is computed by and the scope of that
expression, or None for a column read from Kafka."""


def _null_cause(node: exp.Expr, scope: Scope) -> exp.Expr | None:
    """The part of ``node`` that can make it NULL (a CASE without ELSE, a column, NULL), or
    None when it never is. Every column read from Kafka can be NULL (a missing JSON field); a
    computed column is followed to the expression it is computed by, through derived streams;
    anything else is NULL when one of its arguments is (Spark's functions return NULL for a
    NULL argument)."""
    rule = _NULL_RULES.get(type(node))
    if rule is not None:
        return rule(node, scope)
    for child in node.iter_expressions():
        cause = _null_cause(child, scope)
        if cause is not None:
            return cause
    return None


def _column_null(node: exp.Expr, scope: Scope) -> exp.Expr | None:
    found = scope(t.cast(exp.Column, node))
    if found is None:
        return node
    return node if _null_cause(*found) is not None else None


def _case_null(node: exp.Expr, scope: Scope) -> exp.Expr | None:
    default = node.args.get("default")
    if default is None:
        return node
    branches = [i.args.get("true") for i in node.args.get("ifs") or []]
    return _first_cause([*branches, default], scope)


def _if_null(node: exp.Expr, scope: Scope) -> exp.Expr | None:
    if node.args.get("false") is None:
        return node
    return _first_cause([node.args.get("true"), node.args.get("false")], scope)


def _coalesce_null(node: exp.Expr, scope: Scope) -> exp.Expr | None:
    """NULL only when every argument can be."""
    args = [node.this, *node.expressions]
    causes = [_null_cause(a, scope) for a in args if a is not None]
    return causes[-1] if causes and all(c is not None for c in causes) else None


def _first_cause(nodes: t.Sequence[exp.Expr | None], scope: Scope) -> exp.Expr | None:
    causes = (_null_cause(e, scope) for e in nodes if e is not None)
    return next((c for c in causes if c is not None), None)


_NULL_RULES: dict[type[exp.Expr], t.Callable[[exp.Expr, Scope], exp.Expr | None]] = {
    # node kind -> what can make such a node NULL
    exp.Literal: lambda node, _: None,
    exp.Null: lambda node, _: node,
    exp.Column: _column_null,
    exp.Case: _case_null,
    exp.If: _if_null,
    exp.Coalesce: _coalesce_null,
}


def _output_scope(q: QueryDef, analysis: Analysis) -> Scope:
    """Columns of ``q``'s output: each computed by an expression of its SELECT."""
    query = q.query
    outputs = {
        s.alias_or_name.lower(): (s.this if isinstance(s, exp.Alias) else s)
        for s in (query.selects if isinstance(query, exp.Select) else [])
        if s.alias_or_name
    }

    def lookup(col: exp.Column) -> tuple[exp.Expr, Scope] | None:
        expr = outputs.get(col.name.lower())
        return (expr, _read_scope(q, analysis)) if expr is not None else None

    return lookup


def _read_scope(q: QueryDef, analysis: Analysis) -> Scope:
    """Columns of the streams ``q`` reads: a derived stream's are followed into it."""

    def lookup(col: exp.Column) -> tuple[exp.Expr, Scope] | None:
        for name in q.reads:
            view = analysis.view(name)
            if view is None or view.broken:
                continue
            if any(f.name.lower() == col.name.lower() for f in view.fields):
                return _output_scope(view, analysis)(col)
        return None

    return lookup


def _nullable_topic(q: QueryDef, topic: exp.Expr, analysis: Analysis, diags: Diagnostics) -> None:
    cause = _null_cause(topic, _output_scope(q, analysis))
    if cause is None:
        return
    if isinstance(cause, (exp.Case, exp.If)):
        what = (
            "a CASE without ELSE" if isinstance(cause, exp.Case) else "an IF without a false value"
        )
        where = _case_keyword(q, cause)
        hint = "add an ELSE with a topic for the other records, e.g. ELSE 'orders-other'"
    else:
        what = f"'{_written(q, cause)}' can be NULL"
        where = q.stmt.locate(cause)
        hint = (
            "give a fallback topic, e.g. TOPIC coalesce(<expr>, 'orders-other'), or add an ELSE "
            "to the CASE"
        )
    diags.warn(
        f"the TOPIC can be NULL ({what}): Spark fails the query at the first record whose "
        "topic is NULL",
        where,
        hint,
    )


def _case_keyword(q: QueryDef, node: exp.Expr) -> Location:
    """The ``CASE`` (or ``IF``) keyword of ``node``, which has no position of its own."""
    return q.stmt.locate_keyword("CASE" if isinstance(node, exp.Case) else "IF", node)


# --- PARTITION x % n --------------------------------------------------------------------------


def _negative_partition(q: QueryDef, partition: exp.Expr, diags: Diagnostics) -> None:
    """``x % n`` is negative for a negative ``x`` (Spark's integers are all signed), and a
    negative partition fails the query at run time; ``pmod(x, n)`` is never negative."""
    for mod in partition.find_all(exp.Mod):
        left = mod.this
        if isinstance(left, (exp.Abs, exp.Literal)):  # sqlglot reads -5 as Neg(5)
            continue
        x, k = _written(q, left), _written(q, mod.expression)
        diags.warn(
            f"PARTITION {_written(q, mod)} is negative when {x} is, and Spark fails the query at "
            "the first record with a negative partition",
            q.stmt.locate(mod),
            f"use pmod({x}, {k}), which is never negative",
        )


# --- a subscription that reads the project's own outputs ------------------------------------


def _written_topics(plan: Plan) -> dict[str, str]:
    """Each topic the project writes literally -> what writes it."""
    written: dict[str, str] = {}
    for sink in plan.sinks:
        if sink.topic:
            written.setdefault(sink.topic, f"query '{sink.name}' at {sink.file}:{sink.line}")
    for source in plan.sources:
        if source.dlq_topic:
            written.setdefault(source.dlq_topic, f"the dead-letter topic of stream '{source.name}'")
    return written


_SUBSCRIPTIONS: dict[str, t.Callable[[str, str], bool]] = {
    # option -> whether its value subscribes a topic; Kafka matches a pattern against the whole
    # topic name (Java's Pattern.matcher(topic).matches()).
    "topic_pattern": lambda value, topic: _full_match(value, topic),
    "topics": lambda value, topic: topic in {x.strip() for x in value.split(",")},
}
_READS = {**_SUBSCRIPTIONS, "topic": lambda value, topic: value == topic}
"""Every option that names what a stream reads: whether its value reads ``topic``."""


def _full_match(pattern: str, topic: str) -> bool:
    try:
        return re.fullmatch(pattern, topic) is not None
    except re.error:
        return False  # reported by the option check


def _reads_own_output(analysis: Analysis, plan: Plan, diags: Diagnostics) -> None:
    written = _written_topics(plan)
    for source in analysis.sources.values():
        for option in source.node.options:
            matches = _SUBSCRIPTIONS.get(option.name.lower())
            if matches is None:
                continue
            for topic, writer in written.items():
                if not matches(option.value.text, topic):
                    continue
                diags.error(
                    f"stream '{source.name}' reads topic '{topic}' ({option.name} = "
                    f"'{option.value.text}'), which this project writes: {writer}",
                    source.stmt.locate(option.value),
                    "narrow the pattern or the list to the input topics (e.g. 'orders-[0-9]+'); "
                    "to read a query's output on purpose, declare a stream of its own with "
                    f"topic = '{topic}'",
                )


def _writes_what_it_reads(q: QueryDef, analysis: Analysis, diags: Diagnostics) -> None:
    """A sink whose topic is one its own query reads: each record it writes comes back to it."""
    topic = t.cast(n.InsertKafka, q.node).topic
    if not isinstance(topic, n.Text):
        return
    sources, _ = analysis.upstream(q.reads)
    for name in sources:
        for option in analysis.sources[name].node.options:
            reads = _READS.get(option.name.lower())
            if reads is not None and reads(option.value.text, topic.value):
                diags.warn(
                    f"this query writes topic '{topic.value}', which it reads (stream '{name}'): "
                    "each record it writes is read again, and written again",
                    q.stmt.locate(topic),
                    "write to another topic; if the loop is meant (a retry topic), let the WHERE "
                    "of the query stop every record after some rounds",
                )
                return


def _dead_letters_to_itself(source: SourceDef, dlq_topic: str, diags: Diagnostics) -> None:
    """A dead-letter topic that is the stream's topic: each malformed record would come back,
    fail again and be written again, for ever. (A pattern or list that takes it in is
    ``_reads_own_output``'s.)"""
    options = {o.name.lower(): o for o in source.node.options}
    topic = options.get("topic")
    if topic is not None and topic.value.text == dlq_topic:
        at = options.get("dlq_topic", topic)
        diags.error(
            f"stream '{source.name}' sends its malformed records to topic '{dlq_topic}', "
            "which it reads: each one would come back, fail again and be sent again",
            source.stmt.locate(at.value),
            f"give it a topic of its own: dlq_topic = '{dlq_topic}-dlq'",
        )
