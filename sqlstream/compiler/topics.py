"""What a sink needs of its topic: the topic it declares, and the partitions its PARTITION needs.

A sink may declare its topic in ``WITH (...)``: ``partitions``, ``replication_factor`` and quoted
``'topic.<kafka topic config>'`` keys. `run` checks every output topic before any query starts
and creates a missing one from this declaration (``sqlstream.kafka.preflight``), so a run never
depends on the broker's auto-create, nor on its default of one partition.

A PARTITION clause needs the topic to have more partitions than the largest value it can yield.
That is known from the SQL for a literal and for ``pmod(x, n)`` / ``x % n`` with a literal ``n``
(``_BOUNDS``); for anything else only the run can tell, and the preflight says so.
"""

from __future__ import annotations

import typing as t

from sqlglot import exp

from sqlstream.compiler import options
from sqlstream.compiler.plan import TopicSpec
from sqlstream.compiler.syntax.nodes import Option, OptionValue
from sqlstream.errors import Diagnostics

if t.TYPE_CHECKING:  # pragma: no cover - the statement type of the parser of the day
    from sqlstream.compiler.parse import Statement


def is_topic_config(prop: Option) -> bool:
    """A ``'topic.*'`` key of a sink's ``WITH``: a config of the topic, not of the query."""
    return prop.name.lower().startswith(options.TOPIC_CONFIG_PREFIX)


def topic_configs(
    stmt: Statement,
    props: t.Sequence[Option],
    value_of: t.Callable[[OptionValue], str],
    diags: Diagnostics,
) -> dict[str, str]:
    """``{'cleanup.policy': 'compact'}`` from ``'topic.cleanup.policy' = 'compact'``."""
    configs: dict[str, str] = {}
    for prop in props:
        key = prop.name[len(options.TOPIC_CONFIG_PREFIX) :]
        value_node = prop.value
        if not key:
            diags.error(
                "'topic.' names no topic config",
                stmt.locate(prop.key_span),
                "e.g. 'topic.cleanup.policy' = 'compact' or 'topic.retention.ms' = '86400000'",
            )
        elif key in configs:
            diags.error(
                f"option '{prop.name}' is given twice", stmt.locate(prop.key_span), "keep one"
            )
        else:
            configs[key] = value_of(value_node) if value_node is not None else ""
    return configs


def topic_spec(
    stmt: Statement,
    topic: str | None,
    values: dict[str, str],
    nodes: dict[str, OptionValue],
    configs: dict[str, str],
    config_props: t.Sequence[Option],
    diags: Diagnostics,
) -> TopicSpec | None:
    """The sink's declared topic, or None when it declares nothing. A declaration describes one
    topic: with a TOPIC expression there is no one topic to create."""
    declared = [k for k in options.TOPIC_OPTIONS if k in values]
    if not declared and not configs:
        return None
    if topic is None:
        where = nodes[declared[0]].span if declared else config_props[0].key_span
        diags.error(
            "a topic declaration (partitions, replication_factor, 'topic.*') needs a literal "
            "topic, but this sink routes with a TOPIC expression",
            stmt.locate(where),
            "create each topic with `sqlstream topics create NAME --partitions N`",
        )
        return None
    number = {k: int(values[k]) for k in declared}
    return TopicSpec(number.get("partitions"), number.get("replication_factor"), configs)


def _literal_int(node: exp.Expr) -> int | None:
    return int(node.this) if isinstance(node, exp.Literal) and node.is_int else None


def _pmod_bound(node: exp.Expr) -> int | None:
    args = node.expressions if isinstance(node, exp.Anonymous) else []
    if str(node.this).lower() == "pmod" and len(args) == 2:
        return _literal_int(args[1])
    return None


_BOUNDS: dict[type[exp.Expr], t.Callable[[exp.Expr], int | None]] = {
    # node kind -> the number of partitions the values of such a PARTITION expression need
    exp.Literal: lambda n: None if (v := _literal_int(n)) is None else v + 1,
    exp.Mod: lambda n: _literal_int(n.expression),
    exp.Anonymous: _pmod_bound,
    exp.Paren: lambda n: partitions_needed(n.this),
}


def partitions_needed(node: exp.Expr | None) -> int | None:
    """The fewest partitions a topic needs for ``PARTITION node``, when the SQL tells."""
    if node is None:
        return None
    bound = _BOUNDS.get(type(node))
    return bound(node) if bound is not None else None


def check_declared_partitions(
    stmt: Statement,
    spec: TopicSpec | None,
    needed: int | None,
    partition: exp.Expr | None,
    diags: Diagnostics,
) -> None:
    """A PARTITION clause that the declared partitions cannot hold: known at compile time."""
    if spec is None or spec.partitions is None or needed is None or partition is None:
        return
    if needed > spec.partitions:
        diags.error(
            f"PARTITION {partition.sql('spark')} needs {needed} partitions, but the sink declares "
            f"partitions = {spec.partitions}",
            stmt.locate(partition),
            f"declare partitions = {needed}, or keep the PARTITION values below {spec.partitions}",
        )
