"""``sqlstream kafka up|down|status``: the development broker of ``sqlstream.local``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sqlstream.cli.console import console
from sqlstream.cli.options import state_dir_option


@click.group()
def kafka() -> None:
    """A local single-node Kafka broker (KRaft, loopback), started from the Apache Kafka jars."""


@kafka.command("up")
@click.option("--port", default=9092, show_default=True)
@state_dir_option
def kafka_up(port: int, state_dir: str | None) -> None:
    """Start the broker (fetching its jars once) and return when it is ready."""
    from sqlstream.local import broker

    console.broker_up(broker.up(port=port, state_dir=_path(state_dir)))


@kafka.command("down")
@state_dir_option
def kafka_down(state_dir: str | None) -> None:
    """Stop the broker."""
    from sqlstream.local import broker

    console.broker_down(broker.down(_path(state_dir)))


@kafka.command("status")
@state_dir_option
def kafka_status(state_dir: str | None) -> None:
    """Say whether the broker runs, and where."""
    from sqlstream.local import broker

    running = broker.status(_path(state_dir))
    console.broker_status(running)
    if running is None:
        sys.exit(1)


def _path(state_dir: str | None) -> Path | None:
    """``--state-dir`` as given (relative to the current folder), or None: the project's."""
    return Path(state_dir) if state_dir else None


COMMANDS = (kafka,)
