"""What ``compile`` writes to ``target/`` and what ``ls`` shows."""

from __future__ import annotations

import dataclasses
import os
import typing as t
from pathlib import Path, PurePath

from sqlstream.compiler.facade import Compiled, subsets
from sqlstream.compiler.plan import Plan, TablePlan
from sqlstream.project.connection import Connection
from sqlstream.project.env import below
from sqlstream.spark import script


def write_target(compiled: Compiled, target_dir: Path) -> list[Path]:
    """Per query file: the rendered SQL and a standalone PySpark script; plus plan.json.

    A file whose content is already what it would be is left as it is (like ``make``): a
    recompile of an unchanged project writes nothing, and tools watching ``target/`` see only
    what changed.
    """
    connection = Connection.from_target(compiled.project.target)
    base = compiled.project.root / target_dir if not target_dir.is_absolute() else target_dir
    if compiled.project.is_bare:
        base = Path.cwd() / target_dir if not target_dir.is_absolute() else target_dir
    root = os.path.abspath(compiled.project.root)
    plan = portable(compiled.plan, compiled.project.root)
    by_file: dict[str, list[t.Any]] = {}
    for sink in plan.sinks:
        by_file.setdefault(sink.file, []).append(sink)
    out = _Writer(base)
    chosen = [sf for sf in compiled.files if sf.path in compiled.selected_files]
    sinks = [by_file.get(_relative(os.path.abspath(sf.path), root), []) for sf in chosen]
    for sf, file_sinks, file_plan in zip(chosen, sinks, subsets(plan, sinks), strict=True):
        stem = _target_name(sf.path, compiled)
        out.write(f"rendered/{stem}.sql", connection.redact(sf.rendered))
        if file_sinks:
            text = script.script(file_plan, connection=connection)
            out.write(f"scripts/{stem}.py", connection.redact(text))
    out.write("plan.json", connection.redact(plan.to_json()) + "\n")
    cwd = os.getcwd()
    return [_rel(p, cwd) for p in out.written]


class _Writer:
    """Writes files under ``base``, each folder made once, a file only when its text changed."""

    def __init__(self, base: Path) -> None:
        self.base = os.fspath(base)
        self.made: set[str] = set()
        self.written: list[str] = []

    def write(self, name: str, text: str) -> None:
        path = os.path.join(self.base, name)
        folder = os.path.dirname(path)
        if folder not in self.made:
            os.makedirs(folder, exist_ok=True)
            self.made.add(folder)
        data = text.encode("utf-8")
        if _content(path, len(data)) != data:
            with open(path, "wb") as f:
                f.write(data)
        self.written.append(path)


def _content(path: str, size: int) -> bytes | None:
    """The bytes of ``path`` when it has ``size`` of them, else None (it must be written)."""
    try:
        with open(path, "rb") as f:
            data = f.read(size + 1)
    except OSError:
        return None
    return data if len(data) == size else None


def portable(plan: Plan, root: Path) -> Plan:
    """``plan`` with every file named relative to the project root, in POSIX form.

    Names in messages are relative to the current directory (or absolute); what ``compile``
    writes must read the same whichever directory it ran from and on whichever machine.
    """
    return dataclasses.replace(
        plan,
        sources=[dataclasses.replace(s, file=_project_path(s.file, root)) for s in plan.sources],
        views=[dataclasses.replace(v, file=_project_path(v.file, root)) for v in plan.views],
        sinks=[dataclasses.replace(k, file=_project_path(k.file, root)) for k in plan.sinks],
        tables=[dataclasses.replace(tb, file=_project_path(tb.file, root)) for tb in plan.tables],
    )


def _project_path(path: str, root: Path) -> str:
    return _relative(os.path.abspath(path), os.path.abspath(root))


def _relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` (both absolute), in POSIX form."""
    inside = below(path, root)
    if inside is not None:
        return inside.replace(os.sep, "/")
    return PurePath(os.path.relpath(path, root)).as_posix()


def _target_name(path: str, compiled: Compiled) -> str:
    """``queries/daily/spend.sql`` -> ``daily__spend``: the file's path in its query folder."""
    full = os.path.abspath(path)
    for qp in compiled.project.query_paths:
        inside = below(full, os.path.abspath(qp))
        if inside is not None:
            return os.path.splitext(inside)[0].replace(os.sep, "__")
    return PurePath(path).stem


def _rel(p: str, cwd: str) -> Path:
    """A written file as ``compile`` lists it: relative to the current directory if below it."""
    inside = below(os.path.abspath(p), cwd)
    return Path(inside) if inside is not None else Path(p)


def listing(compiled: Compiled) -> dict[str, t.Any]:
    """Streams, sinks, topics and the edges between them, as plain data (``ls -o json``)."""
    plan = compiled.plan
    analysis = compiled.analysis
    sources = []
    for s in plan.sources:
        sources.append(
            {
                "name": s.name,
                "file": s.file,
                "topics": s.read_options.get("subscribe") or s.read_options.get("subscribePattern"),
                "format": s.value_format,
                "columns": [
                    {
                        "name": c.name,
                        "type": c.type,
                        "from": c.role,
                        **({"ref": c.ref} if c.ref else {}),
                    }
                    for c in s.columns
                ],
                "watermark": {"column": s.watermark_column, "delay": s.watermark_delay}
                if s.watermark_column
                else None,
                "on_error": s.on_error,
                **({"dlq_topic": s.dlq_topic} if s.dlq_topic else {}),
            }
        )
    views = [
        {
            "name": v.name,
            "file": v.file,
            "reads": view.reads if (view := analysis.view(v.name)) else [],
            "columns": [{"name": f.name, "type": f.type} for f in v.fields],
        }
        for v in plan.views
    ]
    sinks = []
    for sink in plan.sinks:
        q = next(
            (
                x
                for x in analysis.sinks
                if x.stmt.file.path == sink.file and x.stmt.locate().line == sink.line
            ),
            None,
        )
        sinks.append(
            {
                "name": sink.name,
                "file": sink.file,
                "line": sink.line,
                "topic": sink.topic if sink.topic is not None else "(per row)",
                "format": sink.value_format,
                "reads": q.reads if q else [],
                "sources": sink.sources,
                "views": sink.views,
                "columns": [{"name": f.name, "type": f.type} for f in sink.fields],
                "trigger": (
                    f"{sink.trigger.kind}"
                    + (f" {sink.trigger.interval}" if sink.trigger.interval else "")
                )
                if sink.trigger
                else "default",
                "checkpoint": sink.checkpoint,
            }
        )
    tables = [
        {
            "name": tb.name,
            "file": tb.file,
            "from": tb.connector,
            "where": _TABLE_WHERE[tb.connector](tb),
            "key": tb.key,
            "columns": [{"name": c.name, "type": c.type} for c in tb.columns],
            "read_by": [k.name for k in plan.sinks if tb.name in k.tables],
        }
        for tb in plan.tables
    ]
    return {
        "project": plan.project,
        "sources": sources,
        "streams": views,
        "sinks": sinks,
        "tables": tables,
        "topics": _topics(plan),
    }


def _topics(plan: Plan) -> list[dict[str, t.Any]]:
    """Each topic the project names (a pattern as ``/pattern/``), by name: who reads it (streams
    and tables), who writes it (queries, and the DLQs of streams)."""
    found: dict[str, dict[str, list[str]]] = {}

    def add(topics: t.Iterable[str], role: str, who: str) -> None:
        for name in topics:
            entry = found.setdefault(name, {"read_by": [], "written_by": [], "dlq_of": []})
            entry[role].append(who)

    for s in plan.sources:
        add(_read_topics(s.read_options), "read_by", s.name)
        add([s.dlq_topic] if s.on_error == "dlq" and s.dlq_topic else [], "dlq_of", s.name)
    for tb in plan.tables:
        add(_read_topics(tb.read_options) if tb.connector == "kafka" else [], "read_by", tb.name)
    for sink in plan.sinks:
        add([sink.topic] if sink.topic is not None else [], "written_by", sink.name)
    return [{"name": name, **found[name]} for name in sorted(found)]


def _read_topics(options: t.Mapping[str, str]) -> list[str]:
    names = [n.strip() for n in options.get("subscribe", "").split(",") if n.strip()]
    pattern = options.get("subscribePattern")
    return names + ([f"/{pattern}/"] if pattern else [])


_TABLE_WHERE: dict[str, t.Callable[[TablePlan], str]] = {
    "kafka": lambda tb: f"topic {tb.read_options.get('subscribe')}",
    "files": lambda tb: f"{tb.read_format} {tb.path}",
    "jdbc": lambda tb: f"{tb.read_options.get('url')} table {tb.read_options.get('dbtable')}",
}
"""Where a table's rows come from, in a listing's words."""


def listing_text(data: dict[str, t.Any]) -> str:
    lines = [f"project {data['project']}"]
    lines.append("sources:")
    for s in data["sources"]:
        wm = (
            f", watermark {s['watermark']['column']} - {s['watermark']['delay']}"
            if s["watermark"]
            else ""
        )
        dlq = f" -> topic {s['dlq_topic']}" if s.get("dlq_topic") else ""
        lines.append(
            f"  {s['name']:<24} <- topic {s['topics']}"
            f" ({s['format']}{wm}, on_error {s['on_error']}{dlq})"
        )
    if data["streams"]:
        lines.append("derived streams:")
        for v in data["streams"]:
            lines.append(f"  {v['name']:<24} <- {', '.join(v['reads'])}")
    if data.get("tables"):
        lines.append("tables:")
        for tb in data["tables"]:
            readers = ", ".join(tb["read_by"]) or "no query"
            lines.append(
                f"  {tb['name']:<24} <- {tb['where']} (key {', '.join(tb['key'])});"
                f" joined by {readers}"
            )
    lines.append("queries:")
    for k in data["sinks"]:
        lines.append(
            f"  {k['name']:<24} {', '.join(k['reads'])} -> topic {k['topic']}"
            f" ({k['format']})  [{k['file']}:{k['line']}]"
        )
    if data["topics"]:
        lines.append("topics:")
        lines += [f"  {tp['name']:<24} {_topic_roles(tp)}" for tp in data["topics"]]
    return "\n".join(lines)


_TOPIC_ROLES = (("written_by", "written by"), ("dlq_of", "dead letters of"), ("read_by", "read by"))
"""A topic's roles in a listing's words, in the order a record goes."""


def _topic_roles(topic: t.Mapping[str, list[str]]) -> str:
    return "; ".join(f"{say} {', '.join(topic[k])}" for k, say in _TOPIC_ROLES if topic[k])
