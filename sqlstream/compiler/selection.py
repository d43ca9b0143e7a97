"""What a selection (PATHS, ``--select``) answers for, and which errors are someone else's.

``validate queries/a.sql`` answers for a.sql: its statements and everything they read, in
whatever file that is defined. An error elsewhere in the project is reported in one line, but
does not refuse the command: a broken file blocks only what depends on it.

What a selection depends on (its *scope*):

- the statements it picked (every statement of a selected file; with ``--select``, the queries
  it names and every statement of a file it names);
- the sources and derived streams those read, transitively (``Analysis.upstream``);
- every other definition of a name in scope (stream names are project-wide: a name defined
  twice is as ambiguous for the selection as for the project), and every query that shares a
  selected query's name (their checkpoints would collide);
- every SET (settings apply to every query of a run);
- the syntax errors of the files it picked (what a statement that does not parse held cannot be
  known).

A statement that does not parse, in a file outside the scope, is a warning like any other, with
one exception: a selection that reads a stream no statement defines gets "unknown stream" with
a hint naming each broken file that mentions that name. What cannot be parsed cannot be checked
for a duplicate definition either: ``validate`` of the whole project refuses any error, and CI
runs it.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from pathlib import Path, PurePath

from sqlstream.compiler.analyse import Analysis, QueryDef
from sqlstream.compiler.parse import Statement
from sqlstream.compiler.plan import Plan, SinkPlan
from sqlstream.compiler.syntax import nodes as n
from sqlstream.errors import UserError, UserErrors

NO_MATCH_HINT = (
    "select by file path (queries/spend.sql), query name (spend_1) or stream name (orders)"
)


@dataclass(frozen=True)
class Broken:
    """A file whose render or parse failed: some of what it defines is unknown."""

    path: str
    text: str
    """What the user wrote (searched for the names a selection misses)."""
    errors: list[UserError]


def _queries(analysis: Analysis) -> dict[int, QueryDef]:
    """Statement (by identity) -> its query: derived streams, sinks and bare SELECTs."""
    return {id(q.stmt): q for q in [*analysis.views, *analysis.sinks, *analysis.selects]}


def sink_names(analysis: Analysis, plan: Plan) -> dict[int, str]:
    """Statement (by identity) -> the query's name, also for a query the planner refused:
    ``WITH (name = ...)`` or ``<file stem>_<n>``, as the planner names it."""
    planned = {(s.file, s.line): s.name for s in plan.sinks}
    names: dict[int, str] = {}
    per_file: dict[str, int] = {}
    for q in analysis.sinks:
        path = q.stmt.file.path
        per_file[path] = per_file.get(path, 0) + 1
        given = next(
            (o.value.text for o in t.cast(n.InsertKafka, q.node).options if o.name == "name"), None
        )
        fallback = given or f"{PurePath(path).stem}_{per_file[path]}"
        names[id(q.stmt)] = planned.get((path, q.stmt.locate().line), fallback)
    return names


def is_path_of(select: str, path: str) -> bool:
    target = Path(select.rstrip("/")).absolute()
    file = Path(path).absolute()
    return file == target or file.is_relative_to(target)


def roots(
    statements: t.Sequence[Statement],
    analysis: Analysis,
    names: dict[int, str],
    files: t.Collection[str],
    select: t.Sequence[str],
) -> list[Statement]:
    """The statements the user picked: those of ``files``, kept by ``select`` if given (a query
    by its name or a stream it reads, a stream's definition by its name, every statement of a
    file by the file's path)."""
    mine = [s for s in statements if s.file.path in files]
    if not select:
        return mine
    queries = _queries(analysis)

    def picked(stmt: Statement) -> bool:
        if any(is_path_of(s, stmt.file.path) or s.lower() == _defines(stmt) for s in select):
            return True
        q = queries.get(id(stmt))
        if q is None or id(stmt) not in names:
            return False
        sources, views = analysis.upstream(q.reads)
        read = {*sources, *views}
        return any(names[id(stmt)] == s or s.lower() in read for s in select)

    return [s for s in mine if picked(s)]


def _defines(stmt: Statement) -> str | None:
    node = stmt.node
    if isinstance(node, (n.CreateKafkaStream, n.CreateDerivedStream, n.CreateTable)):
        return node.name.text.lower()
    return None


def scope(
    picked: t.Sequence[Statement],
    statements: t.Sequence[Statement],
    analysis: Analysis,
    names: dict[int, str],
) -> set[int]:
    """The statements (by identity) that ``picked`` depends on (see the module's docstring)."""
    queries = _queries(analysis)
    reads = [r for s in picked if (q := queries.get(id(s))) is not None for r in q.reads]
    defined = {d for s in picked if (d := _defines(s))}
    sources, views = analysis.upstream([*reads, *defined])
    streams = {*sources, *views, *defined, *analysis.tables_read([*reads, *defined])}
    queried = {names[id(s)] for s in picked if id(s) in names}
    return {id(s) for s in picked} | {
        id(s)
        for s in statements
        if _defines(s) in streams
        or names.get(id(s)) in queried
        or isinstance(s.node, n.SetStatement)
    }


def _containing(error: UserError, statements: t.Sequence[Statement]) -> Statement | None:
    """The statement an error is located in (by line and column of the user's file)."""
    loc = error.location
    if loc is None:
        return None
    for s in statements:
        if s.file.path != loc.path:
            continue
        first, last = s.locate(), s.file.locate(max(s.start, s.end - 1))
        if (first.line, first.col) <= (loc.line, loc.col) <= (last.line, last.col):
            return s
    return None


def split(
    errors: t.Sequence[UserError],
    statements: t.Sequence[Statement],
    in_scope: set[int],
    broken: t.Sequence[Broken],
    picked_files: t.Collection[str],
) -> tuple[list[UserError], list[UserError]]:
    """(the selection's errors, the errors outside it). An error located in no statement (of
    the project's configuration, say) is the selection's."""
    outside_files = {id(e) for b in broken if b.path not in picked_files for e in b.errors}
    inside: list[UserError] = []
    outside: list[UserError] = []
    for error in errors:
        if id(error) in outside_files:
            outside.append(error)
            continue
        stmt = _containing(error, statements)
        (outside if stmt is not None and id(stmt) not in in_scope else inside).append(error)
    return inside, outside


def with_broken_hints(
    errors: t.Sequence[UserError], analysis: Analysis, broken: t.Sequence[Broken]
) -> list[UserError]:
    """``errors``, each "unknown stream" error with a hint naming the broken files that mention
    the stream: its definition may be in the part that did not parse."""
    if not broken:
        return list(errors)
    missing = {id(e): name for q in _queries(analysis).values() for name, e in q.unknown}
    return [_hinted(e, missing[id(e)], broken) if id(e) in missing else e for e in errors]


def _hinted(error: UserError, name: str, broken: t.Sequence[Broken]) -> UserError:
    word = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])", re.IGNORECASE)
    suspects = [b for b in broken if word.search(b.text)]
    if not suspects:
        return error
    where = " or ".join(f"{b.path} (see {b.errors[0].location or b.path})" for b in suspects)
    hint = f"'{name}' may be defined in {where}, which does not parse: fix it first"
    return UserError(error.message, error.location, hint)


class NoMatch(UserErrors):
    """``--select`` picked nothing (``peek NAME`` says it in its own words)."""


def no_match(select: t.Sequence[str]) -> NoMatch:
    return NoMatch(
        [UserError(f"--select {' '.join(select)} matches no query", None, NO_MATCH_HINT)]
    )


def kept_sinks(plan: Plan, picked: t.Sequence[Statement]) -> list[SinkPlan]:
    """The planned queries among ``picked``."""
    where = {(s.file.path, s.locate().line) for s in picked if isinstance(s.node, n.InsertKafka)}
    return [s for s in plan.sinks if (s.file, s.line) in where]
