"""``sqlstream test``: YAML unit tests of a query, run on Spark in batch.

A test file is a list of tests. Each names one query (a sink's query name) or one derived stream,
gives rows for the streams it reads and lists the rows it must produce::

    - name: spend is summed per user and 5-minute window
      query: spend_1
      given:
        transactions:
          - {user_id: u1, action: purchase, amount: 10.5, event_time: "2026-11-27 10:01:00"}
      expect:
        - {user_id: u1, total_spent: 10.5, window_end: "2026-11-27 10:05:00"}

Two stages, as in the compiler. ``load_tests`` reads and checks the files against the compiled
project, with no JVM: every mistake is a ``UserError`` located in the test file. ``run_tests``
executes each test on a SparkSession in batch: each given stream becomes a temporary view of
DataFrame rows with its declared types (a Kafka source's every column, value, key, header and
metadata alike), the derived streams the query needs are created from their SQL in the plan, the
query's SELECT runs with ``spark.sql``, and its rows are compared with the expected ones as a
multiset. Decoding, watermarks and the Kafka sink are not involved: a test is about the SQL.

Values are compared through Spark's own JSON form of both sides (``to_json``, in the session's
time zone, which is UTC), so a timestamp written as ``"2026-11-27 10:05:00"`` equals the one the
query produced, whatever the type's Python form. Doubles are compared to 12 significant digits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
import math
import os
import re
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sqlstream.compiler.lower import quote_ident, sql_string
from sqlstream.compiler.plan import Plan, SinkPlan, SourcePlan, TablePlan, ViewPlan
from sqlstream.errors import Diagnostics, Location, UserError, UserErrors
from sqlstream.project.config import YamlDoc, check_keys, read_yaml, yaml_entry

if t.TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from sqlstream.compiler.facade import Compiled

__all__ = [
    "Input",
    "Row",
    "TestResult",
    "UnitTest",
    "discover_test_files",
    "format_result",
    "load_tests",
    "run_tests",
    "session",
    "sql_value",
]

TEST_KEYS = ("name", "query", "stream", "given", "expect", "description")
UNKNOWN_TYPE = "UNKNOWN"
FLOAT_DIGITS = 12
"""Significant digits to which doubles are compared: a sum may differ in its last bits."""
SESSION_TIME_ZONE = "UTC"
_COMPLEX_TYPE = re.compile(r"^\s*(ARRAY|MAP|STRUCT)\s*<", re.IGNORECASE)
_JSON_TIMESTAMP = re.compile(
    r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.0+|(\.\d*?)0*)?(Z|[+-]\d\d:\d\d)?$"
)


# --------------------------------------------------------------------------------------------
# What a test is
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One row of a test file: column (as the stream or query spells it) -> YAML value."""

    values: dict[str, t.Any]
    location: Location
    value_locations: dict[str, Location] = field(default_factory=dict)


@dataclass
class Input:
    """A stream the test provides: given rows, or no rows when the test gives none."""

    name: str
    """The stream's name (lower case, as views are registered)."""
    columns: list[tuple[str, str]]
    """(name, Spark SQL type): every column of the stream, in declared order."""
    rows: list[Row]
    given: bool
    location: Location | None = None


@dataclass
class UnitTest:
    """A test, resolved against the plan: everything its run needs, as plain data."""

    name: str
    file: str
    location: Location
    kind: t.Literal["query", "stream"]
    target: str
    sql: str
    """The SELECT under test (a sink's SELECT, or a derived stream's)."""
    output: list[str]
    """The SELECT's output columns, as the plan names them."""
    inputs: list[Input]
    views: list[ViewPlan]
    """Derived streams to create from their SQL, in dependency order (given ones excluded)."""
    expect: list[Row]


@dataclass
class TestResult:
    test: UnitTest
    passed: bool
    columns: list[str] = field(default_factory=list)
    """The columns compared (and shown)."""
    missing: list[Row] = field(default_factory=list)
    """Expected rows the query did not produce."""
    unexpected: list[dict[str, t.Any]] = field(default_factory=list)
    """Rows the query produced and no expected row matched (JSON values, by column)."""
    actual_count: int = 0
    failure: str | None = None
    """Spark's reason when the query could not run."""
    errors: list[UserError] = field(default_factory=list)
    """Mistakes in the test file found when running (a value that is not of its column's type)."""


# --------------------------------------------------------------------------------------------
# Loading and checking (no JVM)
# --------------------------------------------------------------------------------------------


def discover_test_files(
    test_paths: t.Sequence[Path], paths: t.Sequence[str | Path] = ()
) -> list[Path]:
    """``*.yml`` / ``*.yaml`` under ``paths`` (files taken as they are), else the test paths."""
    found: list[Path] = []
    for p in paths or test_paths:
        path = Path(p)
        if path.is_file():
            if path.suffix not in (".yml", ".yaml"):
                raise UserError(f"{p} is not a test file", hint="test files end in .yml")
            found.append(Path(os.path.abspath(path)))
        elif path.is_dir():
            base = Path(os.path.abspath(path))
            found.extend(
                sorted(
                    f
                    for f in base.rglob("*")
                    if f.suffix in (".yml", ".yaml")
                    and f.is_file()
                    and not any(part.startswith(".") for part in f.relative_to(base).parts)
                )
            )
        elif paths:
            raise UserError(
                f"no such file or directory: {p}", hint="pass test files (.yml) or directories"
            )
    return list(dict.fromkeys(found))


def load_tests(
    compiled: Compiled,
    paths: t.Sequence[str | Path] = (),
    select: t.Sequence[str] = (),
) -> list[UnitTest]:
    """Every test of the project (or of ``paths``), checked; raise ``UserErrors`` with all mistakes.

    ``select`` keeps the tests of matching queries: a query name, a stream the test's target
    reads or is, a query file, or a test file (or directory).
    """
    files = discover_test_files(compiled.project.test_paths, paths)
    plan = compiled.full_plan or compiled.plan
    resolver = _Resolver(compiled, plan)
    diags = Diagnostics()
    tests: list[UnitTest] = []
    for path in files:
        tests.extend(load_test_file(path, resolver, diags))
    diags.raise_if_any()
    if select:
        tests = [x for x in tests if _selected(x, select, resolver)]
    return tests


def load_test_file(path: Path, resolver: _Resolver, diags: Diagnostics) -> list[UnitTest]:
    try:
        doc = read_yaml(path)
    except UserError as e:
        diags.add(e)
        return []
    if doc.data is None:
        return []
    if not isinstance(doc.data, list) or not isinstance(doc.node, yaml.SequenceNode):
        diags.error(
            "a test file holds a list of tests",
            doc.loc(doc.node),
            "start each test with '- name: ...' (see docs/language.md, Unit tests)",
        )
        return []
    tests: list[UnitTest] = []
    names: dict[str, Location] = {}
    for item, node in zip(doc.data, doc.node.value):
        test = None
        with diags.collecting():
            test = _load_test(doc, item, node, resolver)
        if test is None:
            continue
        if test.name in names:
            diags.error(
                f"two tests are named '{test.name}' in this file",
                test.location,
                f"the other is at {names[test.name]}; give each test its own name",
            )
            continue
        names[test.name] = test.location
        tests.append(test)
    return tests


class _Resolver:
    """The project as the tests see it: queries, derived streams, sources and what each reads."""

    def __init__(self, compiled: Compiled, plan: Plan) -> None:
        self.plan = plan
        self.analysis = compiled.analysis
        self.sinks: dict[str, SinkPlan] = {s.name: s for s in plan.sinks}
        self.views: dict[str, ViewPlan] = {v.name: v for v in plan.views}
        # A table is given rows as a Kafka source is: a test sees the table as one state.
        self.sources: dict[str, SourcePlan | TablePlan] = {s.name: s for s in plan.sources}
        self.sources.update({tb.name: tb for tb in plan.tables})
        self._sink_reads: dict[str, list[str]] = {}
        for q in self.analysis.sinks:
            where = (q.stmt.file.path, q.stmt.locate().line)
            for s in plan.sinks:
                if (s.file, s.line) == where:
                    self._sink_reads[s.name] = list(q.reads)

    def sink(self, name: str) -> SinkPlan | None:
        if name in self.sinks:
            return self.sinks[name]
        return next((s for n, s in self.sinks.items() if n.lower() == name.lower()), None)

    def reads(self, name: str, kind: t.Literal["query", "stream"] = "stream") -> list[str]:
        """The streams a query (by query name) or a derived stream reads directly."""
        if kind == "query":
            return self._sink_reads.get(name, [])
        view = self.analysis.view(name)
        return list(view.reads) if view else []

    def upstream(self, reads: t.Iterable[str]) -> list[str]:
        reads = list(reads)
        sources, views = self.analysis.upstream(reads)
        return [*sources, *views, *self.analysis.tables_read(reads)]

    def columns(self, stream: str) -> list[tuple[str, str]]:
        if stream in self.sources:
            return [(c.name, c.type) for c in self.sources[stream].columns]
        return [(f.name, f.type) for f in self.views[stream].fields]


def _load_test(doc: YamlDoc, data: t.Any, node: yaml.Node, resolver: _Resolver) -> UnitTest:
    """One test, resolved: its target first (a mistake there stops it), then every mistake in
    given and expect at once."""
    name = _test_name(doc, data, node)
    here = doc.loc(node, 1)
    assert here is not None
    target = _test_target(doc, data, node, name, here, resolver)
    reads = resolver.reads(target.name, target.kind)
    errors: list[UserError] = []
    given_rows = _given_rows(doc, data, node, target, resolver.upstream(reads), resolver, errors)
    inputs, needed_views = _inputs(reads, given_rows, resolver, errors)
    expect = _expect_rows(doc, data, node, name, here, target, errors)
    if errors:
        raise UserErrors(errors)
    views = [v for v in resolver.plan.views if v.name in needed_views]
    return UnitTest(
        name=name,
        file=doc.shown,
        location=here,
        kind=target.kind,
        target=target.name,
        sql=target.sql,
        output=target.output,
        inputs=inputs,
        views=views,
        expect=expect,
    )


def _test_name(doc: YamlDoc, data: t.Any, node: yaml.Node) -> str:
    """The test's name, once the test is known to be a mapping of known keys."""
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise UserError(
            "a test is a mapping with name, query (or stream), given and expect",
            doc.loc(node),
            "e.g. - name: ...\n        query: spend_1\n        given: {transactions: [...]}\n"
            "        expect: [...]",
        )
    check_keys(doc, data, node, TEST_KEYS, "a test")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UserError(
            "a test needs a name" if name is None else "a test's name must be a string",
            doc.loc(yaml_entry(node, "name")[1] or node, 1),
            "add `name: what the test shows`",
        )
    return name.strip()


@dataclass
class _Target:
    """What a test checks: a query (a sink's SELECT) or a derived stream's SELECT."""

    kind: t.Literal["query", "stream"]
    name: str
    sql: str
    output: list[str]

    @property
    def what(self) -> str:
        return f"{self.kind} {self.name}"


def _test_target(
    doc: YamlDoc, data: dict, node: yaml.Node, name: str, here: Location, resolver: _Resolver
) -> _Target:
    """The test's query or derived stream, looked up in the plan."""
    if "query" in data and "stream" in data:
        raise UserError(
            "a test has both query and stream",
            doc.loc(yaml_entry(node, "stream")[0]),
            "a test checks one query (query: spend_1) or one derived stream (stream: name)",
        )
    if "query" not in data and "stream" not in data:
        raise UserError(
            f"test '{name}' names no query",
            here,
            "add `query: <query name>` (e.g. spend_1) or `stream: <derived stream name>`",
        )
    kind: t.Literal["query", "stream"] = "query" if "query" in data else "stream"
    target_node = yaml_entry(node, kind)[1]
    written = data[kind]
    if not isinstance(written, str) or not written.strip():
        raise UserError(f"{kind} must be a name", doc.loc(target_node or node))
    return _TARGET_LOOKUP[kind](doc, written.strip(), target_node, resolver)


def _query_target(
    doc: YamlDoc, written: str, target_node: yaml.Node | None, resolver: _Resolver
) -> _Target:
    sink = resolver.sink(written)
    if sink is None:
        raise UserError(
            f"no query named '{written}'", doc.loc(target_node), _query_hint(written, resolver)
        )
    return _Target("query", sink.name, sink.sql, [f.name for f in sink.fields])


def _stream_target(
    doc: YamlDoc, written: str, target_node: yaml.Node | None, resolver: _Resolver
) -> _Target:
    target = written.lower()
    view = resolver.views.get(target)
    if view is None:
        raise UserError(
            f"no derived stream named '{written}'",
            doc.loc(target_node),
            _stream_hint(target, resolver),
        )
    return _Target("stream", target, view.sql, [f.name for f in view.fields])


_TARGET_LOOKUP: dict[str, t.Callable[[YamlDoc, str, t.Any, _Resolver], _Target]] = {
    "query": _query_target,
    "stream": _stream_target,
}
"""How each kind of test target is found in the plan, by the key that names it."""


def _given_rows(
    doc: YamlDoc,
    data: dict,
    node: yaml.Node,
    target: _Target,
    upstream: list[str],
    resolver: _Resolver,
    errors: list[UserError],
) -> dict[str, tuple[list[Row], Location | None]]:
    """given: rows per stream the target reads (directly or not); mistakes go to ``errors``."""
    given_node = yaml_entry(node, "given")[1]
    given = data.get("given")
    if given is None:
        given = {}
    if not isinstance(given, dict) or (given and not isinstance(given_node, yaml.MappingNode)):
        raise UserError(
            "given must map stream names to lists of rows",
            doc.loc(given_node or node),
            "e.g. given:\n          transactions:\n            - {user_id: u1, amount: 10}",
        )
    check_keys(doc, {}, given_node, (), "given")  # repeated stream names
    given_rows: dict[str, tuple[list[Row], Location | None]] = {}
    for key, rows in given.items():
        knode, vnode = yaml_entry(given_node, str(key))
        stream = str(key).lower()
        if stream not in upstream:
            hint = _did_you_mean(str(key), upstream)
            reads_text = ", ".join(upstream) or "no stream"
            errors.append(
                UserError(
                    f"{target.what} does not read '{key}'",
                    doc.loc(knode),
                    (f"did you mean '{hint}'? " if hint else "") + f"it reads {reads_text}",
                )
            )
            continue
        try:
            parsed = _rows(doc, rows, vnode or knode, resolver.columns(stream), f"stream {stream}")
        except UserErrors as e:
            errors.extend(e.errors)
            continue
        given_rows[stream] = (parsed, doc.loc(knode))
    return given_rows


def _inputs(
    reads: list[str],
    given_rows: dict[str, tuple[list[Row], Location | None]],
    resolver: _Resolver,
    errors: list[UserError],
) -> tuple[list[Input], set[str]]:
    """The streams the test provides and the derived streams it must create.

    Walk from what the target reads; a given stream stands for itself (its upstream unused), so
    rows given for a stream behind another given one are a mistake (in ``errors``).
    """
    inputs: list[Input] = []
    needed_views: set[str] = set()
    reached: set[str] = set()
    stack = list(reads)
    while stack:
        stream = stack.pop()
        if stream in reached:
            continue
        reached.add(stream)
        if stream in given_rows:
            continue
        if stream in resolver.sources:
            continue
        needed_views.add(stream)
        stack.extend(resolver.reads(stream))
    for stream in given_rows:
        if stream not in reached:
            covering = sorted(
                g for g in given_rows if g != stream and stream in resolver.upstream([g])
            )
            errors.append(
                UserError(
                    f"the rows given for '{stream}' are not used",
                    given_rows[stream][1],
                    f"'{covering[0] if covering else '?'}' is given too, and its rows stand for "
                    f"everything it reads; drop one of them",
                )
            )
    for stream in sorted(reached):
        if stream in given_rows:
            rows, loc = given_rows[stream]
            inputs.append(Input(stream, resolver.columns(stream), rows, True, loc))
        elif stream in resolver.sources:
            inputs.append(Input(stream, resolver.columns(stream), [], False))
    return inputs, needed_views


def _expect_rows(
    doc: YamlDoc,
    data: dict,
    node: yaml.Node,
    name: str,
    here: Location,
    target: _Target,
    errors: list[UserError],
) -> list[Row]:
    """expect: the rows the target produces; mistakes go to ``errors``."""
    expect_node = yaml_entry(node, "expect")[1]
    if "expect" not in data:
        errors.append(
            UserError(
                f"test '{name}' has no expect",
                here,
                "list the rows the query produces under `expect:` (`expect: []` for none)",
            )
        )
        return []
    try:
        return _rows(
            doc,
            data["expect"],
            expect_node,
            [(c, UNKNOWN_TYPE) for c in target.output],
            f"the output of {target.what}",
        )
    except UserErrors as e:
        errors.extend(e.errors)
        return []


def _rows(
    doc: YamlDoc,
    value: t.Any,
    node: yaml.Node | None,
    columns: list[tuple[str, str]],
    what: str,
) -> list[Row]:
    """Rows as written, their columns checked against ``columns`` (case-insensitive)."""
    if value is None:
        return []
    if not isinstance(value, list) or not isinstance(node, yaml.SequenceNode):
        raise UserErrors(
            [
                UserError(
                    f"rows of {what} must be a list",
                    doc.loc(node),
                    "one row per line: - {column: value, ...}",
                )
            ]
        )
    by_lower = {name.lower(): (name, type_) for name, type_ in columns}
    errors: list[UserError] = []
    rows: list[Row] = []
    for item, inode in zip(value, node.value):
        loc = doc.loc(inode, 1)
        assert loc is not None
        if not isinstance(item, dict) or not isinstance(inode, yaml.MappingNode):
            errors.append(
                UserError(
                    f"a row of {what} must be a mapping of columns to values",
                    loc,
                    "e.g. - {user_id: u1, amount: 10.5}",
                )
            )
            continue
        try:
            check_keys(doc, {}, inode, (), "a row")  # repeated columns
        except UserError as e:
            errors.append(e)
            continue
        values: dict[str, t.Any] = {}
        locs: dict[str, Location] = {}
        for key, cell in item.items():
            knode, vnode = yaml_entry(inode, str(key))
            column = by_lower.get(str(key).lower())
            if column is None:
                close = _did_you_mean(str(key), [c for c, _ in columns])
                errors.append(
                    UserError(
                        f"{what} has no column '{key}'",
                        doc.loc(knode or inode),
                        (f"did you mean '{close}'? " if close else "")
                        + "its columns: "
                        + ", ".join(c for c, _ in columns),
                    )
                )
                continue
            cell_loc = doc.loc(vnode or knode or inode)
            assert cell_loc is not None
            problem = _value_problem(cell, column[1])
            if problem:
                errors.append(
                    UserError(f"column '{column[0]}': {problem}", cell_loc, _type_hint(column[1]))
                )
                continue
            values[column[0]] = cell
            locs[column[0]] = cell_loc
        rows.append(Row(values, loc, locs))
    if errors:
        raise UserErrors(errors)
    return rows


def _value_problem(value: t.Any, type_: str) -> str | None:
    """What is wrong with a YAML value for a column of ``type_`` that Python can tell."""
    if type_ == UNKNOWN_TYPE or value is None:
        return None
    complex_ = bool(_COMPLEX_TYPE.match(type_))
    if isinstance(value, (list, dict)) and not complex_:
        kind = "list" if isinstance(value, list) else "mapping"
        return f"a {kind} is not a {_type_name(type_)}"
    if complex_ and not isinstance(value, (list, dict)):
        return f"a {_type_name(type_)} is written as a YAML list or mapping"
    return None


def _type_name(type_: str) -> str:
    """Spark's ``simpleString`` (``bigint``) as the docs write types (``BIGINT``)."""
    return type_ if _COMPLEX_TYPE.match(type_) else type_.upper()


def _type_hint(type_: str) -> str:
    name = _type_name(type_)
    if _COMPLEX_TYPE.match(type_):
        return f"write the {name} as a YAML list or mapping, e.g. [a, b] or {{key: value}}"
    if name in ("TIMESTAMP", "TIMESTAMP_NTZ", "DATE"):
        return 'write a timestamp as a string in UTC, e.g. "2026-11-27 10:01:00"'
    return f"write a single {name} value"


def _did_you_mean(name: str, candidates: t.Sequence[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def _query_hint(name: str, resolver: _Resolver) -> str:
    if name.lower() in resolver.views:
        return f"'{name}' is a derived stream: write `stream: {name}`"
    if name.lower() in resolver.sources:
        return (
            f"'{name}' is a Kafka source; a test checks a query or a derived stream that reads it"
        )
    close = _did_you_mean(name, list(resolver.sinks))
    names = ", ".join(resolver.sinks) or "none"
    return (f"did you mean '{close}'? " if close else "") + f"queries: {names}"


def _stream_hint(name: str, resolver: _Resolver) -> str:
    sink = resolver.sink(name)
    if sink is not None:
        return f"'{sink.name}' is a query: write `query: {sink.name}`"
    if name in resolver.sources:
        return (
            f"'{name}' is a Kafka source; a test checks a query or a derived stream that reads it"
        )
    close = _did_you_mean(name, list(resolver.views))
    names = ", ".join(resolver.views) or "none"
    return (f"did you mean '{close}'? " if close else "") + f"derived streams: {names}"


def _selected(test: UnitTest, select: t.Sequence[str], resolver: _Resolver) -> bool:
    from sqlstream.compiler.facade import matches

    for s in select:
        if s == test.target or s.lower() == test.target:
            return True
        if s.lower() in {i.name for i in test.inputs} or s.lower() in {v.name for v in test.views}:
            return True
        given = Path(os.path.abspath(s.rstrip("/")))
        test_file = Path(os.path.abspath(test.file))
        if test_file == given or test_file.is_relative_to(given):
            return True
    if test.kind == "query":
        return matches(resolver.sinks[test.target], select)
    view = resolver.views[test.target]
    return any(
        Path(os.path.abspath(view.file)).is_relative_to(Path(os.path.abspath(s.rstrip("/"))))
        for s in select
    )


# --------------------------------------------------------------------------------------------
# Values as Spark SQL (pure text)
# --------------------------------------------------------------------------------------------


def sql_value(value: t.Any, type_: str) -> str:
    """A Spark SQL expression giving ``value`` (from YAML) as a value of ``type_``.

    Scalars are cast from their literal (a string to a TIMESTAMP is read in the session time
    zone; a string to BINARY is its UTF-8 bytes); lists and mappings of a complex type are read
    with ``from_json``. An unknown type leaves the literal as it is.
    """
    known = type_ != UNKNOWN_TYPE
    if value is None:
        return f"CAST(NULL AS {type_})" if known else "NULL"
    if isinstance(value, (list, dict)):
        text = json.dumps(value, default=_json_default, ensure_ascii=False)
        if not known:
            raise ValueError("a list or mapping needs a known type")
        return f"from_json({sql_string(text)}, {sql_string(type_)})"
    literal = _literal(value)
    return f"CAST({literal} AS {type_})" if known else literal


def _literal(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return sql_string(str(value).replace("inf", "Infinity").replace("nan", "NaN"))
        return f"{value!r}D"
    if isinstance(value, (dt.datetime, dt.date)):
        return sql_string(_json_default(value))
    return sql_string(str(value))


def _json_default(value: t.Any) -> str:
    """YAML's own timestamps (unquoted ``2026-11-27 10:01:00``) as text, in UTC."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def rows_sql(columns: t.Sequence[tuple[str, str]], rows: t.Sequence[t.Mapping[str, t.Any]]) -> str:
    """A batch SELECT of ``rows`` with ``columns`` (name, type); a column a row lacks is null."""
    names = ", ".join(quote_ident(n) for n, _ in columns)
    if not rows:
        cells = ", ".join(f"{sql_value(None, ty)} AS {quote_ident(n)}" for n, ty in columns)
        return f"SELECT {cells} WHERE false"
    tuples = ", ".join(
        "(" + ", ".join(sql_value(row.get(n), ty) for n, ty in columns) + ")" for row in rows
    )
    return f"SELECT * FROM VALUES {tuples} AS t({names})"


# --------------------------------------------------------------------------------------------
# Running (pyspark, imported inside)
# --------------------------------------------------------------------------------------------


def session(compiled: Compiled) -> SparkSession:
    """A session for the target's Spark (local, cluster or Spark Connect) in UTC, no Kafka jars."""
    from sqlstream.spark import runtime

    conn = compiled.connection()
    conn = dataclasses.replace(
        conn, spark_conf={**conn.spark_conf, "spark.sql.session.timeZone": SESSION_TIME_ZONE}
    )
    return runtime.session(conn, f"sqlstream-test-{compiled.project.name}", kafka=False)


def run_tests(
    tests: t.Sequence[UnitTest],
    spark: SparkSession,
    settings: t.Mapping[str, str] | None = None,
    on_result: t.Callable[[TestResult], None] | None = None,
) -> list[TestResult]:
    """Run every test on ``spark`` in batch; the session's time zone is UTC while they run.

    ``settings``: the project's ``SET`` confs, applied for the run. Confs changed here are put
    back afterwards, and every temporary view a test creates is dropped, so an existing session
    (a notebook's, a test suite's) is left as it was.
    """
    confs = {**dict(settings or {}), "spark.sql.session.timeZone": SESSION_TIME_ZONE}
    saved = {k: _get_conf(spark, k) for k in confs}
    results: list[TestResult] = []
    try:
        for key, value in confs.items():
            spark.conf.set(key, value)
        for test in tests:
            result = run_test(test, spark)
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        for key, old in saved.items():
            try:
                if old is None:
                    spark.conf.unset(key)
                else:
                    spark.conf.set(key, old)
            except Exception:  # noqa: BLE001, S110 - a static conf; nothing to put back
                pass
    return results


def _get_conf(spark: SparkSession, key: str) -> str | None:
    try:
        return t.cast("str | None", spark.conf.get(key, None))
    except Exception:  # noqa: BLE001 - not set and no default
        return None


def run_test(test: UnitTest, spark: SparkSession) -> TestResult:
    """One test: its inputs as temporary views, its views, its SELECT, the comparison."""
    from sqlstream.spark.runtime import reason

    created: list[str] = []
    try:
        errors = _check_values(
            spark, [(inp.columns, row) for inp in test.inputs for row in inp.rows]
        )
        if errors:
            return TestResult(test, False, errors=errors)
        try:
            for inp in test.inputs:
                spark.sql(
                    rows_sql(inp.columns, [r.values for r in inp.rows])
                ).createOrReplaceTempView(inp.name)
                created.append(inp.name)
            for view in test.views:
                spark.sql(view.sql).createOrReplaceTempView(view.name)
                created.append(view.name)
            out = spark.sql(test.sql)
            out_columns = [(f.name, f.dataType.simpleString()) for f in out.schema.fields]
        except Exception as exc:  # noqa: BLE001 - AnalysisException, ParseException, Py4J...
            return TestResult(test, False, failure=reason(exc))
        errors = _check_values(spark, [(out_columns, row) for row in test.expect])
        if errors:
            return TestResult(test, False, errors=errors)
        try:
            return _compare(test, spark, out, out_columns)
        except Exception as exc:  # noqa: BLE001 - a run-time error of the query
            return TestResult(test, False, failure=reason(exc))
    finally:
        for name in reversed(created):
            try:
                spark.catalog.dropTempView(name)
            except Exception:  # noqa: BLE001, S110 - best effort
                pass


def _typed(columns: t.Sequence[tuple[str, str]], row: Row) -> dict[str, str]:
    """The Spark type of each value of ``row`` (row columns may differ in case from Spark's)."""
    by_lower = {n.lower(): ty for n, ty in columns}
    return {k: by_lower.get(k.lower(), UNKNOWN_TYPE) for k in row.values}


def _check_values(
    spark: SparkSession, rows: t.Sequence[tuple[t.Sequence[tuple[str, str]], Row]]
) -> list[UserError]:
    """Every value that cannot be read as its column's type, located in the test file.

    One query checks all of them (``try_cast`` is null where a cast fails); when that query
    itself is refused (a cast Spark does not allow at all), each value is tried on its own.
    """
    errors: list[UserError] = []
    checks: list[tuple[str, Row, str, str]] = []  # (sql, row, column, type)
    for columns, row in rows:
        for column, type_ in _typed(columns, row).items():
            value = row.values[column]
            if value is None or type_ == UNKNOWN_TYPE:
                continue
            problem = _value_problem(value, type_)
            if problem:
                errors.append(
                    UserError(
                        f"column '{column}': {problem}",
                        row.value_locations.get(column, row.location),
                        _type_hint(type_),
                    )
                )
                continue
            if isinstance(value, (list, dict)):
                expr = sql_value(value, type_)
            else:
                if type_.upper() == "STRING":
                    continue
                expr = f"try_cast({_literal(value)} AS {type_})"
            checks.append((f"({expr}) IS NULL", row, column, type_))
    if not checks:
        return errors
    try:
        flags = spark.sql(
            "SELECT " + ", ".join(f"{c} AS c{i}" for i, (c, *_) in enumerate(checks))
        ).collect()[0]
        bad = [check for check, flag in zip(checks, flags) if flag]
    except Exception:  # noqa: BLE001 - find the culprit one by one
        bad = []
        for check in checks:
            try:
                if spark.sql(f"SELECT {check[0]}").collect()[0][0]:
                    bad.append(check)
            except Exception:  # noqa: BLE001
                bad.append(check)
    return errors + [
        UserError(
            f"column '{column}': {_show(row.values[column])} is not a {_type_name(type_)}",
            row.value_locations.get(column, row.location),
            _type_hint(type_),
        )
        for _, row, column, type_ in bad
    ]


def _json_expr(columns: t.Sequence[str]) -> str:
    pairs = ", ".join(f"{sql_string(c)}, {quote_ident(c)}" for c in columns)
    return f"to_json(named_struct({pairs}), map('ignoreNullFields', 'false'))"


def _compare(
    test: UnitTest, spark: SparkSession, out: DataFrame, out_columns: list[tuple[str, str]]
) -> TestResult:
    by_lower = {n.lower(): n for n, _ in out_columns}
    listed: list[str] = []
    for row in test.expect:
        for key in row.values:
            name = by_lower.get(key.lower())
            if name is not None and name not in listed:
                listed.append(name)
    shown = listed or [n for n, _ in out_columns]
    order = {n: i for i, (n, _) in enumerate(out_columns)}
    shown.sort(key=lambda n: order[n])
    # Expected rows keyed by Spark's column names; typed and read back through Spark.
    expect_rows = [
        {by_lower[k.lower()]: v for k, v in row.values.items() if k.lower() in by_lower}
        for row in test.expect
    ]
    actual = [json.loads(r[0]) for r in out.selectExpr(_json_expr(shown)).collect()]
    expected: list[dict[str, t.Any]] = []
    if expect_rows and listed:
        types = [(n, ty) for n, ty in out_columns if n in shown]
        frame = spark.sql(rows_sql(types, expect_rows))
        expected = [json.loads(r[0]) for r in frame.selectExpr(_json_expr(shown)).collect()]
    elif expect_rows:
        expected = [{} for _ in expect_rows]
    # Match each expected row (most specific first) with an unused actual row.
    used = [False] * len(actual)
    missing: list[Row] = []
    order_rows = sorted(range(len(test.expect)), key=lambda i: -len(expect_rows[i]))
    for i in order_rows:
        want = {k: _norm(expected[i].get(k)) for k in expect_rows[i]}
        for j, row in enumerate(actual):
            if not used[j] and all(_norm(row.get(k)) == v for k, v in want.items()):
                used[j] = True
                break
        else:
            missing.append(test.expect[i])
    missing.sort(key=lambda r: (r.location.line, r.location.col))
    unexpected = [row for j, row in enumerate(actual) if not used[j]]
    return TestResult(
        test,
        passed=not missing and not unexpected,
        columns=shown,
        missing=missing,
        unexpected=unexpected,
        actual_count=len(actual),
    )


def _norm(value: t.Any) -> t.Any:
    if isinstance(value, float):
        return float(f"{value:.{FLOAT_DIGITS}g}")
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _show(value: t.Any) -> str:
    """A value as a YAML flow scalar a user could paste into a test file."""
    if isinstance(value, str):
        m = _JSON_TIMESTAMP.match(value)
        if m:
            date, time, frac, zone = m.groups()
            zone = "" if zone in (None, "Z", "+00:00") else zone
            value = f"{date} {time}{frac or ''}{zone}"
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (dt.datetime, dt.date)):
        return json.dumps(_json_default(value))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _show_row(values: t.Mapping[str, t.Any], columns: t.Sequence[str]) -> str:
    by_lower = {k.lower(): k for k in values}
    cells = [f"{c}: {_show(values[by_lower[c.lower()]])}" for c in columns if c.lower() in by_lower]
    return "{" + ", ".join(cells) + "}"


def format_result(result: TestResult) -> str:
    """``PASS name``, or ``FAIL name`` with the missing and unexpected rows."""
    test = result.test
    head = f"{test.name} ({test.file}:{test.location.line}, {test.kind} {test.target})"
    if result.passed:
        return f"PASS {head}"
    if result.errors:
        return f"ERROR {head}: a value in the test file is not of its column's type"
    lines = [f"FAIL {head}"]
    if result.failure is not None:
        lines.append("  the query failed on Spark:")
        lines += [f"    {ln}" for ln in result.failure.splitlines()]
        return "\n".join(lines)
    n_expected = len(test.expect)
    lines.append(
        f"  expected {n_expected} row{'s' if n_expected != 1 else ''}, got {result.actual_count}"
        + (f"; compared columns: {', '.join(result.columns)}" if result.columns else "")
    )
    if result.missing:
        lines.append("  missing (expected, not produced):")
        for row in result.missing:
            lines.append(
                f"    - {_show_row(row.values, result.columns)}    # line {row.location.line}"
            )
    if result.unexpected:
        lines.append("  unexpected (produced, not expected):")
        for values in result.unexpected:
            lines.append(f"    + {_show_row(values, result.columns)}")
    return "\n".join(lines)


def summary(results: t.Sequence[TestResult]) -> str:
    passed = sum(r.passed for r in results)
    errors = sum(bool(r.errors) for r in results)
    failed = len(results) - passed - errors
    parts = [f"{passed} passed", f"{failed} failed"]
    if errors:
        parts.append(f"{errors} with mistakes in the test file")
    return ", ".join(parts)
