"""CHANGELOG sinks: a running aggregate written as a log of changes, keyed by the group.

``INSERT INTO KAFKA TOPIC 't' CHANGELOG KEY user_id SELECT user_id, sum(amount) ... GROUP BY
user_id`` runs in Spark's ``update`` output mode: each micro-batch writes one record per group
whose result changed, keyed by the group, so a compacted topic holds the latest value per key
(as Flink's upsert-kafka and a ksqlDB table's changelog topic do). That is only a table when
the record key *is* the group: a key with fewer columns would merge groups, one with more would
split a group's updates over keys that are never overwritten. Hence the check here: KEY is
exactly the grouping columns, each selected as an output column.
"""

from __future__ import annotations

import typing as t

from sqlglot import exp

from sqlstream.compiler.analyse import WINDOW_FUNCTIONS, QueryDef, is_window_call
from sqlstream.compiler.plan import TopicSpec
from sqlstream.compiler.syntax import nodes as n
from sqlstream.errors import Diagnostics

COMPACT = {"cleanup.policy": "compact"}
"""The topic config a changelog topic is created with: the latest record per key is kept."""


def marker(q: QueryDef) -> n.Text | None:
    """The ``CHANGELOG`` word of a sink, None for an append-only sink or a derived stream."""
    node = q.node
    return node.changelog if isinstance(node, n.InsertKafka) else None


def check(q: QueryDef, diags: Diagnostics) -> None:
    """Errors for a CHANGELOG sink whose KEY is not exactly its grouping columns."""
    word = marker(q)
    if word is None or q.broken:
        return
    select = q.query if isinstance(q.query, exp.Select) else None
    group = select.args.get("group") if select is not None else None
    if select is None or group is None:
        diags.error(
            "CHANGELOG writes the changes of an aggregation, but this query has no GROUP BY",
            q.stmt.locate(word),
            "group by the columns of the key (GROUP BY user_id), or remove CHANGELOG to write "
            "each record once",
        )
        return
    grouped = [_output_name(g, select) for g in group.expressions]
    for g, name in zip(group.expressions, grouped):
        if name is None:
            diags.error(
                "a CHANGELOG sink is keyed by its groups, but this grouping expression is not "
                "an output column",
                q.stmt.locate(g),
                f"select it with a name, e.g. SELECT {g.sql('spark')} AS k, ..., and KEY k",
            )
    names = [g for g in grouped if g is not None]
    if len(names) != len(grouped):
        return
    _check_key(q, t.cast(n.InsertKafka, q.node), word, names, diags)


def _check_key(
    q: QueryDef, node: n.InsertKafka, word: n.Text, grouped: list[str], diags: Diagnostics
) -> None:
    wanted = grouped[0] if len(grouped) == 1 else f"({', '.join(grouped)})"
    key = node.key
    if key is None:
        diags.error(
            "CHANGELOG needs a KEY: each record is keyed by its group",
            q.stmt.locate(word),
            f"add KEY {wanted}",
        )
        return
    parts = key.expressions if isinstance(key, exp.Tuple) else [key]
    columns = [p.name for p in parts if isinstance(p, exp.Column)]
    same = len(columns) == len(parts) and sorted(c.lower() for c in columns) == sorted(
        g.lower() for g in grouped
    )
    if not same:
        diags.error(
            f"a CHANGELOG KEY must be exactly the grouping columns ({', '.join(grouped)})",
            q.stmt.locate(key),
            f"write KEY {wanted}: a key of other columns would merge or split the groups' "
            "updates, and compaction would keep the wrong ones",
        )


def _output_name(group: exp.Expr, select: exp.Select) -> str | None:
    """The output column that carries grouping expression ``group``, if one does."""
    wanted = group.sql("spark")
    for sel in select.expressions:
        inner = sel.this if isinstance(sel, exp.Alias) else sel
        if inner.sql("spark") == wanted and sel.alias_or_name:
            return sel.alias_or_name
        if (
            isinstance(sel, exp.Column)
            and is_window_call(group)
            and sel.name.lower() in WINDOW_FUNCTIONS
        ):
            return sel.name  # SELECT window, ... GROUP BY window(ts, '1 hour')
    return None


def topic_spec(
    q: QueryDef,
    topic: str | None,
    spec: TopicSpec | None,
    config_props: t.Sequence[n.Option],
    diags: Diagnostics,
) -> TopicSpec | None:
    """A CHANGELOG sink's topic, declared compacted: `run` creates a missing one so, and a
    declared ``'topic.cleanup.policy'`` that does not compact is an error."""
    word = marker(q)
    if word is None:
        return spec
    if topic is None:
        diags.error(
            "a CHANGELOG sink writes one compacted topic, but this sink routes with a TOPIC "
            "expression",
            q.stmt.locate(word),
            "write to a literal topic: INSERT INTO KAFKA TOPIC 'name' CHANGELOG KEY ...",
        )
        return spec
    spec = spec or TopicSpec()
    policy = spec.configs.get("cleanup.policy")
    if policy is not None and "compact" not in policy.lower():
        prop = next(p for p in config_props if p.name.lower() == "topic.cleanup.policy")
        diags.error(
            f"a CHANGELOG topic must be compacted, but 'topic.cleanup.policy' is '{policy}'",
            q.stmt.locate(prop.key_span),
            "use 'topic.cleanup.policy' = 'compact' (or 'compact,delete'), or leave it out",
        )
    return TopicSpec(spec.partitions, spec.replication_factor, {**COMPACT, **spec.configs})
