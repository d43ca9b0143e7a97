"""Names, schemas and dependencies of every statement of a project.

Streams are project-wide: a stream defined in one file may be read by any other. This stage
resolves every name, orders the derived streams so each is defined after what it reads, checks
column references against the declared schemas (sqlglot's ``qualify``) and infers the output
schema of every derived stream and sink (``annotate_types``).
"""

from __future__ import annotations

import difflib
import typing as t
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from sqlstream.compiler import syntax
from sqlstream.compiler.parse import Statement
from sqlstream.compiler.plan import Field, StreamColumn
from sqlstream.compiler.syntax import nodes as n
from sqlstream.errors import Diagnostics, UserError

SPARK = "spark"
_DIALECT = Dialect.get_or_raise(SPARK)
"""The dialect, given to sqlglot as an object: given its name, every call built a new one."""

# Spark's streaming window functions return a struct named after the function; a query that
# groups by one may select ``window.start`` / ``window.end``. sqlglot does not know these, so
# for checking, such a query sees a pseudo-column of the struct's type.
WINDOW_FUNCTIONS = ("window", "session_window")
WINDOW_TYPE = "STRUCT<start: TIMESTAMP, end: TIMESTAMP>"
UNKNOWN = "UNKNOWN"


@dataclass
class SourceDef:
    """One stream read from Kafka, as the analysis knows it."""

    name: str
    stmt: Statement
    node: n.CreateKafkaStream
    columns: list[StreamColumn]
    watermark_column: str | None

    @property
    def fields(self) -> list[Field]:
        return [Field(c.name, c.type) for c in self.columns]


@dataclass
class TableDef:
    """A reference table (``CREATE TABLE``): read in batch, joined to streams as it is now."""

    name: str
    stmt: Statement
    node: n.CreateTable
    columns: list[StreamColumn]
    key: list[str]
    """The PRIMARY KEY's columns, as declared."""

    @property
    def fields(self) -> list[Field]:
        return [Field(c.name, c.type) for c in self.columns]


@dataclass
class QueryDef:
    """A derived stream (``name`` set) or a sink (an INSERT INTO KAFKA)."""

    stmt: Statement
    node: n.Statement
    query: exp.Expr
    name: str | None = None
    reads: list[str] = field(default_factory=list)
    """Streams this query reads directly (lower-case names)."""
    fields: list[Field] = field(default_factory=list)
    broken: bool = False
    """An error was reported for it already: later checks would only repeat it."""
    watermarks: set[str] = field(default_factory=set)
    """Output columns (lower case) that carry an event-time watermark from upstream."""
    unknown: list[tuple[str, UserError]] = field(default_factory=list)
    """Streams it reads that no statement defines (lower case), each with its error: a file
    that does not parse may define one (``selection.with_broken_hints``)."""


@dataclass
class Analysis:
    """Names and schemas of every statement of the project."""

    sources: dict[str, SourceDef] = field(default_factory=dict)
    views: list[QueryDef] = field(default_factory=list)
    """In dependency order."""
    sinks: list[QueryDef] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    selects: list[QueryDef] = field(default_factory=list)
    """Bare SELECT statements (an error in ``run``; inputs of ``test``)."""
    tables: dict[str, TableDef] = field(default_factory=dict)

    def view(self, name: str) -> QueryDef | None:
        return next((v for v in self.views if v.name == name), None)

    def tables_read(self, reads: t.Iterable[str]) -> list[str]:
        """The tables that ``reads`` join, directly or through derived streams."""
        reads = list(reads)
        _, views = self.upstream(reads)
        names = [*reads, *(r for v in views if (q := self.view(v)) for r in q.reads)]
        return sorted({r for r in names if r in self.tables})

    def fields_of(self, name: str) -> list[Field]:
        if name in self.tables:
            return self.tables[name].fields
        if name in self.sources:
            return self.sources[name].fields
        v = self.view(name)
        return v.fields if v else []

    def watermarks_of(self, name: str) -> set[str]:
        """Columns of stream ``name`` (lower case) that carry an event-time watermark."""
        if name in self.sources:
            wm = self.sources[name].watermark_column
            return {wm.lower()} if wm else set()
        v = self.view(name)
        return v.watermarks if v else set()

    def upstream(self, reads: t.Iterable[str]) -> tuple[list[str], list[str]]:
        """(sources, views in dependency order) that ``reads`` needs, transitively."""
        sources: set[str] = set()
        views: set[str] = set()
        stack = list(reads)
        while stack:
            name = stack.pop()
            if name in self.sources:
                sources.add(name)
            elif name not in views and (v := self.view(name)):
                views.add(name)
                stack.extend(v.reads)
        ordered_views = [v.name for v in self.views if v.name in views]
        return sorted(sources), t.cast(list[str], ordered_views)


ColumnsOf = t.Callable[[Statement, n.CreateKafkaStream, Diagnostics], "list[StreamColumn] | None"]
"""The columns of a stream declared without any, from elsewhere (``schemas.columns_from``:
the registry's latest schema); None when the stream's format gives none."""


def analyse(
    statements: list[Statement], diags: Diagnostics, columns_of: ColumnsOf | None = None
) -> Analysis:
    result = Analysis()
    definitions: dict[str, Statement] = {}
    views: list[QueryDef] = []
    broken: set[str] = set()
    """Kafka streams defined but without columns (reported): known, so that their readers are
    not reported again as reading an unknown stream; ``_infer`` leaves those readers out."""

    def define(name_node: n.Name, stmt: Statement) -> str | None:
        return _define(definitions, name_node, stmt, diags)

    for stmt in statements:
        node = stmt.node
        if isinstance(node, n.CreateKafkaStream):
            name = define(node.name, stmt)
            if name:
                _add_source(result, broken, name, stmt, node, diags, columns_of)
        elif isinstance(node, (n.CreateTable, n.CreateDerivedStream)):
            name = define(node.name, stmt)
            if name and isinstance(node, n.CreateTable):
                result.tables[name] = _table_def(name, stmt, node, diags)
            elif name and isinstance(node, n.CreateDerivedStream):
                views.append(QueryDef(stmt, node, node.query, name=name))
        elif isinstance(node, n.InsertKafka):
            result.sinks.append(QueryDef(stmt, node, node.query))
        elif isinstance(node, n.SetStatement):
            result.settings.update({item.key: item.value for item in node.items})
        else:
            result.selects.append(QueryDef(stmt, node, node.query))

    known = set(result.sources) | broken | set(result.tables) | {v.name for v in views if v.name}
    for q in [*views, *result.sinks, *result.selects]:
        q.reads = _references(q, known, diags)

    result.views = _order_views(views, diags)
    for q in [*result.views, *result.sinks, *result.selects]:
        _infer(q, result, diags)
    return result


def _add_source(
    result: Analysis,
    broken: set[str],
    name: str,
    stmt: Statement,
    node: n.CreateKafkaStream,
    diags: Diagnostics,
    columns_of: ColumnsOf | None,
) -> None:
    """A Kafka stream into ``result.sources``; into ``broken`` when it has no columns (the
    reason is reported)."""
    source = _source_def(name, stmt, node, diags, columns_of)
    if source is not None:
        result.sources[name] = source
    else:
        broken.add(name)


def _define(
    definitions: dict[str, Statement], name_node: n.Name, stmt: Statement, diags: Diagnostics
) -> str | None:
    """The lower-case name a statement defines, or None when another defines it already."""
    name = name_node.text.lower()
    if name in definitions:
        first = definitions[name]
        where = first.locate(t.cast(n.CreateKafkaStream, first.node).name)
        diags.error(
            f"stream '{name_node.text}' is defined twice",
            stmt.locate(name_node),
            f"it is first defined at {where}; stream names are project-wide, rename one",
        )
        return None
    definitions[name] = stmt
    return name


def _declared_columns(
    stmt: Statement, node: n.CreateKafkaStream | n.CreateTable, what: str, diags: Diagnostics
) -> list[StreamColumn]:
    columns: list[StreamColumn] = []
    seen: set[str] = set()
    for col in node.columns:
        cname = col.name.text
        if cname.lower() in seen:
            diags.error(
                f"column '{cname}' is declared twice in {what} '{node.name.text}'",
                stmt.locate(col.name),
                "give each column its own name",
            )
            continue
        seen.add(cname.lower())
        columns.append(
            StreamColumn(
                name=cname,
                type=syntax.type_sql(col.type),
                role=col.role,
                ref=col.ref.value if col.ref is not None else None,
            )
        )
    return columns


def _source_def(
    name: str,
    stmt: Statement,
    node: n.CreateKafkaStream,
    diags: Diagnostics,
    columns_of: ColumnsOf | None = None,
) -> SourceDef | None:
    """None: a stream that declares no columns and whose registry has none for it (reported)."""
    if node.columns:
        columns = _declared_columns(stmt, node, "stream", diags)
    else:
        found = columns_of(stmt, node, diags) if columns_of else None
        if found is None:
            diags.error(
                f"stream '{node.name.text}' declares no columns",
                stmt.locate(node.name),
                "declare them: CREATE STREAM name (col TYPE, ...) FROM KAFKA (...); only "
                "a registry format (avro-confluent, json-confluent) can take them from the "
                "registry's latest schema",
            )
        if not found:
            return None
        columns = list(found)
    watermark_column = None
    wm = node.watermark
    if wm is not None:
        wcol = wm.column
        watermark_column = wcol.name
        decl = next((c for c in columns if c.name.lower() == wcol.name.lower()), None)
        if decl is None:
            diags.error(
                f"the watermark is on '{wcol.name}', which is not a column of stream "
                f"'{node.name.text}'",
                stmt.locate(wcol),
                _did_you_mean(wcol.name, [c.name for c in columns])
                or "declare the event-time column in the column list",
            )
        else:
            watermark_column = decl.name
            if decl.type.upper() not in ("TIMESTAMP", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ"):
                diags.error(
                    f"the watermark column '{decl.name}' is {decl.type}, not a TIMESTAMP",
                    stmt.locate(wcol),
                    f"declare it as '{decl.name} TIMESTAMP', or watermark a TIMESTAMP column",
                )
    return SourceDef(name, stmt, node, columns, watermark_column)


def _table_def(name: str, stmt: Statement, node: n.CreateTable, diags: Diagnostics) -> TableDef:
    """The table's columns (each declared once) and its key (each a declared column)."""
    columns = _declared_columns(stmt, node, "table", diags)
    declared = {c.name.lower(): c.name for c in columns}
    key: list[str] = []
    for k in node.primary_key:
        if k.text.lower() not in declared:
            diags.error(
                f"the PRIMARY KEY names '{k.text}', which is not a column of table "
                f"'{node.name.text}'",
                stmt.locate(k),
                _did_you_mean(k.text, list(declared.values())) or "declare it in the column list",
            )
        else:
            key.append(declared[k.text.lower()])
    return TableDef(name, stmt, node, columns, key)


def _references(q: QueryDef, known: set[str], diags: Diagnostics) -> list[str]:
    ctes: set[str] = set()
    tables: list[exp.Table] = []
    for node in syntax.walk(q.query):  # one walk for both, not into a long plain WHERE
        if isinstance(node, exp.CTE):
            ctes.add(node.alias_or_name.lower())
        elif isinstance(node, exp.Table):
            tables.append(node)
    reads: list[str] = []
    for table in tables:
        if not table.name:
            continue  # e.g. a table function
        name = table.name.lower()
        if name in ctes:
            continue
        if name not in known:
            q.broken = True
            error = UserError(
                f"unknown stream '{table.name}'",
                q.stmt.locate(table.this),
                _did_you_mean(table.name, sorted(known))
                or "declare it with CREATE STREAM ... FROM KAFKA or CREATE STREAM ... AS SELECT",
            )
            q.unknown.append((name, error))
            diags.add(error)
            continue
        if name == q.name:
            q.broken = True
            diags.error(
                f"stream '{table.name}' reads itself",
                q.stmt.locate(table.this),
                "a derived stream reads other streams; Kafka sources are declared with FROM KAFKA",
            )
            continue
        if name not in reads:
            reads.append(name)
    return reads


def _order_views(views: list[QueryDef], diags: Diagnostics) -> list[QueryDef]:
    """Views in dependency order; a cycle is an error naming every stream on it."""
    by_name = {v.name: v for v in views}
    ordered: list[QueryDef] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(v: QueryDef, path: list[str]) -> None:
        assert v.name
        if state.get(v.name) == 2:
            return
        if state.get(v.name) == 1:
            cycle = path[path.index(v.name) :] + [v.name]
            for member in cycle:
                by_name[member].broken = True
            diags.error(
                f"streams depend on each other in a cycle: {' -> '.join(cycle)}",
                v.stmt.locate(t.cast(n.CreateDerivedStream, v.node).name),
                "a derived stream can only read streams that do not read it back",
            )
            return
        state[v.name] = 1
        for r in v.reads:
            if r in by_name:
                visit(by_name[r], [*path, v.name])
        state[v.name] = 2
        ordered.append(v)

    for v in views:
        visit(v, [])
    return ordered


uses_window_function = syntax.uses_window_function
is_window_call = syntax.is_window_call


def _schema(q: QueryDef, analysis: Analysis) -> dict[str, dict[str, str]]:
    windowed = uses_window_function(q.query)
    schema: dict[str, dict[str, str]] = {}
    for i, name in enumerate(q.reads):
        cols = {f.name: f.type for f in analysis.fields_of(name) if f.type != UNKNOWN}
        cols.update({f.name: "STRING" for f in analysis.fields_of(name) if f.type == UNKNOWN})
        # One stream has the pseudo-column: in two, a join's `window` would be ambiguous.
        if windowed and i == 0:
            for fn in WINDOW_FUNCTIONS:
                cols.setdefault(fn, WINDOW_TYPE)
        schema[name] = cols
    return schema


_TYPES: dict[str, exp.DataType] = {}
"""Type text -> its parsed type, shared by every query of the process. A schema of strings
made sqlglot parse each column's type again for every query, twice (qualify, then
annotate_types); the types are few (STRING, DOUBLE, ...), the columns many."""


def _data_type(text: str) -> exp.DataType:
    """The type as sqlglot's schema would parse it (Spark, identifiers normalised)."""
    kind = _TYPES.get(text)
    if kind is None:
        kind = exp.DataType.build(text, dialect=_DIALECT)
        kind.transform(_DIALECT.normalize_identifier, copy=False)
        _TYPES[text] = kind
    return kind


def _mapping_schema(schema: dict[str, dict[str, str]]) -> MappingSchema:
    """One schema object for qualify and annotate_types, of parsed types."""
    typed: dict[str, object] = {
        table: {c: _data_type(k) for c, k in cols.items()} for table, cols in schema.items()
    }
    return MappingSchema(typed, dialect=_DIALECT)


def _infer(q: QueryDef, analysis: Analysis, diags: Diagnostics) -> None:
    """Check the query's columns and infer its output schema."""
    known = analysis.sources.keys() | analysis.tables.keys()
    if q.broken or any(r not in known and not analysis.view(r) for r in q.reads):
        q.broken = True
        return  # an unknown stream, or a stream without columns, was reported already
    if any((v := analysis.view(r)) is not None and v.broken for r in q.reads):
        q.broken = True
        return  # an upstream view failed; its error was reported
    schema = _schema(q, analysis)
    mapping = _mapping_schema(schema)
    try:
        qualified = qualify(
            _to_qualify(q.query),
            schema=mapping,
            dialect=_DIALECT,
            validate_qualify_columns=True,
            quote_identifiers=False,
            identify=False,
        )
        typed = annotate_types(_without_filters(qualified), schema=mapping, dialect=_DIALECT)
    except OptimizeError as e:
        _report_optimize_error(e, q, schema, diags)
        q.broken = True
        return
    except SqlglotError as e:  # pragma: no cover - defensive: sqlglot internals
        diags.error(f"cannot analyse this query: {e}", q.stmt.locate(q.query), None)
        return
    # sqlglot normalises names to lower case (Spark resolves them case-insensitively); the
    # output keeps the case the user wrote, as Spark does: in the query, else in the upstream.
    spelled = {f.name.lower(): f.name for r in q.reads for f in analysis.fields_of(r)}
    if isinstance(q.query, exp.Query):
        spelled.update(
            {s.alias_or_name.lower(): s.alias_or_name for s in q.query.selects if s.alias_or_name}
        )
    upstream_watermarks = {w for r in q.reads for w in analysis.watermarks_of(r)}
    fields: list[Field] = []
    watermarks: set[str] = set()
    seen: set[str] = set()
    for sel in typed.selects if isinstance(typed, exp.Query) else []:
        name = sel.alias_or_name
        if isinstance(sel, exp.Star) or not name:
            continue
        name = spelled.get(name.lower(), name)
        dtype = (
            syntax.type_sql(sel.type)
            if sel.type and not sel.type.is_type(exp.DataType.Type.UNKNOWN)
            else UNKNOWN
        )
        if name.lower() in seen:
            diags.error(
                f"the output has two columns named '{name}'",
                q.stmt.locate(_find_select(q.query, name) or q.query),
                "give one of them another name with AS",
            )
        seen.add(name.lower())
        fields.append(Field(name, dtype))
        # Spark keeps a column's event-time (watermark) mark through a projection or a rename.
        inner = sel.this if isinstance(sel, exp.Alias) else sel
        if isinstance(inner, exp.Column) and inner.name.lower() in upstream_watermarks:
            watermarks.add(name.lower())
    q.fields = fields
    q.watermarks = watermarks


def _to_qualify(query: exp.Expr) -> exp.Expr:
    """A copy of the query for ``qualify``, which rewrites what it is given.

    A long plain WHERE (``syntax.plain_columns``: a filter of 20,000 terms is 100,000 nodes)
    is replaced in the copy by the AND of its distinct columns, in the order they first
    appear: qualify resolves each column on its own, so the stand-in resolves, and fails,
    exactly as the filter would (a failure is located in the original query, by the column's
    name), and the copy and qualify's walks are as long as the columns are few. The original
    is not changed: the stand-in takes the WHERE's place only while the rest is copied."""
    where = query.args.get("where") if isinstance(query, exp.Select) else None
    condition = syntax.long_filter(query)
    columns = syntax.long_filter_columns(condition) if condition is not None else None
    if where is None or not columns:
        return query.copy()
    distinct: dict[tuple[tuple[str, bool], ...], exp.Column] = {}
    for column in columns:
        key = tuple((str(p.this), bool(p.args.get("quoted"))) for p in column.parts)
        distinct.setdefault(key, column)
    stand_in = exp.Where(this=syntax.balanced_and([c.copy() for c in distinct.values()]))
    query.set("where", stand_in)  # same key: the order of the arguments (and walks) is kept
    try:
        return query.copy()
    finally:
        query.set("where", where)


def _without_filters(qualified: exp.Expr) -> exp.Expr:
    """The qualified copy without its WHERE clauses, for ``annotate_types``: the output schema
    is the types of the select lists, which a filter does not change, and qualify has checked
    the filter's columns already. (A WHERE of 20,000 terms was a third of annotate_types' and
    a tenth of validate's time.)"""
    if isinstance(qualified, exp.Select):
        qualified.set("where", None)  # the outer one first: the walk below is then short
    for select in list(qualified.find_all(exp.Select)):
        select.set("where", None)
    return qualified


def _find_select(query: exp.Expr, name: str) -> exp.Expr | None:
    if not isinstance(query, exp.Query):
        return None
    return next((s for s in query.selects if s.alias_or_name.lower() == name.lower()), None)


def _report_optimize_error(
    e: OptimizeError, q: QueryDef, schema: dict[str, dict[str, str]], diags: Diagnostics
) -> None:
    msg = str(e).split(". Line:")[0]
    import re

    m = re.search(r"Column '([^']+)' could not be resolved(?: for table: '([^']+)')?", msg)
    if m:
        col_name, table = m.group(1).strip('"`'), m.group(2)
        node = next(
            (
                c
                for c in q.query.find_all(exp.Column)
                if c.name.lower() == col_name.lower()
                and (table is None or c.table.lower() == table.lower())
            ),
            None,
        )
        available = sorted(
            {c for cols in schema.values() for c in t.cast(dict, cols) if c not in WINDOW_FUNCTIONS}
        )
        sides = _sides_with(node, col_name, schema) if node is not None and not table else []
        if len(sides) > 1:  # qualify says "could not be resolved" of an ambiguous column too
            diags.error(
                f"column '{col_name}' is ambiguous: {', '.join(f'{s}.{col_name}' for s in sides)}",
                q.stmt.locate(t.cast(exp.Column, node)),
                f"qualify it with the stream's name or alias, e.g. {sides[-1]}.{col_name}"
                if len(set(sides)) == len(sides)
                else f"give each stream an alias (FROM {sides[0]} a JOIN {sides[0]} b ...) and "
                f"qualify it: a.{col_name}",
            )
            return
        where = f" in {', '.join(sorted(schema))}" if schema else ""
        if table:
            message = f"unknown column '{table}.{col_name}'"
        else:
            message = f"unknown column '{col_name}'{where}"
        hint = _did_you_mean(col_name, available) or (
            f"the columns are: {', '.join(available)}" if available else None
        )
        diags.error(
            message, q.stmt.locate(node) if node is not None else q.stmt.locate(q.query), hint
        )
        return
    m = re.search(r"Ambiguous column '([^']+)'|Column '([^']+)' is ambiguous", msg)
    if m:
        col_name = (m.group(1) or m.group(2)).strip('"`')
        node = next(
            (c for c in q.query.find_all(exp.Column) if c.name.lower() == col_name.lower()), None
        )
        diags.error(
            f"column '{col_name}' is ambiguous",
            q.stmt.locate(node) if node is not None else q.stmt.locate(q.query),
            "qualify it with the stream's name or alias, e.g. o." + col_name,
        )
        return
    diags.error(f"cannot resolve this query: {msg}", q.stmt.locate(q.query), None)


def _sides_with(node: exp.Expr, name: str, schema: dict[str, dict[str, str]]) -> list[str]:
    """The streams (by alias) of ``node``'s FROM and JOINs that have a column ``name``."""
    select = node.find_ancestor(exp.Select)
    from_ = select.args.get("from_") if select is not None else None
    if select is None or from_ is None:
        return []
    relations = [from_.this, *(j.this for j in select.args.get("joins") or [])]
    return [
        r.alias_or_name
        for r in relations
        if isinstance(r, exp.Table)
        and name.lower() in {c.lower() for c in schema.get(r.name.lower(), schema.get(r.name, {}))}
    ]


def _did_you_mean(name: str, candidates: t.Sequence[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean '{lowered[close[0]]}'?" if close else None


did_you_mean = _did_you_mean
