"""``sqlstream cluster up|down|status``: the Spark standalone cluster of ``sqlstream.local``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sqlstream.cli.console import console

cluster_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    help="Where the cluster keeps its logs, work dirs and pids  [default: .sqlstream/cluster of "
    "the project (the folder of sqlstream.yml, found upwards), else of the current folder]",
)


@click.group()
def cluster() -> None:
    """A local Spark standalone cluster (a master and workers, loopback), from pyspark's jars.

    A target with spark: {master: 'spark://127.0.0.1:7077'} then runs its queries there.
    """


@cluster.command("up")
@click.option("--port", default=7077, show_default=True, help="The master's port.")
@click.option("--workers", default=2, show_default=True, help="How many workers (JVMs).")
@click.option("--cores", default=1, show_default=True, help="Cores each worker offers.")
@click.option("--memory", default="1g", show_default=True, help="Memory each worker offers.")
@cluster_state_dir_option
def cluster_up(port: int, workers: int, cores: int, memory: str, state_dir: str | None) -> None:
    """Start the master and the workers; return when every worker is registered."""
    from sqlstream.local import cluster as local_cluster

    running = local_cluster.up(
        port=port, state_dir=_path(state_dir), workers=workers, cores=cores, memory=memory
    )
    console.cluster_up(running)


@cluster.command("down")
@cluster_state_dir_option
def cluster_down(state_dir: str | None) -> None:
    """Stop the workers (and their executors), then the master."""
    from sqlstream.local import cluster as local_cluster

    console.cluster_down(local_cluster.down(_path(state_dir)))


@cluster.command("status")
@cluster_state_dir_option
def cluster_status(state_dir: str | None) -> None:
    """Say whether the cluster runs, where, and which workers the master counts as alive."""
    from sqlstream.local import cluster as local_cluster

    running = local_cluster.status(_path(state_dir))
    console.cluster_status(running, local_cluster.registered(running) if running else [])
    if running is None:
        sys.exit(1)


def _path(state_dir: str | None) -> Path | None:
    """``--state-dir`` as given (relative to the current folder), or None: the project's."""
    return Path(state_dir) if state_dir else None


COMMANDS = (cluster,)
