"""``sqlstream registry up|down|status``: the development Schema Registry of ``sqlstream.local``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sqlstream.cli.console import console
from sqlstream.cli.options import ProjectArgs, project_options

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    help="Where the registry keeps its log and pid  [default: .sqlstream/registry of the project "
    "(the folder of sqlstream.yml, found upwards), else of the current folder]",
)


@click.group()
def registry() -> None:
    """A local Schema Registry (Apicurio, Confluent-compatible API, loopback), for the
    *-confluent formats (avro-confluent, json-confluent)."""


@registry.command("up")
@click.option("--port", default=8081, show_default=True)
@state_dir_option
def registry_up(port: int, state_dir: str | None) -> None:
    """Start the registry (fetching it once) and return when it answers."""
    from sqlstream.local import registry as local

    console.registry_up(local.up(port=port, state_dir=_path(state_dir)))


@registry.command("down")
@state_dir_option
def registry_down(state_dir: str | None) -> None:
    """Stop the registry; its schemas stay in its state directory for the next `up`."""
    from sqlstream.local import registry as local

    console.registry_down(local.down(_path(state_dir)))


@registry.command("status")
@state_dir_option
def registry_status(state_dir: str | None) -> None:
    """Say whether the registry runs, and where."""
    from sqlstream.local import registry as local

    running = local.status(_path(state_dir))
    console.registry_status(running)
    if running is None:
        sys.exit(1)


@registry.command("lock")
@project_options
def registry_lock(project: ProjectArgs) -> None:
    """Look up the schemas of the project's *-confluent sources and sinks in the target's
    schema_registry (registering a sink's with auto_register) and write schemas.lock.json, so
    that compile and validate work offline."""
    from sqlstream.compiler.schemas import LOCK_FILE, read_lock

    compiled = project.compile(live_schemas=True)
    lock = compiled.project.root / LOCK_FILE
    console.registry_locked(lock, len(read_lock(lock)))


def _path(state_dir: str | None) -> Path | None:
    return Path(state_dir) if state_dir else None


COMMANDS = (registry,)
