"""The facade the commands call: a project's files -> a checked Plan (no JVM, no pyspark).

render (Jinja) -> parse (sqlstream dialect) -> analyse (names, schemas) -> plan (checks, lowering)
"""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from sqlstream.compiler import reading, selection
from sqlstream.compiler.analyse import Analysis, analyse
from sqlstream.compiler.parse import Statement, parse_file
from sqlstream.compiler.plan import Plan
from sqlstream.compiler.planner import build_plan
from sqlstream.compiler.schemas import LOCK_FILE, LockedSchemas, Schemas, columns_from
from sqlstream.compiler.source import SourceFile
from sqlstream.errors import CompileWarning, Diagnostics, UserError, UserErrors
from sqlstream.project.config import Project, discover_files, load_project
from sqlstream.project.connection import Connection
from sqlstream.project.env import display_path


@dataclass
class Compiled:
    """What compiling a project gives the commands: its files, statements, analysis and plan."""

    project: Project
    files: list[SourceFile]
    statements: list[Statement]
    analysis: Analysis
    plan: Plan
    """Every query of the project that the selection picked."""
    selected_files: list[str] = field(default_factory=list)
    full_plan: Plan | None = None
    """The plan of every file before the selection, derived streams no query reads included
    (what ``sqlstream test`` resolves its targets in); with errors outside the selection, what
    the planner made of the rest."""
    not_checked: list[UserError] = field(default_factory=list)
    """Errors outside the selection (``validate queries/a.sql`` with a broken b.sql): shown as
    one-line warnings, they do not refuse the command (``selection``)."""
    warnings: list[CompileWarning] = field(default_factory=list)
    """Likely mistakes that do not stop the command, in file order (the CLI prints them)."""

    def connection(self, bootstrap_override: str | None = None) -> Connection:
        """What ``run`` and ``explain`` connect with: the target's settings, and a relative
        checkpoint root resolved against the project root, so that a query resumes from the
        same checkpoint whichever directory it is started from."""
        return Connection.from_target(self.project.target).resolved(
            self.project.root, bootstrap_override
        )


def compile_project(
    paths: t.Sequence[str] = (),
    *,
    target: str | None = None,
    vars_override: str | dict[str, t.Any] | None = None,
    select: t.Sequence[str] = (),
    profiles_dir: str | None = None,
    project_dir: str | Path | None = None,
    extra: t.Mapping[str, str] | None = None,
    registry: t.Callable[[Project], Schemas] | None = None,
    spark_sql: bool = True,
) -> Compiled:
    """Render, parse, analyse and plan; raise ``UserErrors`` with every mistake found.

    ``project_dir``: where to look for the project when no ``paths`` are given (default: the
    working directory); ``sqlstream test tests/spend.yml`` finds the project of its test file.
    ``extra``: texts that are not files (``{"<--sql>": "SELECT ..."}`` of ``sqlstream peek``),
    compiled with the project's files as one more file each, named by their key; they are the
    selection, as a path is.

    ``registry``: the schemas of the ``*-confluent`` formats for the loaded project (``run``
    asks the registry); by default the project's lock file (``compiler.schemas``).

    ``spark_sql``: False for a check alone (``validate``): the plan's queries have no Spark SQL
    text (``planner.build_plan``).

    Given PATHS, ``--select`` or ``extra``, only the errors of what the selection reads refuse
    it; the others are in ``Compiled.not_checked`` (``selection``).
    """
    project = load_project(
        paths or ([project_dir] if project_dir is not None else []),
        target=target,
        vars_override=vars_override,
        profiles_dir=Path(profiles_dir) if profiles_dir else None,
    )
    selected = [_abs(p) for p in discover_files(project, paths)] if paths else None
    all_files = {_abs(p) for p in discover_files(project, [])} if not project.is_bare else set()
    all_files.update(selected or [])
    files = sorted(all_files)
    diags = Diagnostics()
    macro_files = sorted(
        f for mp in project.macro_paths if mp.is_dir() for f in mp.glob("**/*.sql")
    )
    try:
        env = _environment(project, macro_files)
    except UserError as e:
        raise UserErrors([e]) from None
    texts = [(display_path(p), p, None) for p in files] + [
        (k, None, v) for k, v in (extra or {}).items()
    ]
    sources, statements, broken = _read(texts, env, diags)
    schemas = registry(project) if registry else _locked(project)
    analysis = analyse(statements, diags, columns_from(schemas))
    plan = build_plan(analysis, project.name, diags, project.defaults, schemas, spark_sql)
    # A text that is not a file (peek's --sql) is the selection: the project is what it reads.
    chosen = {display_path(p) for p in (selected or ([] if extra else files))} | set(extra or {})
    names = selection.sink_names(analysis, plan)
    picked = selection.roots(statements, analysis, names, chosen, select)
    if not paths and not select and not extra:
        diags.errors = selection.with_broken_hints(diags.errors, analysis, broken)
        not_checked: list[UserError] = []
    else:
        diags.errors, not_checked = _judge(
            diags.errors, statements, analysis, names, broken, chosen, select, picked
        )
    _raise_unreachable(schemas, diags.errors)
    diags.errors = _by_place(diags.errors)
    diags.warnings = _by_place(diags.warnings)
    diags.raise_if_any()
    if select and not picked:
        raise selection.no_match(select)
    return Compiled(
        project,
        sources,
        statements,
        analysis,
        subset(plan, selection.kept_sinks(plan, picked)),
        sorted(chosen),
        plan,
        _by_place(not_checked),
        diags.warnings,
    )


def _raise_unreachable(schemas: Schemas, errors: t.Sequence[UserError]) -> None:
    """A registry that cannot be reached stops a command that needs it as a run-time failure
    (one line, exit 1), not as an error at each stream that asks it; a file outside the selection
    that needs it is a warning (``selection``) and does not stop the command."""
    failure = schemas.failure
    if failure is not None and any(str(failure).startswith(e.message + "\n") for e in errors):
        raise failure


def _locked(project: Project) -> LockedSchemas:
    """The lock file's schemas, with the target's registry default for ``auto_register``."""
    settings = project.target.schema_registry
    return LockedSchemas(project.root / LOCK_FILE, bool(settings and settings.auto_register))


def _read(
    texts: t.Sequence[tuple[str, Path | None, str | None]],
    env: t.Callable[[], t.Any],
    diags: Diagnostics,
) -> tuple[list[SourceFile], list[Statement], list[selection.Broken]]:
    """Render and parse each (shown name, file or text); a file with errors is also ``Broken``
    (what it defines is partly unknown)."""
    sources: list[SourceFile] = []
    statements: list[Statement] = []
    broken: list[selection.Broken] = []
    for shown, path, text in texts:
        before = len(diags.errors)
        sf = None
        with diags.collecting():
            source = reading.read_text(path, shown) if path else text or ""
            sf = reading.without_jinja(source, shown) or _render(source, shown, env())
            sources.append(sf)
            statements.extend(parse_file(sf, diags))
        if len(diags.errors) > before:
            written = sf.text if sf is not None else text if path is None else _on_disk(path)
            broken.append(selection.Broken(shown, written or "", diags.errors[before:]))
    return sources, statements, broken


def _environment(project: Project, macro_files: list[Path]) -> t.Callable[[], t.Any]:
    """The Jinja environment of the run, made when first asked for (a project whose files have
    no Jinja never imports jinja2: ``reading``), or at once if the project has macro files, so
    that a mistake in one is reported whether a query uses Jinja or not."""
    made: list[t.Any] = []

    def env() -> t.Any:
        if not made:
            from sqlstream.compiler import render

            made.append(render.make_environment(project.vars, macro_files, project.macro_paths))
        return made[0]

    if macro_files:
        env()
    return env


def _render(text: str, shown: str, env: t.Any) -> SourceFile:
    from sqlstream.compiler import render

    return render.render_text(text, shown, env)


def _on_disk(path: Path) -> str:
    """What the user wrote in a file Jinja could not read (searched for stream names)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _judge(
    errors: list[UserError],
    statements: list[Statement],
    analysis: Analysis,
    names: dict[int, str],
    broken: list[selection.Broken],
    chosen: set[str],
    select: t.Sequence[str],
    picked: list[Statement],
) -> tuple[list[UserError], list[UserError]]:
    """(the errors that refuse the command, those outside the selection): a selection answers
    for the statements it picked and what they read only."""
    errors = selection.with_broken_hints(errors, analysis, broken)
    in_scope = selection.scope(picked, statements, analysis, names)
    picked_files = {s.file.path for s in picked} | {
        f for f in chosen if not select or any(selection.is_path_of(s, f) for s in select)
    }
    return selection.split(errors, statements, in_scope, broken, picked_files)


E = t.TypeVar("E", bound=UserError)


def _by_place(errors: t.Iterable[E]) -> list[E]:
    """By file and line, as a compiler reports, not in the order the stages found them."""
    return sorted(
        errors,
        key=lambda e: (
            (e.location.path, e.location.line, e.location.col) if e.location else ("", 0, 0)
        ),
    )


def _abs(path: Path) -> Path:
    """Absolute, but symlinks kept: messages name the file the user opened."""
    return Path(os.path.abspath(path))


def matches(sink: t.Any, select: t.Sequence[str]) -> bool:
    """Whether ``--select`` picks ``sink``: by query name, a stream it reads, or its file."""
    for s in select:
        s_norm = s.rstrip("/")
        if sink.name == s or s.lower() in (*sink.sources, *sink.views, *sink.tables):
            return True
        if _abs(Path(sink.file)) == _abs(Path(s_norm)) or _abs(Path(sink.file)).is_relative_to(
            _abs(Path(s_norm))
        ):
            return True
    return False


def subset(plan: Plan, sinks: t.Sequence[t.Any]) -> Plan:
    """The part of a plan that ``sinks`` need: their sources and views only."""
    return subsets(plan, [sinks])[0]


def subsets(plan: Plan, groups: t.Sequence[t.Sequence[t.Any]]) -> list[Plan]:
    """``subset`` of each group of sinks (``compile``: the sinks of each file, for its script),
    with the plan's sources, views and tables indexed by name once: scanning them all for each
    file made writing the scripts grow with the square of the project's files."""
    found = {kind: _by_name(getattr(plan, kind)) for kind in ("sources", "views", "tables")}

    def picked(kind: str, names: set[str]) -> list[t.Any]:
        items, index = getattr(plan, kind), found[kind]
        return [items[i] for i in sorted(i for n in names for i in index.get(n, ()))]

    return [
        Plan(
            project=plan.project,
            sources=picked("sources", {s for sink in sinks for s in sink.sources}),
            views=picked("views", {v for sink in sinks for v in sink.views}),
            sinks=list(sinks),
            tables=picked("tables", {n for sink in sinks for n in sink.tables}),
            settings=dict(plan.settings),
        )
        for sinks in groups
    ]


def _by_name(items: t.Sequence[t.Any]) -> dict[str, list[int]]:
    """Name -> the positions of the items of that name, in order."""
    index: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        index.setdefault(item.name, []).append(i)
    return index
