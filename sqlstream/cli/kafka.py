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
def kafka_up(port: int, state_dir: str) -> None:
    """Start the broker (fetching its jars once) and return when it is ready."""
    from sqlstream.local import broker

    console.broker_up(broker.up(port=port, state_dir=Path(state_dir)))


@kafka.command("down")
@state_dir_option
def kafka_down(state_dir: str) -> None:
    """Stop the broker."""
    from sqlstream.local import broker

    console.broker_down(broker.down(Path(state_dir)))


@kafka.command("status")
@state_dir_option
def kafka_status(state_dir: str) -> None:
    """Say whether the broker runs, and where."""
    from sqlstream.local import broker

    running = broker.status(Path(state_dir))
    console.broker_status(running)
    if running is None:
        sys.exit(1)


COMMANDS = (kafka,)
