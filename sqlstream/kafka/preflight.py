"""Before any query starts: the broker answers, every topic the run writes is there, and big enough.

Without this, a run learns of a missing broker or topic from Spark's Kafka client, which retries
in silence: an unreachable broker looked like ``started 1 query`` and then nothing for minutes; a
PARTITION clause on a topic with too few partitions failed after 60 s; a missing output topic was
created by the broker's auto-create, with its default of one partition. So ``check`` asks the
cluster once, through the topic tools' client (``kafka.connect``, which fails in seconds with the
address and the cause), and:

- creates each missing output topic that its sink declares (``partitions``, ``replication_factor``,
  ``'topic.*'``; a source's ``dlq_partitions``), so that a run never depends on auto-create;
- refuses a missing undeclared output topic when the broker does not create topics itself, a
  topic with fewer partitions than the PARTITION clause needs, and an input topic that does not
  exist (Spark's source fails on it: "This server does not host this topic-partition"), naming
  the topic and the fix;
- notes what it cannot refuse: a ``topic_pattern`` that matches nothing (its queries wait for a
  matching topic), a PARTITION expression whose bound only the data knows.

Each finding is one row of ``_FINDINGS``, so the wording of all of them is in one place.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from sqlstream.compiler.plan import Plan, SinkPlan, TopicSpec
from sqlstream.errors import RunFailure, UserError
from sqlstream.kafka.admin import Cluster
from sqlstream.kafka.connect import BrokerError, ck
from sqlstream.project import clientconfig as config
from sqlstream.project.connection import Connection


@dataclass(frozen=True)
class Output:
    """A topic the run writes, and who writes it."""

    topic: str
    writer: str
    """``queries/a.sql:3: query a_1`` or ``queries/a.sql: the DLQ of stream orders``."""
    spec: TopicSpec | None
    needed: int | None = None
    """Partitions the PARTITION clause needs, when the SQL tells."""
    partition_sql: str | None = None
    declare: str = "declare WITH (partitions = N) on the sink"
    """How the user declares the topic's partitions (a DLQ's are its stream's option)."""


@dataclass(frozen=True)
class Input:
    stream: str
    file: str
    topics: tuple[str, ...] = ()
    pattern: str | None = None


@dataclass(frozen=True)
class BrokerDefaults:
    """The broker settings that decide what a write to a missing topic does."""

    auto_create: bool | None
    """None: the target's user may not read the broker's settings."""
    partitions: int


_FINDINGS: dict[str, tuple[str, str]] = {
    # what was found -> (message, hint); every {name} comes from ``_say``'s arguments
    "missing": (
        "{writer} writes to topic '{topic}', which does not exist on {address}, and the broker "
        "does not create topics on its own",
        "{declare}, and `run` creates it; or create it: "
        "`sqlstream topics create {topic} --partitions N`",
    ),
    "too few": (
        "{writer} writes PARTITION {partition} to topic '{topic}', which needs {needed} "
        "partitions, but it has {partitions}",
        "recreate it with {needed}: `sqlstream topics delete {topic}`, then declare "
        "partitions = {needed} on the sink (a topic's partitions cannot shrink, and adding some "
        "moves keys); or keep the PARTITION values below {partitions}",
    ),
    "too few auto": (
        "{writer} writes PARTITION {partition} to topic '{topic}', which needs {needed} "
        "partitions, but it does not exist and the broker would create it with {partitions} "
        "(its num.partitions)",
        "declare WITH (partitions = {needed}) on the sink, and `run` creates it with {needed}",
    ),
    "too few declared": (
        "{writer} writes PARTITION {partition} to topic '{topic}', which needs {needed} "
        "partitions, but the sink declares none and the broker's default is {partitions}",
        "declare WITH (partitions = {needed}) on the sink",
    ),
    "auto create": (
        "{writer} writes to topic '{topic}', which does not exist on {address}: the broker will "
        "create it with {partitions} partition(s) on the first write",
        "{declare}, and `run` creates it with N",
    ),
    "unbounded partition": (
        "{writer}: each value of PARTITION {partition} must be below {partitions}, the "
        "partitions of topic '{topic}'",
        "a larger or negative value fails the query at run time; pmod(x, {partitions}) keeps it "
        "in range",
    ),
    "declared differs": (
        "topic '{topic}' has {partitions} partitions; {writer} declares {declared}",
        "`run` does not change an existing topic: `sqlstream topics describe {topic}` shows it",
    ),
    "not compacted": (
        "{writer} writes a changelog to topic '{topic}', which is not compacted "
        "(cleanup.policy={policy}): Kafka would delete the latest value of a key with old records",
        "compact it (kafka-configs.sh --alter --entity-type topics --entity-name {topic} "
        "--add-config cleanup.policy=compact), or delete it and let `run` create it compacted: "
        "`sqlstream topics delete {topic}`",
    ),
    "created": ("created topic '{topic}' with {partitions} partition(s){configs}", ""),
    "no input": (
        "stream {stream} ({file}) reads topic '{topic}', which does not exist on {address}",
        "Spark's Kafka source fails on a missing topic; check the name (`sqlstream topics "
        "list`), or create it: `sqlstream topics create {topic} --partitions N`",
    ),
    "no match": (
        "stream {stream} ({file}): topic_pattern '{pattern}' matches no topic on {address}",
        "its queries wait for a matching topic; `sqlstream topics list` shows the topics",
    ),
    "not checked": (
        "topics not checked before the run: {why}",
        "Spark's own Kafka client connects with the target's settings",
    ),
}


_DLQ_DECLARE = "declare dlq_partitions = N in the stream's FROM KAFKA (...)"


def _say(finding: str, **values: t.Any) -> str:
    message, hint = _FINDINGS[finding]
    text = message.format(**values)
    return f"{text}\nhint: {hint.format(**values)}" if hint else text


def check(
    plan: Plan,
    connection: Connection,
    *,
    query: str | None = None,
    bootstrap_override: str | None = None,
) -> list[str]:
    """Check the run's topics and create the declared missing ones; the notes to print.

    Raises ``RunFailure`` (one line of cause, one of hint, per topic) when the broker cannot be
    reached or a topic cannot take the writes; nothing has started then.
    """
    reached = _reach(connection, bootstrap_override)
    if isinstance(reached, str):
        return [reached]
    cluster, names, address = reached
    notes: list[str] = []
    errors: list[str] = []
    defaults = _broker_defaults(cluster)
    written = outputs(plan, query)
    to_create = {
        o.topic: o for o in written if _check_output(cluster, names, defaults, o, notes, errors)
    }
    known = names | {o.topic for o in written}  # a topic the run writes is no missing input
    for src in inputs(plan, query):
        _check_input(src, known, address, notes, errors)
    if errors:  # nothing is created for a run that does not start
        raise RunFailure(connection.redact("\n".join(errors)))
    notes.extend(_create(cluster, out) for out in to_create.values())
    return [connection.redact(n) for n in notes]


def check_reads(
    plan: Plan, connection: Connection, *, bootstrap_override: str | None = None
) -> list[str]:
    """``check`` for a command that only reads (peek): the broker reached (or ``RunFailure``,
    in seconds, where Spark's client would wait for ever) and the inputs there."""
    reached = _reach(connection, bootstrap_override)
    if isinstance(reached, str):
        return [reached]
    _, names, address = reached
    notes: list[str] = []
    errors: list[str] = []
    for src in inputs(plan):
        _check_input(src, names, address, notes, errors)
    if errors:
        raise RunFailure(connection.redact("\n".join(errors)))
    return [connection.redact(n) for n in notes]


def partitions(
    connection: Connection, topics: t.Iterable[str], *, bootstrap_override: str | None = None
) -> dict[str, list[int] | None]:
    """Each of ``topics``' partition ids on the cluster, None for a topic it does not have;
    empty when the cluster was not checked (``_reach``'s note: Spark's client will tell)."""
    reached = _reach(connection, bootstrap_override)
    if isinstance(reached, str):
        return {}
    cluster, names, _ = reached
    found = cluster.metadata().topics
    return {n: sorted(found[n].partitions) if n in names else None for n in topics}


def _reach(
    connection: Connection, bootstrap_override: str | None
) -> tuple[Cluster, set[str], str] | str:
    """(the cluster, its topic names, its address), or the note of why it was not checked;
    ``RunFailure`` when the broker does not answer."""
    try:
        cfg = config.client_config(
            bootstrap_override or connection.bootstrap_servers,
            connection.kafka_options,
            target_name=connection.target_name,
        )
    except UserError as e:  # e.g. a JKS truststore: librdkafka cannot read it, Spark can
        return _say("not checked", why=e.message)
    try:
        cluster = Cluster(cfg)
        names = set(cluster.topic_names(internal=True))
    except BrokerError as e:
        if connection.spark_remote:  # the Spark Connect server may reach what we cannot
            return _say("not checked", why=e.message)
        raise RunFailure(connection.redact(str(e))) from None
    return cluster, names, cfg.bootstrap_servers


def outputs(plan: Plan, query: str | None = None) -> list[Output]:
    """Every literal topic the selected queries write (a TOPIC expression names none), DLQs too."""
    sinks = _selected(plan, query)
    found = [
        Output(
            s.topic,
            f"{s.file}:{s.line}: query {s.name}",
            s.topic_spec,
            s.partitions_needed,
            s.partition_sql,
        )
        for s in sinks
        if s.topic is not None
    ]
    read = {n for s in sinks for n in s.sources}
    for src in plan.sources:
        if src.name in read and src.on_error == "dlq" and src.dlq_topic:
            spec = TopicSpec(src.dlq_partitions) if src.dlq_partitions else None
            writer = f"{src.file}: the DLQ of stream {src.name}"
            found.append(Output(src.dlq_topic, writer, spec, declare=_DLQ_DECLARE))
    return found


def inputs(plan: Plan, query: str | None = None) -> list[Input]:
    read = {n for s in _selected(plan, query) for n in s.sources}
    return [
        Input(
            src.name,
            src.file,
            tuple(n.strip() for n in src.read_options.get("subscribe", "").split(",") if n.strip()),
            src.read_options.get("subscribePattern"),
        )
        for src in plan.sources
        if src.name in read
    ]


def _selected(plan: Plan, query: str | None) -> list[SinkPlan]:
    return [s for s in plan.sinks if query is None or s.name == query]


def _check_output(
    cluster: Cluster,
    names: set[str],
    defaults: BrokerDefaults,
    out: Output,
    notes: list[str],
    errors: list[str],
) -> bool:
    """Whether ``out`` is to be created; its findings go to ``notes`` and ``errors``."""
    address = cluster.cfg.bootstrap_servers
    say = {
        "topic": out.topic,
        "writer": out.writer,
        "address": address,
        "partition": out.partition_sql,
        "declare": out.declare,
    }
    create = False
    if out.topic in names:
        partitions = len(cluster.require(out.topic).partitions)
        policy = _cleanup_policy(cluster, out)
        if policy is not None and "compact" not in policy:
            errors.append(_say("not compacted", policy=policy, **say))
        too_few = "too few"
        if out.spec is not None and out.spec.partitions not in (None, partitions):
            notes.append(
                _say("declared differs", partitions=partitions, declared=out.spec.partitions, **say)
            )
    elif out.spec is not None:
        partitions, too_few, create = (
            out.spec.partitions or defaults.partitions,
            "too few declared",
            True,
        )
    elif defaults.auto_create:
        partitions, too_few = defaults.partitions, "too few auto"
        if out.needed is None or out.needed <= partitions:
            notes.append(_say("auto create", partitions=partitions, **say))
    else:
        errors.append(_say("missing", **say))
        return False
    if out.needed is not None and out.needed > partitions:
        errors.append(_say(too_few, needed=out.needed, partitions=partitions, **say))
    elif out.partition_sql is not None and out.needed is None:
        notes.append(_say("unbounded partition", partitions=partitions, **say))
    return create


def _cleanup_policy(cluster: Cluster, out: Output) -> str | None:
    """The cleanup.policy of an existing topic declared compacted (a changelog sink's, see
    ``compiler.changelog.COMPACT``); None when none is declared or the target's user may not
    read the topic's settings."""
    if out.spec is None or "compact" not in out.spec.configs.get("cleanup.policy", ""):
        return None
    try:
        return cluster.effective_config(out.topic, "cleanup.policy")
    except BrokerError:
        return None


def _create(cluster: Cluster, out: Output) -> str:
    spec = out.spec
    assert spec is not None
    cluster.create(out.topic, spec.partitions or -1, spec.replication_factor, dict(spec.configs))
    partitions = len(cluster.metadata(refresh=True).topics[out.topic].partitions)
    configs = ", ".join(f"{k}={v}" for k, v in spec.configs.items())
    return _say(
        "created",
        topic=out.topic,
        partitions=partitions,
        configs=f" ({configs})" if configs else "",
    )


def _check_input(
    src: Input, names: set[str], address: str, notes: list[str], errors: list[str]
) -> None:
    """A missing topic is an error; a pattern that matches none, a note."""
    where = {"stream": src.stream, "file": src.file, "address": address}
    errors += [_say("no input", topic=n, **where) for n in src.topics if n not in names]
    if src.pattern is not None and not _matches(src.pattern, names):
        notes.append(_say("no match", pattern=src.pattern, **where))


def _matches(pattern: str, names: t.Iterable[str]) -> bool:
    """Whether a Java regex (as Spark's subscribePattern reads it) matches a topic. Python's
    ``re`` reads the patterns people write for topics the same way; one it cannot read counts
    as a match, so that no false note is printed."""
    try:
        regex = re.compile(pattern)
    except re.error:
        return True
    return any(regex.fullmatch(n) for n in names if not n.startswith("__"))


def _broker_defaults(cluster: Cluster) -> BrokerDefaults:
    """``auto.create.topics.enable`` and ``num.partitions`` of a broker of the cluster."""
    admin = _admin()
    brokers = sorted(cluster.metadata().brokers)
    if not brokers:
        return BrokerDefaults(None, 1)
    resource = admin.ConfigResource(admin.ResourceType.BROKER, str(brokers[0]))
    try:
        entries = cluster.client.describe_configs([resource], request_timeout=10)[resource].result(
            timeout=15
        )
    except ck().KafkaException:  # not allowed to read them: assume the safe answer, no auto-create
        return BrokerDefaults(None, 1)
    auto = entries.get("auto.create.topics.enable")
    parts = entries.get("num.partitions")
    return BrokerDefaults(
        None if auto is None else str(auto.value).lower() == "true",
        int(parts.value) if parts is not None and str(parts.value).isdigit() else 1,
    )


def _admin() -> t.Any:
    ck()
    import confluent_kafka.admin

    return confluent_kafka.admin
