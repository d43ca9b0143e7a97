"""``sqlstream topics ...``: look at a topic, feed it, read it, against the chosen target.

Click only: the work is in ``sqlstream.kafka``. Every command connects with the target's
settings (``--target``, ``--profiles-dir``, ``--bootstrap-servers``) as ``run`` does; outside a
project it uses the local defaults (localhost:9092, what ``sqlstream kafka up`` starts).
"""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import click

from sqlstream.cli.options import (
    bootstrap_servers_option,
    output_option,
    profiles_dir_option,
    target_option,
)
from sqlstream.errors import SqlStreamError, UserError
from sqlstream.interrupts import StopFlag

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


def _connection_options(fn: F) -> F:
    for decorate in (bootstrap_servers_option, profiles_dir_option, target_option):
        fn = decorate(fn)
    return fn


def _target(target: str | None, profiles_dir: str | None) -> t.Any:
    from sqlstream.project.config import Target, find_project_root, load_project

    if find_project_root() is None:
        if target not in (None, "dev"):
            raise UserError(
                f"--target {target} needs a project: no sqlstream.yml here or above",
                hint="run the command in the project, or give --bootstrap-servers",
            )
        return Target()
    return load_project(
        [], target=target, profiles_dir=Path(profiles_dir) if profiles_dir else None
    ).target


def _cluster(target: str | None, profiles_dir: str | None, bootstrap: str | None) -> t.Any:
    from sqlstream.kafka.admin import Cluster
    from sqlstream.project import clientconfig as config

    return Cluster(config.from_target(_target(target, profiles_dir), bootstrap))


@click.group()
def topics() -> None:
    """Kafka topics of the target: list, describe, create, delete, produce, consume."""


@topics.command("list")
@click.option(
    "--all", "show_all", is_flag=True, help="Include internal topics (__consumer_offsets, ...)."
)
@_connection_options
def list_(
    show_all: bool, target: str | None, profiles_dir: str | None, bootstrap_servers: str | None
) -> None:
    """The topics of the cluster, with their partition counts."""
    cluster = _cluster(target, profiles_dir, bootstrap_servers)
    topics_md = cluster.metadata().topics
    names = cluster.topic_names(internal=show_all)
    width = max((len(n) for n in names), default=0)
    for name in names:
        n = len(topics_md[name].partitions)
        click.echo(f"{name:<{width}}  {n} partition{'s' if n != 1 else ''}")
    if not names:
        click.echo(f"no topics on {cluster.cfg.bootstrap_servers}", err=True)


@topics.command()
@click.argument("name")
@_connection_options
def describe(
    name: str, target: str | None, profiles_dir: str | None, bootstrap_servers: str | None
) -> None:
    """Partitions (leader, replicas, offsets) and the topic's own settings."""
    info = _cluster(target, profiles_dir, bootstrap_servers).describe(name)
    n = len(info.partitions)
    click.echo(
        f"topic {info.name}: {n} partition{'s' if n != 1 else ''},"
        f" replication factor {info.replication_factor}"
    )
    rows: list[tuple[str, ...]] = [
        ("partition", "leader", "replicas", "in-sync", "earliest", "end", "records")
    ]
    for p in info.partitions:
        count = (p.end or 0) - (p.earliest or 0)
        rows.append(
            tuple(
                str(x)
                for x in (p.id, p.leader, _ids(p.replicas), _ids(p.isr), p.earliest, p.end, count)
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    if info.configs:
        click.echo("settings of the topic (the rest are the broker's defaults):")
        for key, value in info.configs.items():
            click.echo(f"  {key} = {'(sensitive)' if value is None else value}")
    else:
        click.echo("settings: the broker's defaults")


def _ids(ids: t.Sequence[int]) -> str:
    return ",".join(str(i) for i in ids)


def _key_value(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    pairs = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"'{item}' is not key=value, e.g. --config retention.ms=86400000"
            )
        pairs[key.strip()] = value.strip()
    return pairs


@topics.command()
@click.argument("name")
@click.option(
    "--partitions", "-p", type=click.IntRange(min=1), required=True, help="How many partitions."
)
@click.option(
    "--replication-factor",
    "-r",
    type=click.IntRange(min=1),
    help="Copies of each partition (default: the broker's).",
)
@click.option(
    "--config",
    "-c",
    "settings",
    multiple=True,
    callback=_key_value,
    metavar="KEY=VALUE",
    help="A topic setting, e.g. cleanup.policy=compact; repeat for more.",
)
@_connection_options
def create(
    name: str,
    partitions: int,
    replication_factor: int | None,
    settings: dict[str, str],
    target: str | None,
    profiles_dir: str | None,
    bootstrap_servers: str | None,
) -> None:
    """Create topic NAME."""
    cluster = _cluster(target, profiles_dir, bootstrap_servers)
    cluster.create(name, partitions, replication_factor, settings)
    click.echo(f"created topic {name}: {partitions} partition{'s' if partitions != 1 else ''}")


@topics.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_connection_options
def delete(
    name: str,
    yes: bool,
    target: str | None,
    profiles_dir: str | None,
    bootstrap_servers: str | None,
) -> None:
    """Delete topic NAME and every record in it."""
    cluster = _cluster(target, profiles_dir, bootstrap_servers)
    cluster.require(name)
    if not yes:
        if not sys.stdin.isatty():
            raise UserError(
                f"not deleting topic '{name}' without a confirmation",
                hint="pass --yes to delete it from a script",
            )
        click.confirm(
            f"delete topic '{name}' on {cluster.cfg.bootstrap_servers} and every record in it?",
            abort=True,
        )
    cluster.delete(name)
    click.echo(f"deleted topic {name}")


@topics.command()
@click.argument("name")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, allow_dash=True)
)
@click.option("--value-only", is_flag=True, help="Each line is the value itself, written as is.")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["json", "csv"]),
    default="json",
    show_default=True,
    help="json: one JSON object a line (value, key, headers, partition, timestamp); "
    "csv: a header line, then one record a row, as a JSON object value.",
)
@_connection_options
def produce(
    name: str,
    file: str | None,
    value_only: bool,
    format_: str,
    target: str | None,
    profiles_dir: str | None,
    bootstrap_servers: str | None,
) -> None:
    """Write one record per line of FILE (or stdin) to topic NAME.

    \b
    A line is a JSON object, e.g.
      {"key": "u1", "value": {"amount": 5}, "headers": {"src": "test"}}
    with optional "partition" and "timestamp" (ms since the epoch or ISO). An object or array
    value is written as compact JSON, a string as the string, null as a tombstone. Nothing is
    written when any line is wrong.
    """
    from sqlstream.kafka import produce as producing

    if value_only and format_ == "csv":
        raise click.UsageError(
            "--value-only and --format csv do not go together: a CSV row is always a value"
        )
    path, text = _read_input(file)
    cluster = _cluster(target, profiles_dir, bootstrap_servers)
    md = cluster.require(name)
    topic = producing.topic_of(name, len(md.partitions), cluster.max_message_bytes(name))
    # Every line and every record is checked here, before the first one is written.
    records = producing.read_checked(
        text, path, "csv" if format_ == "csv" else "value" if value_only else "json", topic
    )
    written = producing.write(cluster.cfg, topic, records) if records else {}
    total = sum(written.values())
    per_partition = ", ".join(f"partition {p}: {n}" for p, n in written.items())
    click.echo(
        f"wrote {total} record{'s' if total != 1 else ''} to {name}"
        + (f" ({per_partition})" if written else "")
    )


def _read_input(file: str | None) -> tuple[str, str]:
    path = "<stdin>" if file in (None, "-") else file
    data = sys.stdin.buffer.read() if path == "<stdin>" else Path(t.cast(str, file)).read_bytes()
    try:
        return path, data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(
            f"{path}: line {line} is not UTF-8 text",
            hint="save the file as UTF-8; for bytes use value_base64 in a JSON line",
        ) from None


@topics.command()
@click.argument("name")
@click.option(
    "--from",
    "from_",
    default="earliest",
    show_default=True,
    metavar="WHERE",
    help="earliest, latest, an offset (in every partition) or an ISO timestamp.",
)
@click.option("--max", "max_", type=click.IntRange(min=1), help="Stop after this many records.")
@click.option("--follow", "-f", is_flag=True, help="Keep waiting for new records until Ctrl-C.")
@output_option("json: one object a line, as `topics produce` reads it.")
@_connection_options
def consume(
    name: str,
    from_: str,
    max_: int | None,
    follow: bool,
    output: str,
    target: str | None,
    profiles_dir: str | None,
    bootstrap_servers: str | None,
) -> None:
    """Read records of topic NAME: to its end as of now, or on with --follow."""
    from sqlstream.kafka import consume as consuming

    start = consuming.parse_start(from_)
    cluster = _cluster(target, profiles_dir, bootstrap_servers)
    ids = sorted(cluster.require(name).partitions)
    low, high = cluster.offsets(name, ids, "earliest"), cluster.offsets(name, ids, "latest")
    at_time = cluster.offsets(name, ids, start.value) if start.kind == "timestamp" else {}
    begin = consuming.start_offsets(start, low, high, at_time)
    show = _display(name, target, profiles_dir) if output == "text" else consuming.RAW[0]
    count = 0
    # Ctrl-C sets a flag checked between records, so the count is of the records shown.
    stop = StopFlag()
    with stop.installed():
        end = None if follow else high
        for msg in consuming.read(cluster.cfg, name, begin, end, max_, stop.is_set):
            line = (
                json.dumps(consuming.record_json(msg), ensure_ascii=False)
                if output == "json"
                else consuming.format_text(msg, show)
            )
            click.echo(line)
            count += 1
            if stop.is_set():
                break
    click.echo(f"read {count} record{'s' if count != 1 else ''} from {name}", err=True)


def _display(topic: str, target: str | None, profiles_dir: str | None) -> t.Callable[[bytes], str]:
    """How values are shown: by the format of the project's stream on the topic, if any."""
    from sqlstream.kafka import consume as consuming
    from sqlstream.project.config import find_project_root

    if find_project_root() is None:
        return consuming.RAW[0]
    from sqlstream.compiler.facade import compile_project

    try:
        compiled = compile_project((), target=target, profiles_dir=profiles_dir)
    except SqlStreamError:
        click.echo(
            "warning: the project does not compile (`sqlstream validate` says why); "
            "values are shown as they are",
            err=True,
        )
        return consuming.RAW[0]
    found = consuming.stream_format(compiled.full_plan or compiled.plan, topic)
    if found is None:
        return consuming.RAW[0]
    show, note = consuming.DISPLAY.get(found.format, consuming.RAW)
    if found.format in consuming.SCHEMA_DISPLAY:
        from sqlstream.compiler.schemas import LOCK_FILE, read_lock

        locked = read_lock(compiled.project.root / LOCK_FILE)
        by_id = {v.id: v.schema for versions in locked.values() for v in versions}
        show = consuming.SCHEMA_DISPLAY[found.format](by_id)
    click.echo(
        f"values decoded as {found.format}, the format of stream {found.stream} ({found.file})"
        + (f"; {note}" if note else ""),
        err=True,
    )
    return show
