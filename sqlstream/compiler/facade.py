"""The facade the commands call: a project's files -> a checked Plan (no JVM, no pyspark).

render (Jinja) -> parse (sqlstream dialect) -> analyse (names, schemas) -> plan (checks, lowering)
"""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from sqlstream.compiler import render
from sqlstream.compiler.analyse import Analysis, analyse
from sqlstream.errors import CompileWarning, Diagnostics, UserError, UserErrors
from sqlstream.compiler.parse import Statement, parse_file
from sqlstream.compiler.plan import Plan
from sqlstream.compiler.planner import build_plan
from sqlstream.project.config import Project, discover_files, load_project
from sqlstream.project.connection import Connection
from sqlstream.project.env import display_path
from sqlstream.compiler.source import SourceFile


@dataclass
class Compiled:
    project: Project
    files: list[SourceFile]
    statements: list[Statement]
    analysis: Analysis
    plan: Plan
    """Every query of the project that the selection picked."""
    selected_files: list[str] = field(default_factory=list)
    full_plan: Plan | None = None
    """The plan of every file before the selection, derived streams no query reads included
    (what ``sqlstream test`` resolves its targets in)."""
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
) -> Compiled:
    """Render, parse, analyse and plan; raise ``UserErrors`` with every mistake found.

    ``project_dir``: where to look for the project when no ``paths`` are given (default: the
    working directory); ``sqlstream test tests/spend.yml`` finds the project of its test file.
    ``extra``: texts that are not files (``{"<--sql>": "SELECT ..."}`` of ``sqlstream peek``),
    compiled with the project's files as one more file each, named by their key.
    """
    project = load_project(
        paths or ([project_dir] if project_dir is not None else []), target=target, vars_override=vars_override,
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
    sources: list[SourceFile] = []
    statements: list[Statement] = []
    try:
        env = render.make_environment(project.vars, macro_files, project.macro_paths)
    except UserError as e:
        raise UserErrors([e]) from None
    for path in files:
        with diags.collecting():
            sf = render.render_file(path, display_path(path), env)
            sources.append(sf)
            statements.extend(parse_file(sf, diags))
    for shown, text in (extra or {}).items():
        with diags.collecting():
            sf = render.render_text(text, shown, env)
            sources.append(sf)
            statements.extend(parse_file(sf, diags))
    analysis = analyse(statements, diags)
    plan = build_plan(analysis, project.name, diags, project.defaults)
    # Report by file and line, as a compiler does, not in the order the stages found them.
    diags.errors.sort(key=lambda e: (e.location.path, e.location.line, e.location.col) if e.location else ("", 0, 0))
    diags.warnings.sort(key=lambda e: (e.location.path, e.location.line, e.location.col) if e.location else ("", 0, 0))
    diags.raise_if_any()

    full_plan = plan
    selected_paths = {display_path(p) for p in (selected or files)}
    keep = [s for s in plan.sinks if s.file in selected_paths]
    if select:
        keep = [s for s in keep if matches(s, select)]
        if not keep:
            raise UserErrors([UserError(
                f"--select {' '.join(select)} matches no query",
                None,
                "select by file path (queries/spend.sql), query name (spend_1) or stream name (orders)",
            )])
    plan = subset(plan, keep)
    return Compiled(
        project, sources, statements, analysis, plan, sorted(selected_paths), full_plan,
        diags.warnings,
    )


def _abs(path: Path) -> Path:
    """Absolute, but symlinks kept: messages name the file the user opened."""
    return Path(os.path.abspath(path))


def matches(sink: t.Any, select: t.Sequence[str]) -> bool:
    """Whether ``--select`` picks ``sink``: by query name, a stream it reads, or its file."""
    for s in select:
        s_norm = s.rstrip("/")
        if sink.name == s or s.lower() in sink.sources or s.lower() in sink.views:
            return True
        if _abs(Path(sink.file)) == _abs(Path(s_norm)) or _abs(Path(sink.file)).is_relative_to(
            _abs(Path(s_norm))
        ):
            return True
    return False


def subset(plan: Plan, sinks: t.Sequence[t.Any]) -> Plan:
    """The part of a plan that ``sinks`` need: their sources and views only."""
    need_sources = {s for sink in sinks for s in sink.sources}
    need_views = {v for sink in sinks for v in sink.views}
    return Plan(
        project=plan.project,
        sources=[s for s in plan.sources if s.name in need_sources],
        views=[v for v in plan.views if v.name in need_views],
        sinks=list(sinks),
        settings=dict(plan.settings),
    )
