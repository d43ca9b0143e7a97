"""The steps of a run printed as a standalone PySpark script.

The script is what a data engineer would write by hand from Spark's Kafka integration guide:
one chained expression per frame, one call per line. It prints the very description
``runtime`` executes (``steps.steps``), so it cannot say something the run does not do.

Connection settings never become literals a reader has to edit: the script reads the bootstrap
servers, the checkpoint root and the Spark master from environment variables, with the target's
values as defaults, and reads every *secret* option from an environment variable with no
default.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import typing as t

import sqlstream
from sqlstream.compiler.plan import Plan, SinkPlan, Trigger
from sqlstream.project.connection import Connection, env_name
from sqlstream.project.defaults import DEFAULT_MASTER
from sqlstream.spark import steps as st

ENV_BOOTSTRAP = "SQLSTREAM_BOOTSTRAP_SERVERS"
ENV_CHECKPOINT_ROOT = "SQLSTREAM_CHECKPOINT_ROOT"
ENV_MASTER = "SQLSTREAM_SPARK_MASTER"
ENV_REMOTE = "SQLSTREAM_SPARK_REMOTE"
ENV_JARS = "SQLSTREAM_SPARK_JARS"
KAFKA_CONNECTOR = "org.apache.spark:spark-sql-kafka-0-10_2.13"
AVRO_PACKAGE = "org.apache.spark:spark-avro_2.13"

INDENT = "    "
_ONE_ARG_PER_LINE = frozenset({"selectExpr"})
"""Calls whose arguments are a list of expressions: one per line, as in Spark's guide."""
_SQL_ARGS = frozenset({"sql"})
"""Calls whose text argument is a query: a triple-quoted block when it spans lines."""


_PLAIN = re.compile(r"[ !#-\[\]-~]*")
"""Printable ASCII but for ``"`` and ``\\``: in double quotes, the text is its own literal."""


@functools.lru_cache(maxsize=4096)  # the same option names and values, in every file's script
def py_str(text: str) -> str:
    """A Python literal for ``text``: readable when it can be, always exact.

    ``json.dumps`` writes what a double-quoted Python literal reads back, escape for escape,
    but one: with ``ensure_ascii`` it writes a character beyond U+FFFF as two ``\\u``
    escapes (a surrogate pair), which Python reads as two characters; ``repr`` is exact."""
    if _PLAIN.fullmatch(text):
        return f'"{text}"'  # what json.dumps writes (most strings)
    ascii_only = not text.isprintable()
    if ascii_only and _ASTRAL.search(text):
        return repr(text)
    return json.dumps(text, ensure_ascii=ascii_only)


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
"""A character beyond the Basic Multilingual Plane."""


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


# --------------------------------------------------------------------------------------------
# Calls and chains as Python
# --------------------------------------------------------------------------------------------

_FROM_TARGET: dict[str, t.Callable[[str], str]] = {
    "bootstrap": lambda _: "BOOTSTRAP",
    "checkpoint": lambda rel: f"CHECKPOINT_ROOT + {py_str('/' + rel)}",
    "secret": lambda option: f"os.environ[{py_str(env_name(option))}]",
}


def py_arg(arg: st.Arg, sql: bool = False) -> str:
    if isinstance(arg, st.FromTarget):
        return _FROM_TARGET[arg.kind](arg.value)
    if isinstance(arg, st.Column):
        return f"F.expr({py_str(arg.sql)}).alias({py_str(arg.alias)})"
    if isinstance(arg, st.Observed):
        return f"Observation({py_str(arg.name)})"
    if isinstance(arg, st.ExactlyOnce):
        return _py_writer(arg)
    if isinstance(arg, str):
        return py_sql(arg) if sql else py_str(arg)
    return repr(arg)


def _py_pairs(pairs: t.Iterable[tuple[str, st.Arg]]) -> str:
    items = [f"({py_str(k)}, {py_arg(v)})" for k, v in pairs]
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _py_writer(w: st.ExactlyOnce) -> str:
    """``TransactionalWriter(...)`` on one line (its arguments in the runtime's order)."""
    args = [py_str(w.topic), py_str(w.transactional_id), "BOOTSTRAP", _py_pairs(w.client)]
    if w.producer_only:
        args.append(_py_pairs(w.producer_only))
    return f"TransactionalWriter({', '.join(args)})"


def _call_lines(group: list[st.Call], indent: str) -> list[str]:
    """Attribute reads and the call after them (``.writeStream.format("kafka")``)."""
    head = "".join(f".{c.name}" for c in group)
    last = group[-1]
    if last.attr:
        return [head]
    sql = last.name in _SQL_ARGS
    args = [py_arg(a, sql) for a in last.args] + [f"{k}={py_arg(v)}" for k, v in last.kwargs]
    if last.name in _ONE_ARG_PER_LINE:
        return [f"{head}(", *(f"{indent}{INDENT}{a}," for a in args), f"{indent})"]
    return [f"{head}({', '.join(args)})"]


def _groups(calls: t.Sequence[st.Call]) -> list[list[st.Call]]:
    groups: list[list[st.Call]] = [[]]
    for c in calls:
        groups[-1].append(c)
        if not c.attr:
            groups.append([])
    return [g for g in groups if g]


def chain_lines(chain: st.Chain) -> list[str]:
    """A chain as Python: on one line when it is one call, else one call per line in
    parentheses; a chain on the session keeps its first call on the first line
    (``spark.readStream.format("kafka")``)."""
    groups = _groups(chain.calls)
    first = chain.start
    if chain.start == st.SESSION and groups:
        first += "".join(_call_lines(groups.pop(0), INDENT))
    assign = f"{chain.target} = " if chain.target else ""
    if not groups:
        return [assign + first]
    if len(groups) == 1 and chain.start != st.SESSION and len(_call_lines(groups[0], "")) == 1:
        return [assign + first + _call_lines(groups[0], "")[0]]
    body = [INDENT + first]
    for group in groups:
        lines = _call_lines(group, INDENT)
        body += [INDENT + lines[0], *lines[1:]]
    return [f"{assign}(", *body, ")"]


def step_lines(step: st.Step) -> list[str]:
    if isinstance(step, st.SetConf):
        return [line for chain in step.chains for line in chain_lines(chain)]
    chains: t.Sequence[st.Chain] = step.chains
    if isinstance(step, st.StartQuery):
        chains = [st.Chain(step.frame.start, step.frame.calls + step.write, step.frame.target)]
    return ["", f"# {step.title}", *(line for chain in chains for line in chain_lines(chain))]


def _args(step: st.Step) -> t.Iterator[st.Arg]:
    calls = [c for chain in step.chains for c in chain.calls]
    if isinstance(step, st.StartQuery):
        calls += step.write
    for c in calls:
        yield from c.args
        yield from (v for _, v in c.kwargs)


# --------------------------------------------------------------------------------------------
# The script
# --------------------------------------------------------------------------------------------


def script(
    plan: Plan,
    query: SinkPlan | None = None,
    *,
    connection: Connection,
    trigger_override: Trigger | None = None,
) -> str:
    """A standalone PySpark script doing what ``sqlstream run`` does for ``plan`` (or one query)."""
    all_steps = st.steps(plan, query, connection=connection, trigger_override=trigger_override)
    args = [a for s in all_steps for a in _args(s)]
    lines = _header(plan, query, connection, args)
    lines += _session_lines(plan, connection)
    for step in all_steps:
        lines += step_lines(step)
    qvars = [s.var for s in all_steps if isinstance(s, st.StartQuery)]
    lines += [
        "",
        "# Wait for every query: a failure stops the script; finite triggers end it.",
        f"queries = [{', '.join(qvars)}]",
        "while any(query.isActive for query in queries):",
        "    spark.streams.awaitAnyTermination()",
        "    spark.streams.resetTerminated()",
        "",
    ]
    return "\n".join(lines)


def _header(
    plan: Plan, query: SinkPlan | None, connection: Connection, args: list[st.Arg]
) -> list[str]:
    files = sorted({f for f in _files(plan) if f})
    if query is not None:
        files = [query.file]
    what = f"query {query.name} of " if query is not None else ""
    secrets = sorted(
        {env_name(a.value) for a in args if isinstance(a, st.FromTarget) and a.kind == "secret"}
    )
    packages = KAFKA_CONNECTOR + ":<Spark version>"
    if st.avro_needed(plan, query):
        packages += f",{AVRO_PACKAGE}:<Spark version>"
    packages += "".join(f",{p}" for p in st.packages_needed(plan, query))
    lines = [
        (
            f"# Generated by sqlstream {sqlstream.__version__} from "
            f"{what}{', '.join(files) or plan.project} (project {plan.project})."
        ),
        "# Do not edit: change the SQL and run `sqlstream compile` again.",
        "#",
        "# Run it with Spark's Kafka connector on the classpath, e.g.",
        f"#   spark-submit --packages {packages} <this file>",
        f"# or set {ENV_JARS} to a comma-separated list of jar files and run it with python.",
        "# Connection settings come from the environment"
        f" (defaults: target {connection.target_name}):",
        f"#   {ENV_BOOTSTRAP}, {ENV_CHECKPOINT_ROOT}, "
        + (ENV_REMOTE if connection.spark_remote else ENV_MASTER),
    ]
    if st.functions_needed(plan, query):
        lines.append(
            "# It calls sqlstream's own JVM functions: add --jars with"
            " sqlstream/spark/jvm/sqlstream-protobuf.jar (make setup builds it)."
        )
    if secrets:
        lines.append(f"# Secrets, which must be set: {', '.join(secrets)}")
    if any(isinstance(a, st.ExactlyOnce) for a in args):
        lines.append(
            "# delivery = 'exactly_once' needs sqlstream and confluent-kafka on the driver"
            " (pip install 'sqlstream[kafka]')."
        )
    lines += ["", "import os", "", "from pyspark.sql import SparkSession"]
    if any(isinstance(a, st.Column) for a in args):
        lines.append("from pyspark.sql import functions as F")
    if any(isinstance(a, st.Observed) for a in args):
        lines.append("from pyspark.sql import Observation")
    if any(isinstance(a, st.ExactlyOnce) for a in args):
        lines += ["", "from sqlstream.spark.exactly_once import TransactionalWriter"]
    return lines


def _files(plan: Plan) -> t.Iterator[str]:
    yield from (s.file for s in plan.sources)
    yield from (v.file for v in plan.views)
    yield from (k.file for k in plan.sinks)


def _session_lines(plan: Plan, connection: Connection) -> list[str]:
    app = py_str("sqlstream-" + plan.project)
    lines = [
        "",
        (
            f"BOOTSTRAP = os.environ.get({py_str(ENV_BOOTSTRAP)}, "
            f"{py_str(connection.bootstrap_servers)})"
        ),
        (
            f"CHECKPOINT_ROOT = os.environ.get({py_str(ENV_CHECKPOINT_ROOT)}, "
            f'{py_str(connection.checkpoint_root)}).rstrip("/")'
        ),
    ]
    if connection.spark_remote:
        lines += [
            (
                f"SPARK_REMOTE = os.environ.get({py_str(ENV_REMOTE)}, "
                f"{py_str(connection.spark_remote)})"
            ),
            "",
            f"builder = SparkSession.builder.appName({app}).remote(SPARK_REMOTE)",
        ]
    else:
        master = py_str(connection.spark_master or DEFAULT_MASTER)
        lines += [
            f"SPARK_MASTER = os.environ.get({py_str(ENV_MASTER)}, {master})",
            "",
            f"builder = SparkSession.builder.appName({app}).master(SPARK_MASTER)",
            f"if os.environ.get({py_str(ENV_JARS)}):",
            f'    builder = builder.config("spark.jars", os.environ[{py_str(ENV_JARS)}])',
        ]
    for key, value in connection.spark_confs().items():
        arg = st.FromTarget("secret", key) if key in connection.secret_options else value
        lines.append(f"builder = builder.config({py_str(key)}, {py_arg(arg)})")
    lines.append("spark = builder.getOrCreate()")
    if not connection.spark_remote:
        lines.append('spark.sparkContext.setLogLevel("ERROR")')
    return lines
