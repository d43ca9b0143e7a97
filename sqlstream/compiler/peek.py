"""What ``sqlstream peek`` shows, as plain data: a query's SELECT, a stream, or a SELECT typed
on the command line, with the sources and derived streams it reads.

A SELECT given with ``--sql`` is compiled with the project as one more file, ``<--sql>``, so it
is parsed, resolved and checked exactly as a bare SELECT in a query file (and its mistakes are
located in ``<--sql>:1:col``); then it must be append-only, as a query written to Kafka must be,
since peek runs it in Spark's append mode too. No pyspark here: ``spark.peek`` runs the result.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, replace
from pathlib import Path

from sqlglot import exp

from sqlstream.compiler import appendonly, facade, selection, syntax
from sqlstream.compiler.analyse import Analysis, QueryDef, did_you_mean
from sqlstream.compiler.facade import Compiled
from sqlstream.compiler.plan import Field, Plan, SinkPlan
from sqlstream.compiler.syntax.nodes import QueryStatement
from sqlstream.errors import UserError, UserErrors

SQL_FILE = "<--sql>"
"""How messages name the text of ``--sql``."""


@dataclass(frozen=True)
class PeekQuery:
    """One SELECT to show, and what it reads (as a ``SinkPlan`` lists them)."""

    name: str
    place: str
    """``queries/spend.sql:7`` or ``<--sql>``: where the SELECT was written."""
    sql: str
    """The SELECT, as Spark SQL."""
    fields: list[Field]
    sources: list[str]
    views: list[str]
    """In dependency order."""
    waits_for_watermark: bool
    """It aggregates: in append mode a row appears only once the watermark closes its window."""


@dataclass(frozen=True)
class ProjectOptions:
    """The project options of the command (``--target``, ``--vars``, ``--profiles-dir``)."""

    target: str | None = None
    vars_: str | None = None
    profiles_dir: str | None = None

    def compile(
        self, paths: t.Sequence[str] = (), sql: str | None = None, select: t.Sequence[str] = ()
    ) -> Compiled:
        return facade.compile_project(  # looked up at the call: tests replace it
            paths,
            target=self.target,
            vars_override=self.vars_,
            select=select,
            profiles_dir=self.profiles_dir,
            extra={SQL_FILE: sql} if sql is not None else None,
        )


def peek_sql(options: ProjectOptions, sql: str) -> tuple[Compiled, PeekQuery]:
    """``--sql "SELECT ..."`` over the project's streams."""
    compiled = options.compile(sql=sql)
    return compiled, _of_select(compiled)


def peek_named(options: ProjectOptions, what: str) -> tuple[Compiled, PeekQuery]:
    """``peek PATH``, ``peek QUERY`` or ``peek STREAM`` (a stream shows ``SELECT * FROM`` it)."""
    if Path(what).is_file():
        return _of_file(options, what)
    # An empty --sql selects nothing, so no error refuses this compile: it tells the names.
    probe = options.compile(sql="")
    queries = sorted(
        set(selection.sink_names(probe.analysis, probe.full_plan or probe.plan).values())
    )
    streams = [*probe.analysis.sources, *(v.name for v in probe.analysis.views if v.name)]
    if what in queries:  # only what the query reads must be free of errors
        compiled = options.compile(select=(what,))
        return compiled, of_sink(
            next(s for s in compiled.plan.sinks if s.name == what), compiled.analysis
        )
    if what.lower() in streams:
        compiled, query = peek_sql(options, f"SELECT * FROM {what}")
        return compiled, replace(query, name=what.lower(), place=f"stream {what.lower()}")
    names = queries + streams
    raise UserErrors(
        [
            UserError(
                f"peek {what}: no query file, query or stream of that name",
                None,
                did_you_mean(what, names)
                or f"peek one of: {', '.join(names) or 'nothing (no queries yet)'}",
            )
        ]
    )


def needed_plan(compiled: Compiled, query: PeekQuery) -> Plan:
    """The project's plan with one query, ``query`` as a sink with nothing to write: what the
    run's step description is built from (the sink's write is peek's to replace)."""
    plan = compiled.full_plan or compiled.plan
    sink = SinkPlan(
        name=query.name,
        file=query.place,
        line=0,
        sql=query.sql,
        fields=query.fields,
        write_exprs=[],
        value_format="json",
        topic=None,
        write_options={},
        trigger=None,
        checkpoint="",
        sources=query.sources,
        views=query.views,
        tables=[tb.name for tb in plan.tables],  # a table not joined is a view nobody reads
    )
    return Plan(
        plan.project,
        list(plan.sources),
        list(plan.views),
        [sink],
        dict(plan.settings),
        tables=list(plan.tables),
    )


def of_sink(sink: SinkPlan, analysis: Analysis) -> PeekQuery:
    """A query's SELECT, without its KEY, PARTITION, HEADERS and TOPIC."""
    q = next(
        (
            q
            for q in analysis.sinks
            if q.stmt.file.path == sink.file and q.stmt.locate().line == sink.line
        ),
        None,
    )
    waits = q is not None and waits_for_watermark(q, analysis)
    return PeekQuery(
        sink.name,
        f"{sink.file}:{sink.line}",
        sink.sql,
        sink.fields,
        sink.sources,
        sink.views,
        waits,
    )


def waits_for_watermark(q: QueryDef, analysis: Analysis) -> bool:
    """Whether ``q`` or a derived stream it reads aggregates (the planner made sure that each
    aggregate is closed by a watermark, so append mode emits its rows then)."""
    _, views = analysis.upstream(q.reads)
    queries = [q.query, *(v.query for n in views if (v := analysis.view(n)) is not None)]
    return any(_aggregates(query) for query in queries)


def _aggregates(query: exp.Expr) -> bool:
    return any(
        select.args.get("group") is not None or select.find(exp.AggFunc) is not None
        for select in query.find_all(exp.Select)
    )


def _of_file(options: ProjectOptions, path: str) -> tuple[Compiled, PeekQuery]:
    """The one query (an INSERT, or a bare SELECT) of a query file."""
    compiled = options.compile([path])
    shown = set(compiled.selected_files)
    selects = [q for q in compiled.analysis.selects if q.stmt.file.path in shown]
    if len(compiled.plan.sinks) + len(selects) == 1:
        if selects:
            return compiled, _from_select(
                selects[0], compiled.analysis, f"{Path(path).stem}_select"
            )
        return compiled, of_sink(compiled.plan.sinks[0], compiled.analysis)
    names = [s.name for s in compiled.plan.sinks]
    raise UserErrors(
        [
            UserError(
                f"{path} holds {len(names) + len(selects)} queries; peek shows one",
                None,
                f"peek one by name: {', '.join(names)}"
                if names
                else "add an INSERT or a SELECT to the file",
            )
        ]
    )


def _of_select(compiled: Compiled) -> PeekQuery:
    """The SELECT of ``--sql``: exactly one statement, and a SELECT."""
    mine = [s for s in compiled.statements if s.file.path == SQL_FILE]
    if not mine:
        raise UserErrors([UserError("--sql is empty", None, 'e.g. --sql "SELECT * FROM orders"')])
    others = [s for s in mine if not isinstance(s.node, QueryStatement)] + mine[1:]
    if others:
        raise UserErrors(
            [
                UserError(
                    "--sql takes one SELECT statement",
                    others[0].locate(),
                    "define streams and queries in the project's files; peek reads them",
                )
            ]
        )
    q = next(q for q in compiled.analysis.selects if q.stmt is mine[0])
    return _from_select(q, compiled.analysis, "peek")


def _from_select(q: QueryDef, analysis: Analysis, name: str) -> PeekQuery:
    """A bare SELECT, held to the rules of a query written to Kafka: peek runs it in append
    mode on the live topic, so it must read a stream and be append-only."""
    sources, views = analysis.upstream(q.reads)
    if not sources:
        raise UserErrors(
            [
                UserError(
                    "this SELECT reads no stream",
                    q.stmt.locate(),
                    "peek shows a SELECT over the project's streams, e.g. SELECT * FROM orders",
                )
            ]
        )
    errors = appendonly.check(q, analysis, set())
    if errors:
        raise UserErrors(errors)
    where = q.stmt.locate()
    place = where.path if where.path == SQL_FILE else f"{where.path}:{where.line}"
    return PeekQuery(
        name,
        place,
        syntax.to_spark_sql(q.query),
        q.fields,
        sources,
        views,
        waits_for_watermark(q, analysis),
    )
