"""The planner's rule: every query written to Kafka must be append-only (DESIGN 2.4).

A Kafka topic is a log: a record, once written, is final. A query whose result rows can change
later (an aggregation that is never closed by a watermark, a sort, a limit, an outer join that
cannot know when a match will never come) cannot be written to it. Spark would refuse most of
these at start; we refuse them before anything starts, at the clause that causes it, with a fix.
"""

from __future__ import annotations

import typing as t

from sqlglot import exp

from sqlstream.compiler import changelog, syntax
from sqlstream.compiler.analyse import SPARK, Analysis, QueryDef, is_window_call
from sqlstream.errors import CompileWarning, UserError


def check(q: QueryDef, analysis: Analysis, checked_views: set[str]) -> list[UserError]:
    """Errors for the sink ``q`` and every derived stream it reads (each view reported once).

    A query already in error (an unknown stream, an unknown column) is not judged: without the
    streams it reads, its watermarks are unknown and every verdict would follow from that error.
    """
    if q.broken:
        return []
    errors = list(_check_query(q, analysis))
    _, views = analysis.upstream(q.reads)
    for name in views:
        if name in checked_views:
            continue
        checked_views.add(name)
        view = analysis.view(name)
        if view is not None and not view.broken:
            errors.extend(_check_query(view, analysis, via=q))
    return errors


def _watermarks(q: QueryDef, analysis: Analysis) -> set[str]:
    """Event-time columns (lower case) with a watermark that ``q`` reads."""
    return {w for name in q.reads for w in analysis.watermarks_of(name)}


def _error(
    q: QueryDef, node: exp.Expr | None, what: str, hint: str, via: QueryDef | None
) -> UserError:
    where = ""
    if via is not None and q.name:
        where = f" (stream '{q.name}' is written to Kafka by the INSERT at {via.stmt.locate()})"
    return UserError(
        f"not append-only: {what}{where}",
        q.stmt.locate(node) if node is not None else q.stmt.locate(),
        hint,
    )


_KINDS = (exp.Select, exp.Order, exp.SetOperation, exp.Limit, exp.Window, exp.TableSample)
"""The nodes the append-only rules look at."""


def _find_kinds(query: exp.Expr) -> dict[type[exp.Expr], list[exp.Expr]]:
    """The nodes of each of :data:`_KINDS` in ``query``, in ``find_all``'s order, in one walk
    of the tree instead of one per kind (a WHERE of 20,000 terms is 100,000 nodes)."""
    found: dict[type[exp.Expr], list[exp.Expr]] = {kind: [] for kind in _KINDS}
    for node in syntax.walk(query):  # none of the kinds is in a long plain WHERE
        if not isinstance(node, _KINDS):
            continue
        for kind in _KINDS:
            if isinstance(node, kind):
                found[kind].append(node)
    return found


def _check_query(
    q: QueryDef, analysis: Analysis, via: QueryDef | None = None
) -> t.Iterator[UserError]:
    watermarks = _watermarks(q, analysis)
    found = _find_kinds(q.query)
    refused = {id(s) for s in found[exp.Select] if _is_stream_subquery(s, q, analysis)}
    samples = [
        s for s in found[exp.TableSample] if _reads_stream(s.parent or s, q, analysis, set())
    ]
    for node in [*(s for s in found[exp.Select] if id(s) in refused), *samples]:
        yield _unsupported(q, node)
    for select in found[exp.Select]:
        if id(select) not in refused and not any(id(a) in refused for a in _ancestors(select)):
            yield from _check_select(q, t.cast(exp.Select, select), watermarks, analysis, via)
    for node in found[exp.Order]:
        if isinstance(node.parent, exp.Window):
            continue
        yield _error(
            q,
            node,
            "ORDER BY sorts a stream, which never ends",
            "remove ORDER BY: records reach the topic in event order per partition;"
            " sort when you read it",
            via,
        )
    for setop in found[exp.SetOperation]:
        if isinstance(setop, exp.Union) and not setop.args.get("distinct"):
            continue  # UNION ALL appends
        op = type(setop).__name__.upper()
        yield _error(
            q,
            setop.expression,
            f"{op} removes duplicates, so its result changes as records arrive",
            SET_OPERATION_HINTS.get(op, SET_OPERATION_HINTS["UNION"]),
            via,
        )
    for limit in found[exp.Limit]:
        yield _error(
            q,
            limit,
            "LIMIT on a stream would have to retract rows past the limit",
            "remove LIMIT, or filter with WHERE",
            via,
        )
    for window in found[exp.Window]:
        yield _error(
            q,
            window,
            "window functions (OVER ...) are not supported on streams",
            "use GROUP BY window(event_time, '5 minutes') for time-windowed aggregates",
            via,
        )


UNSUPPORTED: dict[type[exp.Expr], tuple[str, str, str]] = {
    exp.Select: (
        "SELECT",
        "a subquery over a stream, in an expression (IN, EXISTS, a scalar subquery): Spark "
        "runs it once, as a batch, and a stream never ends",
        "join the stream instead, bounded in time (FROM a JOIN b ON a.id = b.id AND b.ts "
        "BETWEEN a.ts AND a.ts + INTERVAL '1' HOUR), or read a reference table in the subquery",
    ),
    exp.TableSample: (
        "TABLESAMPLE",
        "TABLESAMPLE of a stream (Spark: sampling is not supported on streaming DataFrames)",
        "keep a share of the records with WHERE rand() < 0.1",
    ),
}
"""What Spark's analyser refuses on a stream itself, whether the query appends or not: the
keyword the caret stands under, what it is, the fix."""


def _unsupported(q: QueryDef, node: exp.Expr) -> UserError:
    keyword, what, hint = UNSUPPORTED[type(node)]
    return UserError(
        f"not supported on streams: {what}", q.stmt.locate_keyword(keyword, node), hint
    )


_RELATION_PLACES = (exp.From, exp.Join, exp.CTE, exp.Lateral)
"""Where a query is a relation to read, not an expression's value."""


def _is_stream_subquery(select: exp.Expr, q: QueryDef, analysis: Analysis) -> bool:
    """Whether ``select`` is a subquery expression (``IN (SELECT ...)``, ``EXISTS``, a scalar
    subquery) that reads a stream: a relation (FROM, JOIN, a CTE, a UNION's side) is not."""
    place = select.parent
    while isinstance(place, (exp.Subquery, exp.SetOperation)):
        place = place.parent
    if place is None or isinstance(place, _RELATION_PLACES):
        return False
    return _reads_stream(select, q, analysis, set())


def _ancestors(node: exp.Expr) -> t.Iterator[exp.Expr]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


SET_OPERATION_HINTS = {
    "UNION": "use UNION ALL, which keeps duplicates; to drop them, group by an event-time window",
    "INTERSECT": "join the streams on those columns, bounded in time: FROM a JOIN b ON a.id = "
    "b.id AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' HOUR",
    "EXCEPT": "keep the records with no match in the other stream: a LEFT JOIN bounded in time, "
    "WHERE b.id IS NULL",
}
"""The fix for each set operation that removes duplicates (a stream never ends, so its result
would change as records arrive)."""


def _time_column(call: exp.Expr) -> exp.Column | None:
    """The event-time column of a ``window(...)`` call: its first argument."""
    first = call.expressions[0] if call.expressions else None
    return first if isinstance(first, exp.Column) else None


def _check_select(
    q: QueryDef,
    select: exp.Select,
    watermarks: set[str],
    analysis: Analysis,
    via: QueryDef | None,
) -> t.Iterator[UserError]:
    group = select.args.get("group")
    distinct = select.args.get("distinct")
    aggs = [
        a
        for e in select.expressions
        for a in e.find_all(exp.AggFunc)
        if a.find_ancestor(exp.Select, exp.Window) is select  # sum(x) OVER (...): reported apart
    ]
    if distinct is not None:
        yield _error(
            q,
            select.expressions[0] if select.expressions else distinct,
            "SELECT DISTINCT keeps changing its result as records arrive",
            "group by an event-time window instead, e.g. GROUP BY window(event_time, '5 minutes'), "
            "user_id, on a stream with a WATERMARK",
            via,
        )
    if group is None and not aggs:
        yield from _check_joins(q, select, watermarks, analysis, via)
        return
    yield from _distinct_aggregates(q, aggs, via)
    keys = list(group.expressions) if group is not None else []
    windows = [k for k in keys if is_window_call(k)]
    time_keys = [k for k in keys if isinstance(k, exp.Column) and k.name.lower() in watermarks]
    chained = _aggregating_reads(select, analysis)
    if chained and not windows and not time_keys:
        yield _chained_error(q, keys[0] if keys else aggs[0], chained[0], via)
        return
    if via is None and select is q.query and changelog.marker(q) is not None:
        # A CHANGELOG sink writes each change of a group: its result need not be final.
        yield from _check_joins(q, select, watermarks, analysis, via)
        return
    if not windows and not time_keys:
        node = keys[0] if keys else aggs[0]
        what = (
            "this aggregation is not grouped by an event-time window, so it emits an update "
            "for every record"
        )
        sample = next(iter(sorted(watermarks)), None)
        ts = next(
            (
                f.name
                for r in q.reads
                for f in analysis.fields_of(r)
                if f.type.upper().startswith("TIMESTAMP")
            ),
            "event_time",
        )
        hint = (
            f"group by window({sample}, '5 minutes') as well"
            if sample
            else f"add WATERMARK FOR {ts} AS {ts} - INTERVAL '10' MINUTES to the source "
            f"stream's columns, and group by window({ts}, '5 minutes')"
        )
        if via is None and select is q.query and keys and q.name is None:
            hint += f"; or, for a running total, write its changes: {_changelog_form(keys)}"
        yield _error(q, node, what, hint, via)
        return
    for call in windows:
        col = _time_column(call)
        if col is None:
            continue
        if col.name.lower() not in watermarks and chained:
            yield _chained_error(q, call, chained[0], via)
        elif col.name.lower() not in watermarks:
            yield _error(
                q,
                call,
                f"the window over '{col.name}' never closes: no stream it reads has a WATERMARK "
                f"on '{col.name}'",
                f"add WATERMARK FOR {col.name} AS {col.name} - INTERVAL '10' MINUTES to the "
                "columns of the source's CREATE STREAM",
                via,
            )
    yield from _check_joins(q, select, watermarks, analysis, via)


def _changelog_form(keys: list[exp.Expr]) -> str:
    """The opt-in that writes a non-final aggregation, for a hint: ``CHANGELOG KEY user_id``."""
    names = [k.name if isinstance(k, exp.Column) else k.sql(SPARK) for k in keys]
    key = names[0] if len(names) == 1 else f"({', '.join(names)})"
    return f"INSERT INTO KAFKA TOPIC '...' CHANGELOG KEY {key} SELECT ..."


def _distinct_aggregates(
    q: QueryDef, aggs: list[exp.AggFunc], via: QueryDef | None
) -> t.Iterator[UserError]:
    """``count(DISTINCT x)`` and the like: Spark keeps no state for distinct aggregates."""
    for agg in aggs:
        if not isinstance(agg.this, exp.Distinct):
            continue
        args = ", ".join(a.sql(SPARK) for a in agg.this.expressions)
        name = agg.sql_name().lower() if not isinstance(agg, exp.Count) else "count"
        fix = (
            f"use approx_count_distinct({args}), which Spark can keep per window"
            if isinstance(agg, exp.Count)
            else f"deduplicate first: a derived stream that groups by the window and {args}, "
            f"then {name}({args}) over it, grouped by window(window_time(window), ...)"
        )
        yield _error(
            q,
            agg,
            f"{name}(DISTINCT ...) is not supported on streams (a distinct aggregate)",
            fix,
            via,
        )


def _aggregating_reads(select: exp.Select, analysis: Analysis) -> list[str]:
    """Derived streams that this SELECT reads directly and that aggregate themselves."""
    names = [
        tbl.name.lower()
        for tbl in select.find_all(exp.Table)
        if tbl.find_ancestor(exp.Select) is select
    ]
    return [
        name
        for name in names
        if (view := analysis.view(name)) is not None and _aggregates(view.query)
    ]


def _aggregates(query: exp.Expr) -> bool:
    return any(
        s.args.get("group") is not None or any(s.find(exp.AggFunc) for s in s.expressions)
        for s in query.find_all(exp.Select)
    )


def _chained_error(q: QueryDef, node: exp.Expr, inner: str, via: QueryDef | None) -> UserError:
    return _error(
        q,
        node,
        f"this aggregation reads stream '{inner}', which aggregates already: Spark chains "
        f"aggregations only on the event time of the first one's window",
        f"group by window(window_time(window), '1 hour') over the window of '{inner}', "
        "or aggregate its source stream directly",
        via,
    )


def unbounded_joins(q: QueryDef, analysis: Analysis) -> t.Iterator[CompileWarning]:
    """Inner joins of streams whose state Spark can never clean up: a warning each.

    Spark runs them, but keeps every record of both sides in state, for ever, unless both
    sides have a watermark and the ON condition bounds the event times (the Structured
    Streaming guide's "inner joins with optional watermarking")."""
    watermarks = _watermarks(q, analysis)
    for select in syntax.find_all(q.query, exp.Select):
        for join in select.args.get("joins") or []:
            side = (join.args.get("side") or "").upper()
            if side or (join.args.get("kind") or "").upper() in ("CROSS", "SEMI", "ANTI"):
                continue
            if not all(_sides_stream(q, select, join, analysis)):
                continue  # a stream joined to a static relation keeps no state
            unwatermarked = _unwatermarked(q, select, join, analysis)
            bounded = _bounded(join, watermarks)
            if not unwatermarked and bounded:
                continue
            why = (
                f"{', '.join(unwatermarked)} has no WATERMARK"
                if unwatermarked
                else "its ON condition does not bound the event times"
            )
            yield CompileWarning(
                f"this join of streams keeps every record of both sides in state, which grows "
                f"without limit: {why}",
                q.stmt.locate(join),
                "add a WATERMARK to each source and bound the join in time, e.g. "
                "ON a.id = b.id AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' HOUR",
            )


def _bounded(join: exp.Join, watermarks: set[str]) -> bool:
    condition = join.args.get("on")
    return condition is not None and any(
        _compares_time(c, watermarks)
        for c in condition.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
    )


def _unwatermarked(
    q: QueryDef, select: exp.Select, join: exp.Join, analysis: Analysis
) -> list[str]:
    """The streams on either side of ``join`` with no watermark upstream (a CTE of ``q`` is
    judged by the streams it reads)."""
    from_ = select.args.get("from_")
    tables = [from_.this, join.this] if from_ is not None else [join.this]
    missing = []
    for table in tables:
        if not isinstance(table, exp.Table) or not table.name:
            continue
        sources, _ = analysis.upstream(_streams_read(table, q, analysis, set()))
        if not any(analysis.sources[s].watermark_column for s in sources):
            missing.append(table.name)
    return missing


def _check_joins(
    q: QueryDef,
    select: exp.Select,
    watermarks: set[str],
    analysis: Analysis,
    via: QueryDef | None,
) -> t.Iterator[UserError]:
    joins = select.args.get("joins") or []
    for join in joins:
        side = (join.args.get("side") or "").upper()
        if side not in ("LEFT", "RIGHT", "FULL"):
            continue
        left, right = _sides_stream(q, select, join, analysis)
        if not (left and right):
            yield from _static_outer_join(q, join, side, (left, right), via)
            continue
        has_bound = _bounded(join, watermarks)
        unwatermarked = _unwatermarked(q, select, join, analysis)
        if unwatermarked:
            yield _error(
                q,
                join,
                f"a {side} OUTER join of streams needs a WATERMARK on both sides "
                f"({', '.join(unwatermarked)} has none): without one it can never emit the "
                "unmatched rows",
                "add a WATERMARK to each source and bound the join in time, e.g. "
                "ON a.id = b.id AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' HOUR",
                via,
            )
        elif not has_bound:
            yield _error(
                q,
                join,
                f"a {side} OUTER join of streams needs a time bound in its ON condition",
                "add a condition on both event times, e.g. "
                "AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' HOUR",
                via,
            )


def _compares_time(cond: exp.Expr, watermarks: set[str]) -> bool:
    cols = {c.name.lower() for c in cond.find_all(exp.Column)}
    return bool(cols & watermarks)


_PRESERVED = {"LEFT": (True, False), "RIGHT": (False, True), "FULL": (True, True)}
"""Which sides (left, right) of an outer join keep their unmatched rows."""


def _static_outer_join(
    q: QueryDef,
    join: exp.Join,
    side: str,
    streaming: tuple[bool, bool],
    via: QueryDef | None,
) -> t.Iterator[UserError]:
    """An outer join with a static side (``VALUES``, a CTE over it): fine when only the stream's
    rows are kept (Spark joins each micro-batch to the relation); refused when the relation's
    unmatched rows would have to be emitted, since no stream record ever says they are final."""
    if not any(streaming):
        return  # two static relations: a plain batch join
    kept_static = [keep and not stream for keep, stream in zip(_PRESERVED[side], streaming)]
    if not any(kept_static):
        return
    yield _error(
        q,
        join,
        f"a {side} OUTER join of a stream to a static relation would emit the relation's "
        "unmatched rows, and no record of the stream ever says they are final",
        "put the stream on the left of a LEFT JOIN (FROM stream LEFT JOIN relation), or use "
        "an inner JOIN",
        via,
    )


def _sides_stream(
    q: QueryDef, select: exp.Select, join: exp.Join, analysis: Analysis
) -> tuple[bool, bool]:
    """Whether the left side (FROM and the joins before ``join``) and the right side of
    ``join`` read a stream; a side that reads none is static (``VALUES``, a CTE over it)."""
    from_ = select.args.get("from_")
    before = [from_.this] if from_ is not None else []
    for other in select.args.get("joins") or []:
        if other is join:
            break
        before.append(other.this)
    return (
        any(_reads_stream(r, q, analysis, set()) for r in before),
        _reads_stream(join.this, q, analysis, set()),
    )


def _reads_stream(node: exp.Expr, q: QueryDef, analysis: Analysis, seen: set[str]) -> bool:
    """Whether ``node`` reads a stream, directly or through the CTEs of ``q`` it names."""
    return bool(_streams_read(node, q, analysis, seen))


def _streams_read(node: exp.Expr, q: QueryDef, analysis: Analysis, seen: set[str]) -> list[str]:
    """The streams (lower case) that ``node`` reads, looking through the CTEs of ``q``."""
    ctes = {c.alias_or_name.lower(): c.this for c in q.query.find_all(exp.CTE)}
    found: list[str] = []
    for table in [node] if isinstance(node, exp.Table) else node.find_all(exp.Table):
        name = table.name.lower()
        if name in ctes and name not in seen:
            seen.add(name)
            found.extend(_streams_read(ctes[name], q, analysis, seen))
        elif name in analysis.sources or analysis.view(name) is not None:
            found.append(name)
    return found
