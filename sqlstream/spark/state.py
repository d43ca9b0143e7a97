"""Checkpoints on disk: what each query's holds, resetting one, and the state-shape check.

A query's checkpoint is ``<checkpoint root>/<project>/<query name>``. Spark writes there a log of
the batches it planned (``offsets/<batch id>``: a version line, the batch's metadata as JSON,
then one line per source with the offsets the batch ends at, ``{"topic": {"0": 42}}`` for
Kafka), a log of the batches it finished (``commits/<batch id>``), and, for a stateful query,
the state itself (``state/``). These are plain files, read here in Python, with no JVM.

Beside them sqlstream keeps ``sqlstream-state-shape.json``: the state shape
(``sqlstream.compiler.stateshape``) the checkpoint's state was written with. Before a run,
``check_and_record`` compares it with the shape of the query as it is now, and refuses to start
a query whose state Spark could not read (or would misread), before anything starts.

Checkpoints on a remote file system (``s3a://``, ``hdfs://``) are not read: Spark alone can.
Nothing here imports pyspark.
"""

from __future__ import annotations

import json
import os
import shutil
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from sqlstream.compiler import stateshape
from sqlstream.compiler.plan import Plan, SinkPlan
from sqlstream.compiler.stateshape import StateShape
from sqlstream.errors import Location, UserError, UserErrors
from sqlstream.project.connection import Connection
from sqlstream.spark.steps import StartQuery, steps

SHAPE_FILE = "sqlstream-state-shape.json"

QueryKind = t.Literal["sink", "dlq", "orphaned"]


@dataclass
class Query:
    """A streaming query of the plan and where its checkpoint is (relative to the root)."""

    name: str
    kind: QueryKind
    file: str
    line: int
    checkpoint: str
    shape: StateShape


@dataclass
class Checkpoint:
    """What a query's checkpoint folder holds, as ``sqlstream state list`` shows it."""

    query: str
    kind: QueryKind
    path: str
    exists: bool
    stateful: bool
    file: str = ""
    last_batch: int | None = None
    """The last batch Spark committed (finished); ``None`` before the first."""
    planned_batch: int | None = None
    """The last batch Spark planned; above ``last_batch`` when one was cut short."""
    offsets: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per topic and partition, the offset the last committed batch read up to (exclusive)."""
    state_bytes: int = 0

    def to_dict(self) -> dict[str, t.Any]:
        return {
            "query": self.query,
            "kind": self.kind,
            "file": self.file,
            "path": self.path,
            "exists": self.exists,
            "stateful": self.stateful,
            "last_batch": self.last_batch,
            "planned_batch": self.planned_batch,
            "offsets": self.offsets,
            "state_bytes": self.state_bytes,
        }


# --------------------------------------------------------------------------------------------
# The queries of a plan and their checkpoints
# --------------------------------------------------------------------------------------------


def queries(plan: Plan, query: SinkPlan | str | None = None) -> list[Query]:
    """Every query a run of ``plan`` starts (DLQ queries too), from the steps the run executes."""
    sinks = {s.name: s for s in plan.sinks}
    found = []
    for step in steps(plan, query, connection=Connection(bootstrap_servers="")):
        if not isinstance(step, StartQuery):
            continue
        checkpoint = step.checkpoint
        sink = sinks.get(step.name) if step.kind == "sink" else None
        shape = stateshape.shape_of(sink, plan) if sink else StateShape(step.name)
        found.append(Query(step.name, step.kind, step.file, step.line, checkpoint, shape))
    return found


def local_root(connection: Connection) -> Path | None:
    """The checkpoint root as a local folder; ``None`` for a remote file system."""
    root = connection.checkpoint_root
    if root.startswith("file://"):
        root = root[len("file://") :]
    elif "://" in root:
        return None
    return Path(os.path.abspath(root))


def batches(folder: Path) -> list[int]:
    """The batch ids of a Spark metadata log (``offsets/`` or ``commits/``), in order."""
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and p.is_file())


def source_offsets(path: Path) -> dict[str, dict[str, int]]:
    """The Kafka offsets of one ``offsets/<batch>`` file: per topic, per partition.

    The file is a version line (``v1``), the batch metadata, then one line per source of the
    query in its order: the source's offset as JSON, or ``-`` for a source with none yet.
    """
    found: dict[str, dict[str, int]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines[2:]:
        try:
            offset = json.loads(line)
        except ValueError:
            continue
        if not isinstance(offset, dict):
            continue
        for topic, partitions in offset.items():
            if isinstance(partitions, dict):
                found.setdefault(str(topic), {}).update(
                    {str(p): int(o) for p, o in partitions.items() if isinstance(o, int)}
                )
    return found


def folder_bytes(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def read_checkpoint(
    query: str, kind: QueryKind, path: Path, stateful: bool, file: str = ""
) -> Checkpoint:
    """What Spark wrote in the checkpoint at ``path`` (an absent folder reads as empty)."""
    committed = batches(path / "commits")
    planned = batches(path / "offsets")
    last = committed[-1] if committed else None
    offsets_file = path / "offsets" / str(last)
    return Checkpoint(
        query=query,
        kind=kind,
        path=str(path),
        exists=path.is_dir(),
        stateful=stateful or (path / "state").is_dir(),
        file=file,
        last_batch=last,
        planned_batch=planned[-1] if planned else None,
        offsets=source_offsets(offsets_file) if last is not None and offsets_file.is_file() else {},
        state_bytes=folder_bytes(path / "state"),
    )


def checkpoints(plan: Plan, root: Path, project_plan: Plan | None = None) -> list[Checkpoint]:
    """One entry per query of ``plan``, then every folder under ``<root>/<project>`` that no
    query of ``project_plan`` (the whole project; default ``plan``) has any more: orphaned."""
    rows = [
        read_checkpoint(q.name, q.kind, root / q.checkpoint, q.shape.stateful, q.file)
        for q in queries(plan)
    ]
    known = {root / q.checkpoint for q in queries(project_plan or plan)}
    project_dir = root / plan.project
    if project_dir.is_dir():
        for folder in sorted(p for p in project_dir.iterdir() if p.is_dir()):
            if folder not in known:
                rows.append(read_checkpoint(folder.name, "orphaned", folder, False))
    return rows


# --------------------------------------------------------------------------------------------
# Reset
# --------------------------------------------------------------------------------------------


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, symlinks resolved, is strictly below ``root``: all that reset deletes."""
    real, base = path.resolve(), root.resolve()
    return real != base and real.is_relative_to(base)


def delete(checkpoint: Checkpoint, root: Path) -> None:
    """Delete one checkpoint folder, after checking it lies inside the checkpoint root."""
    path = Path(checkpoint.path)
    if not inside(path, root) or path.is_symlink():
        raise UserErrors(
            [
                UserError(
                    f"refusing to delete {path}:"
                    f" it is not a folder inside the checkpoint root {root}",
                    None,
                    "delete it by hand if it really is a checkpoint",
                )
            ]
        )
    shutil.rmtree(path)


# --------------------------------------------------------------------------------------------
# The state-shape check before a run
# --------------------------------------------------------------------------------------------


def recorded_shape(path: Path) -> StateShape | None:
    """The shape written beside the checkpoint at ``path``, if any (and readable)."""
    try:
        return StateShape.from_dict(json.loads((path / SHAPE_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def check(plan: Plan, connection: Connection, query: SinkPlan | str | None = None) -> None:
    """Refuse the run when a query's state shape differs from the one its checkpoint's state was
    written with. Reads only: ``run`` calls it before Spark starts, to fail in a second."""
    root = local_root(connection)
    if root is None:
        return
    errors = [
        e for q in queries(plan, query) if (e := _changed(q, root / q.checkpoint)) is not None
    ]
    if errors:
        raise UserErrors(errors)


def check_and_record(
    plan: Plan, connection: Connection, query: SinkPlan | str | None = None
) -> None:
    """``check``, then write the shape of every query whose checkpoint has no state yet.

    Only a checkpoint with a committed batch binds: before that Spark has written no state, so a
    query changed after a failed first start is a new query, and its shape replaces the old.
    A checkpoint written before sqlstream kept shapes gets the current one.
    """
    check(plan, connection, query)
    root = local_root(connection)
    if root is None:
        return
    for q in queries(plan, query):
        path = root / q.checkpoint
        if not batches(path / "commits") or recorded_shape(path) is None:
            path.mkdir(parents=True, exist_ok=True)
            (path / SHAPE_FILE).write_text(json.dumps(q.shape.to_dict(), indent=2) + "\n")


def _changed(q: Query, path: Path) -> UserError | None:
    committed = batches(path / "commits")
    old = recorded_shape(path) if committed else None
    if old is None or not (old.stateful or q.shape.stateful):
        return None
    what = stateshape.changes(old, q.shape)
    if not what:
        return None
    return UserError(
        f"query {q.name} cannot resume from its checkpoint: {'; '.join(what)}",
        _location(q),
        f"the state in its checkpoint ({path}, last batch {committed[-1]}) was written by the "
        "query as it was, and Spark cannot read it for the query as it is now. Choose one:\n"
        f"  - a new checkpoint: give the query a new name, WITH (name = '{q.name}_v2')\n"
        f"  - start over: `sqlstream state reset {q.name}` (it reads again from its "
        "starting_offsets)\n"
        "  - a bounded run over the history (`sqlstream run --from ... --until ...`), then the "
        "new query from where that run ended",
    )


def _location(q: Query) -> Location | None:
    if not q.line:
        return None
    try:
        source_line = Path(q.file).read_text(encoding="utf-8").splitlines()[q.line - 1]
    except (OSError, IndexError, UnicodeDecodeError):
        source_line = None
    return Location(q.file, q.line, 1, source_line)
