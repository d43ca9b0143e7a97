"""Options shared by the commands, as reusable decorators (dbt-core's style).

Each option is spelled, explained and defaulted once, so that ``compile``, ``run`` and ``test``
cannot drift apart. ``project_options`` hands a command its paths and the four project options
as one ``ProjectArgs``, the question every project command asks the compiler.
"""

from __future__ import annotations

import functools
import typing as t
from dataclasses import dataclass

import click

if t.TYPE_CHECKING:
    from sqlstream.compiler.facade import Compiled
    from sqlstream.compiler.schemas import Schemas
    from sqlstream.project.config import Project

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

paths_argument = click.argument("paths", nargs=-1, type=click.Path())
target_option = click.option(
    "--target", "-t", help="The target of profiles.yml to use (default: its own default)."
)
vars_option = click.option(
    "--vars", "vars_", help="Variables as YAML/JSON, e.g. '{big_amount: 500}'."
)
select_option = click.option(
    "--select",
    "-s",
    multiple=True,
    help="Only these queries: a file path, a query name (spend_1) or a stream name.",
)
profiles_dir_option = click.option(
    "--profiles-dir", type=click.Path(file_okay=False), help="Where profiles.yml is."
)
bootstrap_servers_option = click.option(
    "--bootstrap-servers", help="Override the target's Kafka bootstrap servers."
)
state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    help="Where the broker keeps its data and pid  [default: .sqlstream/kafka of the project "
    "(the folder of sqlstream.yml, found upwards), else of the current folder]",
)


def output_option(help: str | None = None) -> t.Callable[[F], F]:
    """``--output/-o text|json``: text for people, json for programs (one spelling everywhere)."""
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=help,
    )


debug_option = click.option("--debug", is_flag=True, help="Show Python tracebacks.")


@dataclass(frozen=True)
class ProjectArgs:
    """What the user asked of the project: PATHS and --target, --vars, --select, --profiles-dir."""

    paths: tuple[str, ...]
    target: str | None
    vars_: str | None
    select: tuple[str, ...]
    profiles_dir: str | None

    def compile(self, live_schemas: bool = False, spark_sql: bool = True) -> Compiled:
        """The checked plan of the selected files (every user error at once); its warnings, and
        errors outside the selection, are printed here, so that every command that compiles
        shows them. ``live_schemas``: the ``*-confluent`` formats' schemas come from the
        target's registry (and are written to the lock file), not from the lock file alone.
        ``spark_sql``: False when the plan's Spark SQL text is not shown (``validate``)."""
        from sqlstream.cli.console import console
        from sqlstream.compiler.facade import compile_project  # here: `--help` stays fast

        compiled = compile_project(
            self.paths,
            target=self.target,
            vars_override=self.vars_,
            select=self.select,
            profiles_dir=self.profiles_dir,
            registry=_live_schemas if live_schemas else None,
            spark_sql=spark_sql,
        )
        console.not_checked(compiled.not_checked)
        console.warnings(compiled.warnings)
        return compiled


def _live_schemas(project: Project) -> Schemas:
    from sqlstream.compiler.schemas import LOCK_FILE
    from sqlstream.kafka.registry import schemas_for

    return schemas_for(project.root / LOCK_FILE, project.target.schema_registry)


def project_options(fn: F) -> F:
    """PATHS, --target, --vars, --select, --profiles-dir, passed on as one ``ProjectArgs``."""

    @functools.wraps(fn)
    def wrapper(
        *args: t.Any,
        paths: tuple[str, ...],
        target: str | None,
        vars_: str | None,
        select: tuple[str, ...],
        profiles_dir: str | None,
        **kwargs: t.Any,
    ) -> t.Any:
        return fn(*args, ProjectArgs(paths, target, vars_, select, profiles_dir), **kwargs)

    # Applied innermost first: --help lists them as today (target, vars, select, profiles-dir).
    decorated: t.Callable[..., t.Any] = wrapper
    for decorate in (profiles_dir_option, select_option, vars_option, target_option):
        decorated = decorate(decorated)
    return t.cast(F, paths_argument(decorated))
