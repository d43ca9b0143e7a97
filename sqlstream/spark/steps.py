"""The plan as a standalone PySpark script, and the steps that ``runtime`` executes.

One function, ``steps``, turns a ``Plan`` into a short list of plain step objects: the Spark
confs, each Kafka source (read, decode, drop or fail malformed records, declared columns,
watermark, temporary view), each derived stream (a temporary view), and each streaming query
(the sinks, and the dead-letter queries of ``on_error = 'dlq'`` sources). ``script`` prints
those steps as the PySpark a data engineer would write by hand from Spark's Kafka integration
guide; ``runtime`` executes the very same steps. What ``compile`` shows is what ``run`` does,
because both read one description.

Connection settings never become literals a reader has to edit: the script reads the bootstrap
servers, the checkpoint root and the Spark master from environment variables, with the target's
values as defaults, and reads every *secret* Kafka option (a SASL JAAS config, a password) from
an environment variable with no default, so that no secret is ever written into a script.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
import typing as t
from dataclasses import dataclass, field

import sqlstream
from sqlstream.compiler import lower
from sqlstream.compiler.plan import Plan, SinkPlan, SourcePlan, Trigger

ENV_BOOTSTRAP = "SQLSTREAM_BOOTSTRAP_SERVERS"
ENV_CHECKPOINT_ROOT = "SQLSTREAM_CHECKPOINT_ROOT"
ENV_MASTER = "SQLSTREAM_SPARK_MASTER"
ENV_REMOTE = "SQLSTREAM_SPARK_REMOTE"
ENV_JARS = "SQLSTREAM_SPARK_JARS"

DEFAULT_MASTER = "local[*]"
DEFAULT_CHECKPOINT_ROOT = ".sqlstream/checkpoints"
DEFAULT_SPARK_CONF: dict[str, str] = {
    # A laptop has a few cores: 200 shuffle partitions would make every micro-batch slow. The
    # value is fixed in a query's checkpoint on its first run, so the script and `run` agree.
    "spark.sql.shuffle.partitions": "4",
}
KAFKA_CONNECTOR = "org.apache.spark:spark-sql-kafka-0-10_2.13"

# Option names that hold a secret even when the target does not say so.
_SECRET_NAME = re.compile(r"password|secret|jaas|token|credential|\.key$|apikey|api\.key", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# The connection: what a run needs from the target, with the secrets told apart.
# --------------------------------------------------------------------------------------------


@dataclass
class Connection:
    """The target's connection settings, as the runtime and the script use them.

    ``kafka_options`` are Spark Kafka options (``kafka.security.protocol``, ...) given to every
    source and sink; the ones named in ``secret_options`` are never printed: a script reads them
    from ``env_name(option)``.
    """

    bootstrap_servers: str
    kafka_options: dict[str, str] = field(default_factory=dict)
    secret_options: frozenset[str] = frozenset()
    checkpoint_root: str = DEFAULT_CHECKPOINT_ROOT
    spark_master: str | None = None
    spark_remote: str | None = None
    spark_conf: dict[str, str] = field(default_factory=dict)
    target_name: str = "dev"
    secret_values: frozenset[str] = frozenset()
    """Every secret value, so that ``redact`` can hide it in any text (error messages...)."""

    @classmethod
    def from_target(cls, target: t.Any, checkpoint_root: str | None = None) -> Connection:
        """Build from a ``sqlstream.project.config.Target`` (``checkpoint_root``: the resolved one).

        ``target.secrets`` holds secret values (option names are accepted too): an option is
        secret when its value holds a secret value, its name is listed, or its name says so
        (``*password*``, ``*jaas*``, ...).
        """
        kafka_options = {str(k): str(v) for k, v in (getattr(target, "kafka_options", None) or {}).items()}
        spark_conf = {str(k): str(v) for k, v in (getattr(target, "spark_conf", None) or {}).items()}
        listed = _secret_listing(getattr(target, "secrets", None))
        secret_names = {
            k for k, v in {**kafka_options, **spark_conf}.items()
            if k in listed or _SECRET_NAME.search(k) or any(x and x in v for x in listed)
        }
        values = {v for v in listed if v and v not in kafka_options and v not in spark_conf}
        values |= {v for k, v in {**kafka_options, **spark_conf}.items() if k in secret_names and v}
        return cls(
            bootstrap_servers=str(getattr(target, "bootstrap_servers", "") or "localhost:9092"),
            kafka_options=kafka_options,
            secret_options=frozenset(secret_names),
            checkpoint_root=str(
                checkpoint_root or getattr(target, "checkpoint_root", None) or DEFAULT_CHECKPOINT_ROOT
            ),
            spark_master=getattr(target, "spark_master", None) or None,
            spark_remote=getattr(target, "spark_remote", None) or None,
            spark_conf=spark_conf,
            target_name=str(getattr(target, "name", "dev") or "dev"),
            secret_values=frozenset(values),
        )

    def redact(self, text: str) -> str:
        """``text`` with every secret value replaced by ``****``."""
        for value in sorted(self.secret_values, key=len, reverse=True):
            if value:
                text = text.replace(value, "****")
        return text


def _secret_listing(secrets: t.Any) -> set[str]:
    if not secrets:
        return set()
    if isinstance(secrets, t.Mapping):
        return {str(k) for k in secrets} | {str(v) for v in secrets.values() if v}
    if isinstance(secrets, str):
        return {secrets}
    return {str(s) for s in secrets}


def env_name(option: str) -> str:
    """``kafka.sasl.jaas.config`` -> ``SQLSTREAM_KAFKA_SASL_JAAS_CONFIG``."""
    return "SQLSTREAM_" + re.sub(r"[^A-Za-z0-9]+", "_", option).strip("_").upper()


# --------------------------------------------------------------------------------------------
# The steps: one description of a run, printed by `script`, executed by `runtime`.
# --------------------------------------------------------------------------------------------

OptionKind = t.Literal["literal", "bootstrap", "secret", "checkpoint"]


@dataclass(frozen=True)
class Opt:
    """One ``.option(key, value)`` of a Kafka reader or writer.

    ``literal``: the value as is. ``bootstrap``: the target's bootstrap servers (a script reads
    ``SQLSTREAM_BOOTSTRAP_SERVERS``). ``secret``: the value is the target's, never printed (a
    script reads ``env``). ``checkpoint``: ``value`` is relative to the checkpoint root.
    """

    key: str
    value: str
    kind: OptionKind = "literal"
    env: str | None = None


@dataclass(frozen=True)
class SetConf:
    """``SET key = value``: a Spark conf for the run."""

    key: str
    value: str


@dataclass(frozen=True)
class ReadSource:
    """A Kafka source: read, decode, count and filter malformed records, select, watermark."""

    name: str
    file: str
    options: tuple[Opt, ...]
    parse_exprs: tuple[str, ...]
    observe: tuple[str, str] | None
    """``(metric name, count_if(<error_expr>))`` on the decoded records, before the filter."""
    error_filter: str | None
    output_exprs: tuple[str, ...]
    watermark: tuple[str, str] | None
    decoded_var: str
    var: str


@dataclass(frozen=True)
class CreateView:
    """A derived stream: ``spark.sql(sql)`` as a temporary view."""

    name: str
    file: str
    sql: str
    var: str


@dataclass(frozen=True)
class StartQuery:
    """A streaming query writing to Kafka: a sink, or a source's dead-letter query."""

    name: str
    kind: t.Literal["sink", "dlq"]
    file: str
    line: int
    sql: str | None
    """The sink's SELECT; ``None`` for a DLQ query, which reads its source's decoded records."""
    source: str | None
    """For a DLQ query: the source whose decoded records it reads."""
    where: str | None
    select_exprs: tuple[str, ...]
    options: tuple[Opt, ...]
    trigger: Trigger | None
    var: str
    output_mode: str = "append"
    """``append``; ``update`` in real-time mode, which has no append mode: the runtime first
    proves the query append-only and stateless, so update emits exactly the same records."""


Step = SetConf | ReadSource | CreateView | StartQuery

METRIC_MALFORMED = "malformed"


def metric_name(source: str) -> str:
    """The observed-metrics name under which a source's malformed-record count is reported."""
    return f"{source}.{METRIC_MALFORMED}"


def trigger_kwargs(trigger: Trigger | None) -> dict[str, t.Any]:
    """The keyword arguments of ``DataStreamWriter.trigger`` (empty: Spark's default)."""
    if trigger is None:
        return {}
    if trigger.kind == "processing_time":
        return {"processingTime": trigger.interval or "0 seconds"}
    if trigger.kind == "once":
        return {"once": True}
    if trigger.kind == "available_now":
        return {"availableNow": True}
    if trigger.kind == "continuous":
        return {"continuous": trigger.interval or "1 second"}
    if trigger.kind == "real_time":
        # Spark's own default batch duration for Trigger.RealTime().
        return {"realTime": trigger.interval or "5 minutes"}
    raise ValueError(f"unknown trigger {trigger.kind!r}")


def output_mode(trigger: Trigger | None) -> str:
    """Spark's output mode for a query: append, except in real-time mode (update only)."""
    return "update" if trigger is not None and trigger.kind == "real_time" else "append"


def selected_sinks(plan: Plan, query: SinkPlan | str | None) -> list[SinkPlan]:
    if query is None:
        return list(plan.sinks)
    name = query if isinstance(query, str) else query.name
    return [s for s in plan.sinks if s.name == name]


def avro_needed(plan: Plan, query: SinkPlan | str | None = None) -> bool:
    """Whether the run needs spark-avro (an Avro source or sink among those it runs)."""
    sinks = selected_sinks(plan, query)
    names = {n for s in sinks for n in s.sources}
    return any(s.value_format == "avro" for s in sinks) or any(
        s.value_format == "avro" for s in plan.sources if s.name in names
    )


def steps(
    plan: Plan,
    query: SinkPlan | str | None = None,
    *,
    connection: Connection,
    trigger_override: Trigger | None = None,
) -> list[Step]:
    """Everything a run does, in order: confs, sources, views, then the queries to start.

    With ``query``, only what that sink needs (its sources, their DLQ queries, its views).
    Queries are listed last so that nothing starts before every query is defined (and, in the
    runtime, checked).
    """
    sinks = selected_sinks(plan, query)
    needed_sources = {n for s in sinks for n in s.sources}
    needed_views = {n for s in sinks for n in s.views}
    namer = _Namer()
    out: list[Step] = [SetConf(k, v) for k, v in plan.settings.items()]
    dlqs: list[StartQuery] = []
    for src in plan.sources:
        if src.name not in needed_sources:
            continue
        readers = [s for s in sinks if src.name in s.sources]
        trigger = trigger_override or (readers[0].trigger if readers else None)
        # Counting malformed records also matters for speed: observe() keeps Spark from pushing
        # the filter below the decoding projection, where it would parse each value again
        # (docs/benchmarks.md). Continuous and real-time modes have no observe().
        kinds = {(trigger_override or s.trigger or Trigger("processing_time")).kind for s in readers}
        metered = not kinds & {"continuous", "real_time"}
        # Continuous mode refuses EventTimeWatermark even under a stateless query, and runs no
        # stateful one (the planner refuses those), so a watermark there has nothing to do. When
        # other queries of the run read the source too, they keep it: Spark then refuses the
        # continuous query before anything starts, rather than a windowed query losing its
        # watermark.
        watermarked = kinds != {"continuous"}
        decoded_var = namer.name(f"{src.name}_decoded")
        var = namer.name(src.name)
        out.append(
            ReadSource(
                name=src.name,
                file=src.file,
                options=(
                    *_connection_opts(connection, {}),
                    *(Opt(k, v) for k, v in src.read_options.items()),
                ),
                parse_exprs=tuple(src.decoding.parse_exprs),
                observe=(metric_name(src.name), lower.skipped_count_expr(src.decoding))
                if metered
                else None,
                error_filter=src.error_filter,
                output_exprs=tuple(src.decoding.output_exprs),
                watermark=(src.watermark_column, src.watermark_delay)
                if src.watermark_column and src.watermark_delay and watermarked
                else None,
                decoded_var=decoded_var,
                var=var,
            )
        )
        if src.on_error == "dlq" and src.dlq_topic:
            dlqs.append(_dlq_query(plan, src, connection, trigger, namer))
    for view in plan.views:
        if view.name in needed_views:
            out.append(CreateView(view.name, view.file, view.sql, namer.name(view.name)))
    out.extend(dlqs)
    for sink in sinks:
        write = dict(sink.write_options)
        opts = [*_connection_opts(connection, write)]
        opts += [Opt(k, v) for k, v in write.items()]
        if sink.topic is not None:
            opts.append(Opt("topic", sink.topic))
        opts.append(Opt("checkpointLocation", sink.checkpoint, "checkpoint"))
        out.append(
            StartQuery(
                name=sink.name,
                kind="sink",
                file=sink.file,
                line=sink.line,
                sql=sink.sql,
                source=None,
                where=None,
                select_exprs=tuple(sink.write_exprs),
                options=tuple(opts),
                trigger=trigger_override or sink.trigger,
                var=namer.name(f"{sink.name}_query"),
                output_mode=output_mode(trigger_override or sink.trigger),
            )
        )
    return out


def _connection_opts(connection: Connection, overridden: t.Mapping[str, str]) -> list[Opt]:
    opts = [Opt("kafka.bootstrap.servers", connection.bootstrap_servers, "bootstrap", ENV_BOOTSTRAP)]
    for key, value in connection.kafka_options.items():
        if key in overridden or key == "kafka.bootstrap.servers":
            continue
        if key in connection.secret_options:
            opts.append(Opt(key, value, "secret", env_name(key)))
        else:
            opts.append(Opt(key, value))
    return opts


def _dlq_query(
    plan: Plan, src: SourcePlan, connection: Connection, trigger: Trigger | None, namer: _Namer
) -> StartQuery:
    assert src.dlq_topic is not None
    opts = [
        *_connection_opts(connection, {}),
        Opt("topic", src.dlq_topic),
        Opt("checkpointLocation", f"{plan.project}/{src.name}_dlq", "checkpoint"),
    ]
    return StartQuery(
        name=f"{src.name}_dlq",
        kind="dlq",
        file=src.file,
        line=0,
        sql=None,
        source=src.name,
        where=src.decoding.error_expr,
        select_exprs=tuple(src.dlq_exprs),
        options=tuple(opts),
        trigger=trigger,
        var=namer.name(f"{src.name}_dlq_query"),
        output_mode=output_mode(trigger),
    )


class _Namer:
    """Unique, valid Python variable names for the script (stable: same plan, same names)."""

    RESERVED: t.ClassVar[set[str]] = {"os", "F", "SparkSession", "spark", "builder", "queries", "query", "BOOTSTRAP",
                "CHECKPOINT_ROOT", "SPARK_MASTER", "SPARK_REMOTE", "JARS"}

    def __init__(self) -> None:
        self.used: set[str] = set(self.RESERVED)

    def name(self, wanted: str) -> str:
        base = re.sub(r"\W+", "_", wanted).strip("_") or "stream"
        if base[0].isdigit() or keyword.iskeyword(base):
            base = f"s_{base}"
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name


# --------------------------------------------------------------------------------------------
# The script.
# --------------------------------------------------------------------------------------------


def py_str(text: str) -> str:
    """A Python literal for ``text``: readable when it can be, always exact."""
    lit = json.dumps(text, ensure_ascii=not text.isprintable())
    if ast.literal_eval(lit) == text:
        return lit
    return repr(text)  # pragma: no cover - json.dumps is a valid Python literal in practice


def py_sql(text: str) -> str:
    """A Python literal for a SQL text: a triple-quoted block when that is exact, else ``py_str``.

    The block holds the text byte for byte (no re-indentation), so the script runs exactly the
    SQL that ``run`` runs, even with a multi-line string literal inside.
    """
    if "\n" in text and all(c.isprintable() or c in "\n\t" for c in text):
        lit = '"""' + text + '"""'
        try:
            if ast.literal_eval(lit) == text:
                return lit
        except (SyntaxError, ValueError):
            pass
    return py_str(text)


def _py_value(value: t.Any) -> str:
    return py_str(value) if isinstance(value, str) else repr(value)


def _opt_value(opt: Opt) -> str:
    if opt.kind == "bootstrap":
        return "BOOTSTRAP"
    if opt.kind == "secret":
        return f"os.environ[{py_str(opt.env or env_name(opt.key))}]"
    if opt.kind == "checkpoint":
        return f"CHECKPOINT_ROOT + {py_str('/' + opt.value)}"
    return py_str(opt.value)


def _exprs(exprs: t.Sequence[str], indent: str) -> list[str]:
    return [f"{indent}{py_str(e)}," for e in exprs]


def script(
    plan: Plan,
    query: SinkPlan | None = None,
    *,
    connection: Connection,
    trigger_override: Trigger | None = None,
) -> str:
    """A standalone PySpark script doing what ``sqlstream run`` does for ``plan`` (or one query)."""
    all_steps = steps(plan, query, connection=connection, trigger_override=trigger_override)
    files = sorted({s.file for s in plan.sources + plan.views + plan.sinks if s.file})  # type: ignore[operator]
    if query is not None:
        files = [query.file]
    what = f"query {query.name} of " if query is not None else ""
    secrets = sorted({o.env for s in all_steps if isinstance(s, (ReadSource, StartQuery))
                      for o in s.options if o.kind == "secret" and o.env})
    avro = avro_needed(plan, query)
    packages = KAFKA_CONNECTOR + ":<Spark version>"
    if avro:
        packages += ",org.apache.spark:spark-avro_2.13:<Spark version>"
    L: list[str] = [
        (
            f"# Generated by sqlstream {sqlstream.__version__} from "
            f"{what}{', '.join(files) or plan.project} (project {plan.project})."
        ),
        "# Do not edit: change the SQL and run `sqlstream compile` again.",
        "#",
        "# Run it with Spark's Kafka connector on the classpath, e.g.",
        f"#   spark-submit --packages {packages} <this file>",
        f"# or set {ENV_JARS} to a comma-separated list of jar files and run it with python.",
        f"# Connection settings come from the environment (defaults: target {connection.target_name}):",
        f"#   {ENV_BOOTSTRAP}, {ENV_CHECKPOINT_ROOT}, "
        + (ENV_REMOTE if connection.spark_remote else ENV_MASTER),
    ]
    if secrets:
        L.append(f"# Secrets, which must be set: {', '.join(secrets)}")
    L += [
        "",
        "import os",
        "",
        "from pyspark.sql import SparkSession",
    ]
    if any(isinstance(s, ReadSource) and s.observe for s in all_steps):
        L.append("from pyspark.sql import functions as F")
    L += [
        "",
        f"BOOTSTRAP = os.environ.get({py_str(ENV_BOOTSTRAP)}, {py_str(connection.bootstrap_servers)})",
        (
            f"CHECKPOINT_ROOT = os.environ.get({py_str(ENV_CHECKPOINT_ROOT)}, "
            f"{py_str(connection.checkpoint_root)}).rstrip(\"/\")"
        ),
    ]
    if connection.spark_remote:
        L.append(f"SPARK_REMOTE = os.environ.get({py_str(ENV_REMOTE)}, {py_str(connection.spark_remote)})")
        L.append("")
        L.append(f"builder = SparkSession.builder.appName({py_str('sqlstream-' + plan.project)}).remote(SPARK_REMOTE)")
    else:
        L.append(
            f"SPARK_MASTER = os.environ.get({py_str(ENV_MASTER)}, "
            f"{py_str(connection.spark_master or DEFAULT_MASTER)})"
        )
        L.append("")
        L.append(f"builder = SparkSession.builder.appName({py_str('sqlstream-' + plan.project)}).master(SPARK_MASTER)")
        L.append(f"if os.environ.get({py_str(ENV_JARS)}):")
        L.append(f"    builder = builder.config(\"spark.jars\", os.environ[{py_str(ENV_JARS)}])")
    for key, value in spark_confs(connection).items():
        if key in connection.secret_options:
            L.append(f"builder = builder.config({py_str(key)}, os.environ[{py_str(env_name(key))}])")
        else:
            L.append(f"builder = builder.config({py_str(key)}, {py_str(value)})")
    L.append("spark = builder.getOrCreate()")
    if not connection.spark_remote:
        L.append('spark.sparkContext.setLogLevel("ERROR")')
    for step in all_steps:
        if isinstance(step, SetConf):
            L.append(f"spark.conf.set({py_str(step.key)}, {py_str(step.value)})")
    for step in all_steps:
        if isinstance(step, ReadSource):
            L += _source_lines(step)
        elif isinstance(step, CreateView):
            L += ["", f"# Stream {step.name} ({step.file})"]
            L.append(f"{step.var} = spark.sql({py_sql(step.sql)})")
            L.append(f"{step.var}.createOrReplaceTempView({py_str(step.name)})")
    qvars: list[str] = []
    for step in all_steps:
        if isinstance(step, StartQuery):
            L += _query_lines(step, {s.name: s.decoded_var for s in all_steps if isinstance(s, ReadSource)})
            qvars.append(step.var)
    L += [
        "",
        "# Wait for every query: a failure stops the script; finite triggers end it.",
        f"queries = [{', '.join(qvars)}]",
        "while any(query.isActive for query in queries):",
        "    spark.streams.awaitAnyTermination()",
        "    spark.streams.resetTerminated()",
        "",
    ]
    return "\n".join(L)


def spark_confs(connection: Connection) -> dict[str, str]:
    """The Spark confs of a session: sqlstream's defaults, then the target's ``conf``."""
    return {**DEFAULT_SPARK_CONF, **connection.spark_conf}


def _options(opts: t.Sequence[Opt], indent: str) -> list[str]:
    return [f"{indent}.option({py_str(o.key)}, {_opt_value(o)})" for o in opts]


def _source_lines(step: ReadSource) -> list[str]:
    i = "    "
    L = ["", f"# Source {step.name} ({step.file})", f"{step.decoded_var} = ("]
    L.append(f'{i}spark.readStream.format("kafka")')
    L += _options(step.options, i)
    L.append(f"{i}.load()")
    L.append(f"{i}.selectExpr(")
    L += _exprs(step.parse_exprs, i * 2)
    L.append(f"{i})")
    L.append(")")
    L.append(f"{step.var} = (")
    L.append(f"{i}{step.decoded_var}")
    if step.observe:
        name, expr = step.observe
        L.append(f"{i}.observe({py_str(name)}, F.expr({py_str(expr)}).alias({py_str(METRIC_MALFORMED)}))")
    if step.error_filter:
        L.append(f"{i}.where({py_str(step.error_filter)})")
    L.append(f"{i}.selectExpr(")
    L += _exprs(step.output_exprs, i * 2)
    L.append(f"{i})")
    if step.watermark:
        L.append(f"{i}.withWatermark({py_str(step.watermark[0])}, {py_str(step.watermark[1])})")
    L.append(")")
    L.append(f"{step.var}.createOrReplaceTempView({py_str(step.name)})")
    return L


def _query_lines(step: StartQuery, decoded: dict[str, str]) -> list[str]:
    i = "    "
    if step.kind == "dlq":
        L = ["", f"# Dead-letter query {step.name}: malformed records of {step.source}, unchanged"]
        L += [f"{step.var} = (", f"{i}{decoded[step.source or '']}"]
        if step.where:
            L.append(f"{i}.where({py_str(step.where)})")
    else:
        where = f"{step.file}:{step.line}" if step.line else step.file
        L = ["", f"# Query {step.name} ({where})", f"{step.var} = ("]
        L.append(f"{i}spark.sql({py_sql(step.sql or '')})")
    L.append(f"{i}.selectExpr(")
    L += _exprs(step.select_exprs, i * 2)
    L.append(f"{i})")
    L.append(f'{i}.writeStream.format("kafka")')
    L += _options(step.options, i)
    L.append(f"{i}.outputMode({py_str(step.output_mode)})")
    kwargs = trigger_kwargs(step.trigger)
    if kwargs:
        args = ", ".join(f"{k}={_py_value(v)}" for k, v in kwargs.items())
        L.append(f"{i}.trigger({args})")
    L.append(f"{i}.queryName({py_str(step.name)})")
    L.append(f"{i}.start()")
    L.append(")")
    return L
