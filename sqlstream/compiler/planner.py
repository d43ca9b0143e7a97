"""Analysed statements -> a Plan: option checks, the append-only rule, sink checks, lowering.

Everything a run needs is decided here, as data, before anything starts: each source's exact
Spark options and decoding, each sink's key/value/topic/partition/headers as Spark SQL text.
"""

from __future__ import annotations

import typing as t
from pathlib import Path, PurePath

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from sqlstream.compiler import (
    appendonly,
    changelog,
    checks,
    formats,
    lower,
    optiondefaults,
    options,
    schemas,
    syntax,
    tables,
    topics,
    triggers,
)
from sqlstream.compiler.analyse import SPARK, Analysis, QueryDef, SourceDef, did_you_mean
from sqlstream.compiler.parse import Statement
from sqlstream.compiler.plan import Plan, SinkPlan, SourcePlan, Trigger, ViewPlan
from sqlstream.compiler.syntax import nodes as syntax_nodes
from sqlstream.errors import Diagnostics, Location, UserError
from sqlstream.project.config import DefaultOption

INTEGRAL = {"TINYINT", "SMALLINT", "INT", "BIGINT", "BYTE", "SHORT", "LONG", "INTEGER"}


def build_plan(
    analysis: Analysis,
    project_name: str,
    diags: Diagnostics,
    defaults: t.Mapping[str, t.Mapping[str, DefaultOption]] | None = None,
    registry: schemas.Schemas | None = None,
    spark_sql: bool = True,
) -> Plan:
    """``registry``: where the ``*-confluent`` formats' schemas are (``compiler.schemas``).

    ``spark_sql``: write each query's Spark SQL text into the plan; ``validate``, which shows
    none of it, says False (the generator was a tenth of a long query's validate) and gets
    plans whose ``sql`` is empty."""
    registry = registry or schemas.LockedSchemas(Path(schemas.LOCK_FILE))
    plan = Plan(project=project_name, settings=dict(analysis.settings))
    checked_defaults = optiondefaults.check(defaults, diags)
    source_defaults = checked_defaults["source"]
    sink_defaults = checked_defaults["sink"]
    for src in analysis.sources.values():
        sp = _plan_source(src, diags, source_defaults, registry)
        if sp is not None:
            plan.sources.append(sp)
    for table in analysis.tables.values():
        table_plan = tables.plan_table(table, diags)
        if table_plan is not None:
            plan.tables.append(table_plan)
    for q in [*analysis.views, *analysis.sinks]:
        tables.check_reads_a_stream(q, analysis, diags)
    plan.views = [_plan_view(v, spark_sql) for v in analysis.views]

    checked_views: set[str] = set()
    reported: set[int] = set()
    per_file: dict[str, int] = {}
    names: dict[str, Statement] = {}
    rate_limited: set[str] = set()
    for q in analysis.sinks:
        per_file[q.stmt.file.path] = per_file.get(q.stmt.file.path, 0) + 1
        not_append_only = appendonly.check(q, analysis, checked_views)
        diags.add_all(not_append_only)
        sink = _plan_sink(
            q, analysis, project_name, per_file[q.stmt.file.path], diags, sink_defaults, registry
        )
        if sink is None:
            continue
        sink.sql = syntax.to_spark_sql(q.query) if spark_sql else ""
        if (
            sink.trigger is not None
            and triggers.kind(sink.trigger.kind).stateless_mode
            and not not_append_only
        ):
            diags.add_all(_stateless_mode_errors(q, analysis, sink.trigger.kind, reported))
        if sink.name in names:
            diags.error(
                f"two queries are named '{sink.name}'",
                q.stmt.locate(),
                f"the other is at {names[sink.name].locate()}; set WITH (name = '...') on one",
            )
        names[sink.name] = q.stmt
        if sink.delivery == "exactly_once":
            _warn_nondeterministic(q, analysis, diags)
        diags.add_all(_rate_limit_errors(sink, q, analysis, plan, rate_limited))
        plan.sinks.append(sink)
    checks.check(analysis, plan, diags)
    return plan


def _plan_view(v: QueryDef, spark_sql: bool) -> ViewPlan:
    assert v.name
    sql = syntax.to_spark_sql(v.query) if spark_sql else ""
    return ViewPlan(v.name, v.stmt.file.path, sql, v.fields, v.stmt.locate().line)


# --- options --------------------------------------------------------------------------------


def option_value(node: syntax_nodes.OptionValue) -> str:
    return node.text


def _collect_options(
    stmt: Statement,
    props: t.Sequence[syntax_nodes.Option],
    specs: dict[str, options.OptionSpec],
    refused: dict[str, str],
    diags: Diagnostics,
    what: str,
) -> tuple[dict[str, str], dict[str, syntax_nodes.OptionValue], dict[str, str]]:
    """(sqlstream options, their nodes, 'kafka.*' pass-through options)."""
    values: dict[str, str] = {}
    nodes: dict[str, syntax_nodes.OptionValue] = {}
    kafka: dict[str, str] = {}
    for prop in props:
        key_node = prop.key_span
        key = prop.name
        value_node = prop.value
        value = option_value(value_node)
        if key.lower().startswith("kafka."):
            if key.lower() in refused:
                diags.error(
                    f"Spark does not allow the Kafka option '{key}'",
                    stmt.locate(key_node),
                    refused[key.lower()],
                )
                continue
            if key.lower() == "kafka.bootstrap.servers":
                diags.error(
                    "the broker address comes from the target, not from the query",
                    stmt.locate(key_node),
                    "set bootstrap_servers in profiles.yml, or pass --bootstrap-servers to run",
                )
                continue
            kafka[key] = value
            continue
        lname = key.lower()
        if what == "source" and lname in options.BOUNDED_RUN_ONLY:
            diags.error(
                f"{options.BOUNDED_RUN_ONLY[lname]}: '{key}' is for a bounded run",
                stmt.locate(key_node),
                options.BOUNDED_RUN_HINT,
            )
            continue
        if lname not in specs:
            diags.error(
                f"unknown {what} option '{key}'",
                stmt.locate(key_node),
                did_you_mean(key, list(specs))
                or f"the {what} options are: {', '.join(specs)}; Kafka client settings are "
                "quoted, e.g. 'kafka.group.id' = 'x'",
            )
            continue
        if lname in values:
            diags.error(f"option '{key}' is given twice", stmt.locate(key_node), "keep one")
            continue
        spec = specs[lname]
        problem = options.check_value(spec, value)
        if problem:
            diags.error(
                f"option '{key}' {problem}",
                stmt.locate(value_node),
                spec.doc,
            )
            continue
        values[lname] = value.lower() if spec.kind == "enum" else value
        nodes[lname] = value_node
    return values, nodes, kafka


# --- sources --------------------------------------------------------------------------------


def _plan_source(
    src: SourceDef,
    diags: Diagnostics,
    source_defaults: optiondefaults.Defaults,
    registry: schemas.Schemas,
) -> SourcePlan | None:
    stmt, node = src.stmt, src.node
    before = len(diags.errors)
    values, nodes, kafka = _source_options(src, diags, source_defaults)
    name_loc = stmt.locate(node.name)
    read: dict[str, str] = {}
    _topic_read_option(src, values, nodes, name_loc, read, diags)
    _offset_read_options(src, values, nodes, name_loc, read, diags)

    value_format = values.get("format", "json")
    key_format = values.get("key_format", "text")
    on_error = values.get("on_error", "fail")
    on_tombstone = values.get("on_tombstone", lower.ON_TOMBSTONE[0])
    dlq_topic = values.get("dlq_topic")
    _check_dead_letters(src, values, nodes, name_loc, (on_error, on_tombstone), diags)
    value_row = formats.FORMATS.get(value_format)  # an unknown one: reported by the lowering
    if value_row is not None and value_row.schema_option and value_row.schema_option not in values:
        diags.error(
            f"stream '{src.name}' reads Avro but gives no schema",
            stmt.locate(nodes["format"]) if "format" in nodes else name_loc,
            'add avro_schema = \'{"type": "record", ...}\'',
        )
    _check_columns(src, value_format, key_format, diags)

    # The DLQ writes the original headers back unchanged, so it reads them too.
    if dlq_topic or any(c.role in ("header", "headers") for c in src.columns):
        read["includeHeaders"] = "true"
    read.update(kafka)
    if len(diags.errors) > before:
        return None

    format_options: dict[str, str] = {k: values[k] for k in formats.FORMAT_OPTIONS if k in values}
    try:
        sides = [
            (role, fmt, [c for c in src.columns if c.role == role])
            for role, fmt in (("value", value_format), ("key", key_format))
        ]
        format_options.update(schemas.source_options(values.get("topic"), values, sides, registry))
        decoding = lower.decode(src.columns, value_format, key_format, format_options)
    except schemas.SchemaProblem as e:
        where = stmt.locate(nodes["format"]) if "format" in nodes else name_loc
        diags.error(e.message, where, e.hint)
        return None
    except ValueError as e:
        diags.error(str(e), name_loc, None)
        return None
    wm_delay = _watermark_delay(src, diags)
    if len(diags.errors) > before:
        return None
    return SourcePlan(
        name=src.name,
        file=stmt.file.path,
        columns=src.columns,
        value_format=value_format,
        key_format=key_format,
        read_options=read,
        decoding=decoding,
        on_error=on_error,
        error_filter=lower.error_filter(decoding, on_error, src.name, on_tombstone),
        dlq_topic=dlq_topic,
        dlq_partitions=int(values["dlq_partitions"]) if "dlq_partitions" in values else None,
        dlq_exprs=lower.dlq_exprs(decoding, src.name, f"{src.name}_dlq", on_tombstone)
        if dlq_topic
        else [],
        on_tombstone=on_tombstone,
        dlq_filter=lower.dlq_filter(decoding, on_error, on_tombstone),
        watermark_column=src.watermark_column,
        watermark_delay=wm_delay,
    )


def _starting_timestamp(
    values: dict[str, str],
    nodes: dict[str, syntax_nodes.OptionValue],
    stmt: Statement,
    diags: Diagnostics,
    read: dict[str, str],
) -> None:
    """``starting_timestamp``: Spark's ``startingTimestamp``, in milliseconds.

    With it, a partition that has no record at or after the timestamp starts at its end
    (``startingOffsetsByTimestampStrategy = latest``) instead of failing the query, Spark's
    default: a stream started "from 10:00" on a quiet partition waits for new records.
    """
    if "starting_timestamp" not in values:
        return
    node = nodes["starting_timestamp"]
    if "starting_offsets" in values:
        diags.error(
            "give one of starting_offsets and starting_timestamp, not both",
            stmt.locate(node),
            "Spark would silently use starting_timestamp; remove one",
        )
        return
    try:
        ms = options.parse_timestamp_ms(values["starting_timestamp"])
    except ValueError as e:
        diags.error(
            f"option 'starting_timestamp' is not valid: {e}",
            stmt.locate(node),
            "e.g. starting_timestamp = '2024-05-01T10:00:00Z' (UTC when no zone) or milliseconds"
            " since the epoch",
        )
        return
    read["startingTimestamp"] = str(ms)
    read["startingOffsetsByTimestampStrategy"] = "latest"


def _rate_limit_errors(
    sink: SinkPlan, q: QueryDef, analysis: Analysis, plan: Plan, seen: set[str]
) -> list[UserError]:
    """A source's ``max_offsets_per_trigger`` under a trigger that ignores or refuses it
    (``TriggerKind.rate_limit``): ``trigger = 'once'`` read 150 records of a source limited to
    100, silently. Located at the option (or, when it comes from ``defaults.source``, at the
    query); reported once per source."""
    kind = triggers.kind(sink.trigger.kind if sink.trigger else None)
    if kind.rate_limit == "respected":
        return []
    errors = []
    for src in plan.sources:
        limited = [
            o for o in options.RATE_LIMITS if options.SOURCE_OPTIONS[o].spark in src.read_options
        ]
        if src.name not in sink.sources or not limited or src.name in seen:
            continue
        seen.add(src.name)
        d = analysis.sources[src.name]
        prop = next((p for p in d.node.options if p.name.lower() == limited[0]), None)
        what = "ignores" if kind.rate_limit == "ignored" else "refuses"
        errors.append(
            UserError(
                f"query {sink.name} runs with trigger '{kind.word}', which {what} {limited[0]} of "
                f"stream '{src.name}'",
                d.stmt.locate(prop.key_span) if prop is not None else q.stmt.locate(),
                "use trigger = 'available_now' or a processing-time trigger to read at most that "
                "many records per batch, `sqlstream run PATH --until ...` to read a range once, "
                f"or remove {limited[0]}",
            )
        )
    return errors


def _source_options(
    src: SourceDef, diags: Diagnostics, source_defaults: optiondefaults.Defaults
) -> tuple[dict[str, str], dict[str, syntax_nodes.OptionValue], dict[str, str]]:
    """The stream's options, checked, with the project's source defaults (never a topic)."""
    return _options_with_defaults(src.stmt, src.node.options, "source", source_defaults, diags)


def _misspelt_selector(given: set[str]) -> bool:
    unknown = given - options.SOURCE_OPTIONS.keys() - options.BOUNDED_RUN_ONLY.keys()
    return any(
        not k.startswith("kafka.") and did_you_mean(k, list(options.TOPIC_SELECTORS))
        for k in unknown
    )


def _topic_read_option(
    src: SourceDef,
    values: dict[str, str],
    nodes: dict[str, syntax_nodes.OptionValue],
    name_loc: Location,
    read: dict[str, str],
    diags: Diagnostics,
) -> None:
    """Exactly one of topic, topics, topic_pattern: its Spark option goes to ``read``."""
    stmt = src.stmt
    selectors = [k for k in options.TOPIC_SELECTORS if k in values]
    given = {p.name.lower() for p in src.node.options}
    if not selectors:
        # A selector given with a bad value, or misspelt (`topc`: an unknown option, with
        # "did you mean 'topic'?"), was reported already.
        if not given & set(options.TOPIC_SELECTORS) and not _misspelt_selector(given):
            diags.error(
                f"stream '{src.name}' names no topic",
                name_loc,
                "add topic = 'name' (or topics = 'a,b', or topic_pattern = 'regex')"
                " to FROM KAFKA (...)",
            )
    elif len(selectors) > 1:
        diags.error(
            f"stream '{src.name}' names its topics twice: {' and '.join(selectors)}",
            stmt.locate(nodes[selectors[1]]),
            "keep exactly one of topic, topics, topic_pattern",
        )
    else:
        sel = selectors[0]
        value = _TOPIC_SELECTOR_CHECKS[sel](values[sel], stmt.locate(nodes[sel]), diags)
        read[options.SOURCE_OPTIONS[sel].spark or sel] = value


def _check_topics(value: str, loc: Location, diags: Diagnostics) -> str:
    topics = [x.strip() for x in value.split(",")]
    if any(not x for x in topics):
        diags.error("option 'topics' has an empty topic name", loc, "e.g. topics = 'a,b'")
    return ",".join(topics)


def _check_topic(value: str, loc: Location, diags: Diagnostics) -> str:
    if "," in value or not value.strip():
        diags.error(
            f"option 'topic' must be one topic name, not '{value}'",
            loc,
            "use topics = 'a,b' for several topics",
        )
    return value


def _check_topic_pattern(value: str, loc: Location, diags: Diagnostics) -> str:
    if problem := options.check_topic_pattern(value):
        diags.error(f"option 'topic_pattern' is {problem}", loc, "e.g. topic_pattern = 'orders-.*'")
    return value


_TOPIC_SELECTOR_CHECKS: dict[str, t.Callable[[str, Location, Diagnostics], str]] = {
    "topics": _check_topics,
    "topic": _check_topic,
    "topic_pattern": _check_topic_pattern,
}
"""Each topic selector's check, which returns the value Spark is given."""


def _offset_read_options(
    src: SourceDef,
    values: dict[str, str],
    nodes: dict[str, syntax_nodes.OptionValue],
    name_loc: Location,
    read: dict[str, str],
    diags: Diagnostics,
) -> None:
    """starting_offsets, checked, and the options Spark takes as they are, into ``read``."""
    stmt = src.stmt
    if "starting_offsets" in values:
        problem = options.check_starting_offsets(values["starting_offsets"])
        if problem:
            diags.error(
                f"option 'starting_offsets' is not valid: {problem}",
                stmt.locate(nodes.get("starting_offsets"))
                if nodes.get("starting_offsets") is not None
                else name_loc,
                "use 'earliest', 'latest' or '{\"orders\": {\"0\": 42}}'",
            )
        else:
            value = values["starting_offsets"]
            read["startingOffsets"] = (
                value.lower() if value.lower() in ("earliest", "latest") else value
            )
    _starting_timestamp(values, nodes, stmt, diags, read)
    for key in ("max_offsets_per_trigger", "min_offsets_per_trigger", "fail_on_data_loss"):
        if key in values:
            read[t.cast(str, options.SOURCE_OPTIONS[key].spark)] = values[key]


def _check_dead_letters(
    src: SourceDef,
    values: dict[str, str],
    nodes: dict[str, syntax_nodes.OptionValue],
    name_loc: Location,
    policies: tuple[str, str],
    diags: Diagnostics,
) -> None:
    """A 'dlq' policy needs dlq_topic, and dlq_topic needs a 'dlq' policy (on_error,
    on_tombstone)."""
    stmt = src.stmt
    dlq_topic = values.get("dlq_topic")
    for policy, what in (("on_error", "malformed records"), ("on_tombstone", "tombstones")):
        if values.get(policy) == "dlq" and not dlq_topic:
            diags.error(
                f"stream '{src.name}' sends {what} to a dead-letter topic but names none",
                stmt.locate(nodes[policy]) if policy in nodes else name_loc,
                f"add dlq_topic = '{src.name}.DLT'",
            )
    if dlq_topic and "dlq" not in policies:
        diags.error(
            "option 'dlq_topic' is only used with on_error = 'dlq' or on_tombstone = 'dlq'",
            stmt.locate(nodes["dlq_topic"]),
            "add on_error = 'dlq', or remove dlq_topic",
        )


def _watermark_delay(src: SourceDef, diags: Diagnostics) -> str | None:
    """The delay of ``WATERMARK FOR col AS col - INTERVAL ...`` as Spark takes it (None: none).

    A mistake is reported in ``diags`` (the caller sees the count grow)."""
    stmt = src.stmt
    wm = src.node.watermark
    if wm is None or not src.watermark_column:
        return None
    delay_node = wm.delay
    interval = delay_node.expression if isinstance(delay_node, exp.Sub) else None
    if not isinstance(delay_node, (exp.Sub, exp.Column)) or (
        isinstance(delay_node, exp.Sub)
        and delay_node.this.name.lower() != src.watermark_column.lower()
    ):
        diags.error(
            "a watermark is written 'WATERMARK FOR col AS col - INTERVAL ...'",
            stmt.locate(delay_node),
            f"e.g. WATERMARK FOR {src.watermark_column} AS {src.watermark_column}"
            " - INTERVAL '10' MINUTES",
        )
        return None
    try:
        return (
            lower.watermark_delay(syntax.expression_sql(interval))
            if interval is not None
            else "0 seconds"
        )
    except ValueError as e:
        diags.error(
            f"cannot use this watermark delay: {e}",
            stmt.locate(delay_node),
            "e.g. INTERVAL '10' MINUTES",
        )
        return None


def _check_columns(src: SourceDef, value_format: str, key_format: str, diags: Diagnostics) -> None:
    stmt = src.stmt
    col_nodes = {c.name.text: c for c in src.node.columns}
    keys = [c for c in src.columns if c.role == "key"]
    values = [c for c in src.columns if c.role == "value"]
    # An unknown format is reported by the lowering; json's rules leave its columns alone here.
    key_row = formats.FORMATS.get(key_format, formats.FORMATS["json"])
    value_row = formats.FORMATS.get(value_format, formats.FORMATS["json"])
    if not key_row.many and len(keys) > 1:
        diags.error(
            f"stream '{src.name}' declares {len(keys)} KEY columns"
            f" but key_format = '{key_format}' holds one",
            stmt.locate(col_nodes[keys[1].name]),
            "use key_format = 'json' for a key that is an object of several columns",
        )
    if key_row.binary and keys and keys[0].type.upper() != "BINARY":
        diags.error(
            f"with key_format = 'raw' the KEY column '{keys[0].name}' must be BINARY",
            stmt.locate(col_nodes[keys[0].name]),
            f"declare it '{keys[0].name} BINARY KEY', or use key_format = 'text'",
        )
    if not value_row.many and len(values) > 1:
        diags.error(
            f"format = '{value_format}' gives one value column,"
            f" but stream '{src.name}' declares {len(values)}",
            stmt.locate(col_nodes[values[1].name]),
            "use format = 'json' or 'csv' for several fields",
        )
    if value_row.binary and values and values[0].type.upper() != "BINARY":
        diags.error(
            f"with format = 'raw' the value column '{values[0].name}' must be BINARY",
            stmt.locate(col_nodes[values[0].name]),
            f"declare it '{values[0].name} BINARY', or use format = 'text'",
        )
    for c in src.columns:
        if c.role == "metadata" and c.ref not in formats.METADATA_FIELDS:
            diags.error(
                f"unknown metadata field '{c.ref}'",
                stmt.locate(col_nodes[c.name].ref or col_nodes[c.name]),
                "METADATA FROM takes " + _one_of(list(formats.METADATA_FIELDS)),
            )
        if c.role == "headers" and not formats.is_headers_type(c.type):
            diags.error(
                f"a HEADERS column is {formats.HEADERS_DECLARED}, not {c.type}",
                stmt.locate(col_nodes[c.name]),
                f"declare it '{c.name} {formats.HEADERS_DECLARED} HEADERS'",
            )


# --- sinks ----------------------------------------------------------------------------------


def _plan_sink(
    q: QueryDef,
    analysis: Analysis,
    project_name: str,
    number: int,
    diags: Diagnostics,
    sink_defaults: optiondefaults.Defaults,
    registry: schemas.Schemas,
) -> SinkPlan | None:
    stmt, node = q.stmt, t.cast(syntax_nodes.InsertKafka, q.node)
    before = len(diags.errors)
    config_props = [p for p in node.options if topics.is_topic_config(p)]
    configs = topics.topic_configs(stmt, config_props, option_value, diags)
    values, nodes, kafka = _sink_options(stmt, node, diags, sink_defaults)
    name = values.get("name") or f"{PurePath(stmt.file.path).stem}_{number}"
    trigger = _sink_trigger(stmt, values, nodes, diags)
    value_format, sink_row = _sink_format(stmt, node, values, diags)

    if q.broken or not q.fields:
        return None  # the query itself failed to analyse; reported already
    topic, topic_sql = _sink_topic(q, node, diags)
    key_sql, key_columns = _sink_key(q, node, diags)
    partition = node.partition
    partition_sql = (
        _sink_expression(q, partition, "PARTITION", diags, want="integral")
        if partition is not None
        else None
    )
    topic_spec = topics.topic_spec(stmt, topic, values, nodes, configs, config_props, diags)
    changelog.check(q, diags)
    topic_spec = changelog.topic_spec(q, topic, topic_spec, config_props, diags)
    topics.check_declared_partitions(
        stmt, topic_spec, topics.partitions_needed(partition), partition, diags
    )
    header_pairs, headers_sql = _sink_headers(q, node, diags)
    delivery = _sink_delivery(stmt, values, nodes, topic, trigger, diags)
    value_sql = None
    if node.value is not None:
        value_sql = _sink_expression(q, node.value, "VALUE", diags)

    if sink_row is not None and not sink_row.many and value_sql is None and len(q.fields) != 1:
        diags.error(
            f"FORMAT {value_format} writes one column, but the SELECT has {len(q.fields)}",
            stmt.locate(node.format),
            "select one column, use FORMAT json, or build the value with VALUE <expr>",
        )
    if len(diags.errors) > before:
        return None
    format_options: dict[str, str] = {k: values[k] for k in formats.FORMAT_OPTIONS if k in values}
    try:
        if value_sql is None:
            format_options.update(
                schemas.sink_options(topic, values, value_format, q.fields, registry)
            )
        if "key_format" in values:  # a registry format: the KEY's columns as a record
            key_sql, key_columns = _registry_key(q, node, values, topic, key_columns, registry)
    except (schemas.SchemaProblem, ValueError) as e:
        problem = e if isinstance(e, schemas.SchemaProblem) else schemas.SchemaProblem(str(e))
        diags.error(problem.message, stmt.locate(node.format or node.key), problem.hint)
        return None
    write_exprs = lower.encode(
        q.fields,
        value_format,
        key_sql=key_sql,
        key_columns=key_columns,
        partition_sql=partition_sql,
        header_pairs=header_pairs,
        headers_sql=headers_sql,
        topic_sql=topic_sql,
        value_sql=value_sql,
        format_options=format_options,
    )
    sources, views = analysis.upstream(q.reads)
    checkpoint = values.get("checkpoint") or f"{project_name}/{name}"
    return SinkPlan(
        name=name,
        file=stmt.file.path,
        line=stmt.locate().line,
        sql="",  # written by build_plan when asked for
        fields=q.fields,
        write_exprs=write_exprs,
        value_format=value_format,
        key_format=values.get("key_format"),
        topic=topic,
        write_options=kafka,
        trigger=trigger,
        checkpoint=checkpoint,
        sources=sources,
        views=views,
        topic_spec=topic_spec,
        partition_sql=syntax.expression_sql(partition) if partition is not None else None,
        partitions_needed=topics.partitions_needed(partition),
        delivery=delivery,
        changelog=node.changelog is not None,
        tables=analysis.tables_read(q.reads),
    )


def _sink_delivery(
    stmt: Statement,
    values: dict[str, str],
    nodes: dict[str, syntax_nodes.OptionValue],
    topic: str | None,
    trigger: Trigger | None,
    diags: Diagnostics,
) -> str:
    """``delivery``; ``exactly_once`` needs micro-batches (one transaction each) and a literal
    topic (whose partition 0 holds the committed-batch marker: docs/lowering.md)."""
    delivery = values.get("delivery", options.DELIVERY[0])
    if delivery != "exactly_once":
        return delivery
    where = stmt.locate(nodes["delivery"]) if "delivery" in nodes else stmt.locate()
    mode = triggers.kind(trigger.kind).stateless_mode if trigger else None
    if mode:
        diags.error(
            f"delivery = 'exactly_once' writes one Kafka transaction per micro-batch, and {mode}"
            " has no micro-batches",
            where,
            "use a processing-time trigger, e.g. trigger = '10 seconds', or at_least_once",
        )
    if topic is None:
        diags.error(
            "delivery = 'exactly_once' needs a literal TOPIC: the batch it committed last is"
            " recorded on that topic",
            where,
            "write to one topic per query (INSERT INTO KAFKA TOPIC 'name'), or use at_least_once",
        )
    return delivery


_NONDETERMINISTIC = (exp.Rand, exp.Randn, exp.Uuid, exp.Shuffle)
_NONDETERMINISTIC_NAMES = ("now", "curdate", "random", "monotonically_increasing_id", "uuid")


def _warn_nondeterministic(q: QueryDef, analysis: Analysis, diags: Diagnostics) -> None:
    """A stateful exactly-once query whose values change from one run of a batch to the next.

    Its records stay exactly once (one run of each batch is committed), but a batch committed
    just before a crash is run again, not written, and its state is the second run's: with
    ``rand()`` or ``current_timestamp()`` inside, the state can disagree with the records
    written (docs/lowering.md, "Exactly once into Kafka"). A stateless query has no state."""
    if next(_stateful_parts(q.query, analysis, triggers.DEFAULT.name), None) is None:
        return
    found = [
        c
        for c in q.query.find_all(*_NONDETERMINISTIC, *_CURRENT_TIME, exp.Anonymous)
        if not isinstance(c, exp.Anonymous) or c.name.lower() in _NONDETERMINISTIC_NAMES
    ]
    if found:
        diags.warn(
            f"{found[0].sql(SPARK)} gives another value each time a batch runs: after a crash,"
            " the state of this exactly-once query may disagree with the records it wrote",
            q.stmt.locate(found[0]),
            "compute from the records (event time, Kafka timestamp, a hash of columns) instead",
        )


def _sink_options(
    stmt: Statement,
    node: syntax_nodes.InsertKafka,
    diags: Diagnostics,
    sink_defaults: optiondefaults.Defaults,
) -> tuple[dict[str, str], dict[str, syntax_nodes.OptionValue], dict[str, str]]:
    """The sink's options but the topic's configs, checked, with the project's defaults."""
    props = [p for p in node.options if not topics.is_topic_config(p)]
    return _options_with_defaults(stmt, props, "sink", sink_defaults, diags)


#: The option table and the refused Kafka options of each kind of statement.
_OPTION_TABLES: dict[str, tuple[dict[str, options.OptionSpec], dict[str, str]]] = {
    "source": (options.SOURCE_OPTIONS, options.REFUSED_SOURCE_KAFKA_OPTIONS),
    "sink": (options.SINK_OPTIONS, options.REFUSED_SINK_KAFKA_OPTIONS),
}


def _options_with_defaults(
    stmt: Statement,
    props: t.Sequence[syntax_nodes.Option],
    what: str,
    defaults: optiondefaults.Defaults,
    diags: Diagnostics,
) -> tuple[dict[str, str], dict[str, syntax_nodes.OptionValue], dict[str, str]]:
    specs, refused = _OPTION_TABLES[what]
    values, nodes, kafka = _collect_options(stmt, props, specs, refused, diags, what)
    defaults.apply(values, kafka)
    return values, nodes, kafka


def _sink_trigger(
    stmt: Statement,
    values: dict[str, str],
    nodes: dict[str, syntax_nodes.OptionValue],
    diags: Diagnostics,
) -> Trigger | None:
    if "trigger" not in values:
        return None
    parsed = options.parse_trigger(values["trigger"])
    if parsed is None:
        diags.error(
            f"trigger '{values['trigger']}' is not a trigger",
            stmt.locate(nodes.get("trigger"))
            if nodes.get("trigger") is not None
            else stmt.locate(),
            f"use {triggers.EXAMPLES}",
        )
        return None
    return Trigger(parsed[0], parsed[1])


def _sink_format(
    stmt: Statement, node: syntax_nodes.InsertKafka, values: dict[str, str], diags: Diagnostics
) -> tuple[str, formats.Format | None]:
    """FORMAT (json by default) and its row of the vocabulary (None: unknown, reported)."""
    fmt_node = node.format
    value_format = fmt_node.value.lower() if fmt_node is not None else "json"
    if value_format not in options.VALUE_FORMATS:
        diags.error(
            f"unknown format '{fmt_node.value if fmt_node is not None else value_format}'",
            stmt.locate(fmt_node),
            did_you_mean(value_format, list(options.VALUE_FORMATS))
            or f"FORMAT is one of {', '.join(options.VALUE_FORMATS)}",
        )
    sink_row = formats.FORMATS.get(value_format)
    schema_option = sink_row.schema_option if sink_row is not None else None
    if schema_option and schema_option not in values and node.value is None:
        diags.error(
            "FORMAT avro needs a schema",
            stmt.locate(fmt_node),
            'add WITH (avro_schema = \'{"type": "record", ...}\')',
        )
    return value_format, sink_row


def _sink_topic(
    q: QueryDef, node: syntax_nodes.InsertKafka, diags: Diagnostics
) -> tuple[str | None, str | None]:
    """(the topic's name, or the SQL of the per-row topic expression)."""
    topic_node = node.topic
    topic: str | None = None
    topic_sql: str | None = None
    if isinstance(topic_node, syntax_nodes.Text):
        topic = topic_node.value
        if not topic.strip():
            diags.error(
                "the topic name is empty",
                q.stmt.locate(topic_node),
                "INSERT INTO KAFKA TOPIC 'name' ...",
            )
    elif topic_node is not None:
        inner: exp.Expr = topic_node.this if isinstance(topic_node, exp.Paren) else topic_node
        topic_sql = _sink_expression(q, inner, "TOPIC", diags, want="string")
    return topic, topic_sql


def _sink_key(
    q: QueryDef, node: syntax_nodes.InsertKafka, diags: Diagnostics
) -> tuple[str | None, list[str] | None]:
    """(the SQL of ``KEY expr``, or the output columns of ``KEY (a, b)``)."""
    key = node.key
    key_sql: str | None = None
    key_columns: list[str] | None = None
    if isinstance(key, exp.Tuple):
        key_columns = []
        for e in key.expressions:
            if not isinstance(e, exp.Column):
                diags.error(
                    "KEY (a, b) lists output columns",
                    q.stmt.locate(e),
                    "use KEY expr for a computed key",
                )
                continue
            if _sink_expression(q, e, "KEY", diags) is not None:
                key_columns.append(e.name)
    elif key is not None:
        key_sql = _sink_expression(q, key, "KEY", diags)
    return key_sql, key_columns


def _registry_key(
    q: QueryDef,
    node: syntax_nodes.InsertKafka,
    values: t.Mapping[str, str],
    topic: str | None,
    key_columns: list[str] | None,
    registry: schemas.Schemas,
) -> tuple[str, None]:
    """``key_format = 'avro-confluent'`` (or another registry format): the SQL of the key, a
    record of the KEY's columns."""
    names = key_columns or ([node.key.name] if isinstance(node.key, exp.Column) else [])
    key_fields = [f for name in names for f in q.fields if f.name == name]
    if not key_fields:
        raise schemas.SchemaProblem(
            f"key_format = '{values['key_format']}' needs KEY col or KEY (a, b) of output columns",
            "name the output columns the key record holds",
        )
    return schemas.sink_key_sql(topic, values, key_fields, registry), None


def _sink_headers(
    q: QueryDef, node: syntax_nodes.InsertKafka, diags: Diagnostics
) -> tuple[list[tuple[str, str]] | None, str | None]:
    """(``HEADERS ('k' = expr, ...)`` as key and SQL pairs, the SQL of ``HEADERS expr``)."""
    header_pairs = None
    if node.headers:
        header_pairs = []
        for pair in node.headers:
            hkey = pair.key.value
            if not hkey:
                diags.error(
                    "a header key is empty",
                    q.stmt.locate(pair.key),
                    "e.g. HEADERS ('source' = 'sqlstream')",
                )
            sql = _sink_expression(q, pair.value, "HEADERS", diags)
            if sql is not None:
                header_pairs.append((hkey, sql))
    headers_sql = None
    if node.headers_expr is not None:
        headers_sql = _sink_expression(q, node.headers_expr, "HEADERS", diags)
    return header_pairs, headers_sql


# --- continuous and real-time modes ---------------------------------------------------------

_CURRENT_TIME = (
    exp.CurrentTimestamp,
    exp.CurrentTimestampLTZ,
    exp.CurrentDate,
    exp.CurrentTime,
    exp.CurrentDatetime,
    exp.Localtime,
    exp.Localtimestamp,
)


def _stateless_mode_errors(
    q: QueryDef, analysis: Analysis, kind: str, reported: set[int]
) -> list[UserError]:
    """Continuous and real-time modes run stateless queries only (docs/lowering.md): refuse what
    Spark would refuse at start, at the clause, for the sink ``q`` and the streams it reads.

    Both: aggregations and joins of streams. Continuous mode also: UNION ALL and the current
    time. (DISTINCT, ORDER BY, LIMIT... are not append-only: reported already.)
    """
    mode = triggers.kind(kind).stateless_mode
    hint = (
        f"{mode} runs stateless queries only (projections and filters"
        f"{', UNION ALL' if triggers.kind(kind).union else ''}); use a processing-time trigger for "
        "this query, e.g. trigger = '10 seconds'"
    )
    _, view_names = analysis.upstream(q.reads)
    errors = []
    for query_def in [q, *(v for n in view_names if (v := analysis.view(n)) is not None)]:
        via = (
            ""
            if query_def is q
            else f" (stream '{query_def.name}' is read by the INSERT at {q.stmt.locate()})"
        )
        for node, what, fix in _stateful_parts(query_def.query, analysis, kind):
            if id(node) in reported:
                continue
            reported.add(id(node))
            errors.append(
                UserError(
                    f"{mode} cannot run {what}{via}", query_def.stmt.locate(node), fix or hint
                )
            )
    return errors


def _stateful_parts(
    query: exp.Expr, analysis: Analysis, kind: str
) -> t.Iterator[tuple[exp.Expr, str, str | None]]:
    streams = set(analysis.sources) | {v.name for v in analysis.views if v.name}
    for select in query.find_all(exp.Select):
        group = select.args.get("group")
        aggs = [
            a
            for e in select.expressions
            for a in e.find_all(exp.AggFunc)
            if a.find_ancestor(exp.Select) is select
        ]
        if group is not None or aggs:
            node = group.expressions[0] if group is not None and group.expressions else aggs[0]
            yield node, "an aggregation: it keeps state", None
        for join in select.args.get("joins") or []:
            joined = {tbl.name.lower() for tbl in join.this.find_all(exp.Table)}
            if joined & streams:
                yield join, "a join of streams: it keeps state", None
            elif not triggers.kind(kind).joins:
                yield join, "a join (Spark's continuous processing has no join)", None
    if not triggers.kind(kind).union:
        for union in query.find_all(exp.Union):
            yield union.expression, "UNION ALL (Spark's continuous processing has no union)", None
    if not triggers.kind(kind).current_time:
        calls = [
            c
            for c in query.find_all(*_CURRENT_TIME, exp.Anonymous)
            if not isinstance(c, exp.Anonymous) or c.name.lower() in ("now", "curdate")
        ]
        for call in calls:
            yield (
                call,
                f"{call.sql(SPARK)} (Spark's continuous processing has no current-time operations)",
                "use the record's event time or Kafka timestamp, or a processing-time trigger, "
                "e.g. trigger = '10 seconds'",
            )


def _sink_expression(
    q: QueryDef, expr: exp.Expr, clause: str, diags: Diagnostics, want: str | None = None
) -> str | None:
    """Check an expression over the SELECT's output columns; its Spark SQL text, or None."""
    fields = q.fields
    names = {f.name.lower() for f in fields}
    if (
        want != "integral"
        and expr.find(exp.Lambda, exp.Star, exp.Subquery) is None
        and all(not c.table and c.name.lower() in names for c in expr.find_all(exp.Column))
    ):
        return syntax.to_spark_sql(expr)  # plain output columns: nothing for sqlglot to resolve
    schema: dict[str, object] = {
        "__output": {f.name: f.type if f.type != "UNKNOWN" else "STRING" for f in fields}
    }
    probe = exp.select(expr.copy().as_("__probe")).from_("__output")
    try:
        qualified = qualify(
            probe,
            schema=schema,
            dialect=SPARK,
            validate_qualify_columns=True,
            quote_identifiers=False,
        )
        typed = annotate_types(qualified, schema=schema, dialect=SPARK)
    except OptimizeError as e:
        import re

        m = re.search(r"Column '([^']+)' could not be resolved", str(e))
        col = m.group(1).strip('"`') if m else None
        node = next(
            (c for c in expr.find_all(exp.Column) if c.name.lower() == (col or "").lower()), expr
        )
        if isinstance(node, exp.Column):
            col = node.name
        output = [f.name for f in fields]
        diags.error(
            f"{clause} uses '{col}', which is not a column of the SELECT's output"
            if col
            else f"cannot resolve the {clause} expression",
            q.stmt.locate(node),
            did_you_mean(col or "", output)
            or f"{clause} is computed from the output columns: {', '.join(output)}",
        )
        return None
    except SqlglotError as e:
        diags.error(f"cannot resolve the {clause} expression: {e}", q.stmt.locate(expr), None)
        return None
    if want == "integral":
        out = typed.selects[0]
        dtype = out.type.sql(SPARK).upper() if out.type else "UNKNOWN"
        if dtype not in INTEGRAL and dtype != "UNKNOWN":
            diags.error(
                f"PARTITION must be a whole number, but this expression is {dtype}",
                q.stmt.locate(expr),
                "e.g. PARTITION abs(hash(user_id)) % 6, or CAST(... AS INT)",
            )
            return None
    return syntax.to_spark_sql(expr)


def _one_of(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}"
