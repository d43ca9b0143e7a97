"""Commands that work on a project without Spark: ``init``, ``compile``, ``validate``, ``ls``.

None of them imports pyspark or starts a JVM, so they answer in a fraction of a second and run
anywhere (CI, a laptop without Java).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from sqlstream.cli.console import console
from sqlstream.cli.options import ProjectArgs, output_option, project_options


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
def init(directory: str) -> None:
    """Create a working example project in DIRECTORY."""
    from sqlstream.project.scaffold import init_project

    console.created(directory, init_project(Path(directory)))


@click.command()
@project_options
@click.option(
    "--target-dir", default="target", show_default=True, help="Where to write the output."
)
def compile(project: ProjectArgs, target_dir: str) -> None:
    """Render, parse and plan; write rendered SQL and a PySpark script per file to target/."""
    from sqlstream.spark.target import write_target

    compiled = project.compile()
    console.compiled(compiled, write_target(compiled, Path(target_dir)))


@click.command()
@project_options
def validate(project: ProjectArgs) -> None:
    """Check everything compile checks; exit 0 when all is well (for CI)."""
    console.validated(project.compile(spark_sql=False))


@click.command(name="ls")
@project_options
@output_option()
def ls(project: ProjectArgs, output: str) -> None:
    """List streams, sinks and topics and how they depend on each other."""
    from sqlstream.spark.target import listing, listing_text

    data = listing(project.compile())
    console.out(json.dumps(data, indent=2) if output == "json" else listing_text(data))


COMMANDS = (init, compile, validate, ls)
