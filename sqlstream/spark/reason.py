"""Spark's reason for a failure, without the Java stack: what a user can act on.

Three steps, each a table or a small function:

- ``reason``: the innermost ``[ERROR_CLASS] message`` of a Spark or py4j exception, without the
  Java stack, the plan, Spark's "Job aborted ... (executor driver):" prefix or its "Driver
  stacktrace:" tail.
- ``advice``: Spark's words that name things sqlstream has not (``Use the `topic` option``, "set
  spark.sql.streaming.stateStore...=false") replaced by sqlstream's, by the table ``ADVICE``; the
  cause of a Kafka client that could not be made ("Failed to create new KafkaAdminClient") is
  found in the Java exception's causes.
- ``locate``: a position Spark reports in a query's SQL ("line 1 pos 16") is in the Spark SQL that
  sqlstream generated, which the user never sees. The offending name is taken from Spark's
  message (the first `quoted` name) or else from the generated SQL at that position, and looked
  up as a whole word (a function name followed by "(") in the user's file, from the line where
  the statement starts; that gives ``path:line:col``. When the name is not found there (a macro
  wrote it), the statement's first line is the place.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from pathlib import Path

from sqlstream.errors import Location, RunFailure, SqlStreamError, UserError

_STACK_LINE = re.compile(
    r"^\s*(at |\.\.\. \d+ more|Caused by: |JVM stacktrace:|Traceback |Driver stacktrace:)"
)
_PLAN_LINE = re.compile(r"^\s*([+:|~']|!|\+-|:-)")
_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\]")
_JOB_ABORTED = re.compile(r"^Job aborted due to stage failure: .*?\(\S+ executor \S+\): ")
_PYTHON_RAISED = re.compile(r"^(?:\w+\.)*\w*(?:Error|Exception): (.+?)(?: SQLSTATE: \w+)*$", re.M)
"""The last line of a Python traceback (``RuntimeError: batch 3 not committed ...``)."""
_POSITION = re.compile(r";?\s*line (\d+),? pos (\d+)\s*$")
_SQLSTATE = re.compile(r"\s*SQLSTATE: \w+\.?\s*$")
"""Spark's ``SQLSTATE: P0001`` after a message: a code for programs, noise on a terminal."""


def reason(exc: BaseException | t.Any, max_lines: int = 6) -> str:
    """The meaningful part of a Spark error: the innermost ``[ERROR_CLASS] message``, no stack."""
    text = _message(exc)
    text = text.split("=== Streaming Query ===")[0].split("\nDriver stacktrace:")[0]
    python = _PYTHON_RAISED.findall(text)
    if "Traceback (most recent call last)" in text and python:
        # A foreachBatch function (the exactly-once writer) raised in the driver's Python: its
        # own last words, not py4j's frames around them.
        return python[-1].strip()
    lines = [ln.rstrip() for ln in text.splitlines()]
    lines = [
        ln for ln in lines if ln.strip() and not _STACK_LINE.match(ln) and not _PLAN_LINE.match(ln)
    ]
    # Spark nests: "Job aborted ... : org.apache.spark.SparkException: [X] ... : [USER_RAISED...]".
    # The last error class on a line is the cause the user can act on.
    picked: list[str] = []
    for ln in lines:
        ln = re.sub(r"\b(?:[a-z][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error): ", "", ln)
        ln = _JOB_ABORTED.sub("", ln)
        # Spark Connect's exceptions read "(ERROR_CLASS) message": the local form is "[...]".
        ln = re.sub(r"^\(([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\) ", r"[\1] ", ln)
        matches = list(_ERROR_CLASS.finditer(ln))
        if len(matches) > 1:
            ln = ln[matches[-1].start() :]
        picked.append(_SQLSTATE.sub("", ln).strip())
        if len(picked) >= max_lines:
            break
    return "\n".join(dict.fromkeys(picked)) or type(exc).__name__


def _message(exc: t.Any) -> str:
    """The Java message of a PySpark or py4j exception, without PySpark's appended JVM stack."""
    candidates: list[t.Callable[[], t.Any]] = [
        lambda: getattr(exc, "_desc", None),  # CapturedException: the Java message
        lambda: exc.java_exception.getMessage(),  # Py4JJavaError
        lambda: exc.getMessage(),
        lambda: str(exc),
    ]
    for get in candidates:
        try:
            text = get()
        except Exception:  # noqa: BLE001, S112 - not that kind of exception
            continue
        if isinstance(text, str) and text.strip():
            return text.split("\n\nJVM stacktrace:")[0]
    return ""


def causes(exc: t.Any, limit: int = 12) -> list[str]:
    """The messages of the Java exception's causes, outermost first ([] off the JVM)."""
    throwable = getattr(exc, "_origin", None) or getattr(exc, "java_exception", None)
    out: list[str] = []
    while throwable is not None and len(out) < limit:
        try:
            out.append(f"{throwable.getClass().getSimpleName()}: {throwable.getMessage()}")
            throwable = throwable.getCause()
        except Exception:  # noqa: BLE001 - the JVM went away: what we have is what there is
            break
    return out


# --------------------------------------------------------------------------------------------
# Spark's advice -> sqlstream's


@dataclass(frozen=True)
class Advice:
    """One row of ``ADVICE``: a Spark failure and what to tell the user instead."""

    pattern: str
    """A regex over ``reason``'s text (an error class or a message)."""
    message: str | None
    """Replaces Spark's text when given; ``{0}``... are the pattern's groups."""
    hint: str
    from_cause: bool = False
    """The reason is in the Java causes: take the innermost one."""


ADVICE: tuple[Advice, ...] = (
    Advice(
        r"KAFKA_NULL_TOPIC_IN_DATA|null topic",
        "a record's TOPIC expression is NULL, and a record needs a topic",
        "give every row a topic: a CASE with an ELSE, or coalesce(expr, 'other-topic')",
    ),
    Advice(
        r"Compacted topic cannot accept message without key in topic partition (\S+?)-\d+\b",
        "topic '{0}' is compacted (cleanup.policy=compact) and a record has no key",
        "add KEY <expr> to the sink, with a value for every row",
    ),
    Advice(
        r"Partition (\d+) of topic (\S+) with partition count (\d+) is not present in metadata",
        "PARTITION gave {0}, but topic '{1}' has {2} partition(s)",
        "keep the PARTITION values below the topic's partitions (pmod(x, {2})), or recreate the "
        "topic with more: declare WITH (partitions = N) on the sink",
    ),
    Advice(
        r"Invalid partition given with record: (-?\d+) is not in the range \[0\.\.\.(\d+)\)",
        "PARTITION gave {0}, not a partition of the topic (0 to {1} - 1)",
        "a % of a negative number is negative: use pmod(x, n); keep values below the partitions",
    ),
    Advice(
        r"STATE_STORE_\w*SCHEMA_NOT_COMPATIBLE|StateSchemaNotCompatible",
        "the query's state was written by a different version of the query "
        "(its grouping keys, aggregates, window or join changed)",
        "give the query a new name (WITH (name = '...')), or reset its state (`sqlstream state "
        "reset QUERY`) and backfill; never turn Spark's state schema check off: it corrupts state",
    ),
    Advice(
        r"Timed out waiting for a node assignment|Timed out waiting to send the call",
        "Spark's Kafka client got no answer from the broker: {_}",
        "check bootstrap_servers of the target and its security settings (security_protocol, "
        "sasl_*, ssl_*); `sqlstream topics list` tests them in seconds",
    ),
    Advice(
        r"Failed to (?:create new KafkaAdminClient|construct kafka (?:consumer|producer))",
        "Spark's Kafka client could not be made: {cause}",
        "check the target's ssl_* and sasl_* settings in profiles.yml (file paths are relative "
        "to the working directory)",
        from_cause=True,
    ),
    Advice(
        r"Can ?not load class (sqlstream\.\w+\.\w+)",
        "sqlstream's own jar (the class {0}) is not on Spark's classpath",
        "build it: `make setup` (Maven) puts it in sqlstream/spark/jvm/; a standalone script or "
        "a Spark Connect server needs it passed with --jars",
    ),
    Advice(
        r"not committed to topic \S+: Kafka did not answer",
        None,
        "check that the brokers of bootstrap_servers are up and reachable, then run again: the"
        " batches already committed are not written twice",
    ),
    Advice(
        r"not committed to topic \S+: .*fenced this one",
        None,
        "stop the other run of this query (one checkpoint, one run at a time); this run's"
        " uncommitted batch is aborted, and a run started again goes on from the last commit",
    ),
    Advice(
        r"UNRESOLVED_ROUTINE\]? Cannot resolve routine `([^`]+)`",
        "unknown function {0}",
        "check its spelling against Spark's built-in functions (a user-defined function must be "
        "registered on the target's Spark)",
    ),
)


def advice(text: str, exc: t.Any = None) -> tuple[str, str | None]:
    """``text`` in sqlstream's words, and a hint: the first row of ``ADVICE`` that matches."""
    for row in ADVICE:
        m = re.search(row.pattern, text, re.IGNORECASE)
        if m is None:
            continue
        cause = causes(exc)[-1] if row.from_cause and causes(exc) else text
        if row.message is None:
            return text, row.hint.format(*m.groups())
        message = row.message.format(*m.groups(), _=_without_position(text), cause=cause)
        return message, row.hint.format(*m.groups())
    return text, None


#: Spark's boilerplate after the message: a link to its function docs and the SQLSTATE code.
_BOILERPLATE = re.compile(r"\s*(Please, refer to '[^']*' for a fix\.|SQLSTATE: \w+\.?)")


def _without_position(text: str) -> str:
    first = text.splitlines()[0] if text else text
    return _BOILERPLATE.sub("", _POSITION.sub("", first)).strip()


# --------------------------------------------------------------------------------------------
# Where in the user's file


def locate(text: str, path: str, line: int, sql: str | None) -> Location | None:
    """Where Spark's error ``text`` about ``sql`` (a statement of ``path`` starting at ``line``)
    is in the user's file; None when Spark's text names no position in the query."""
    m = _POSITION.search(text.splitlines()[0] if text else "")
    if m is None or not path:
        return None
    name = _name_in(text, sql, int(m.group(1)), int(m.group(2)))
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    start = max(1, line)
    if name:
        word = re.compile(rf"(?<![\w`]){re.escape(name)}(?![\w`])", re.IGNORECASE)
        for number in range(start, len(lines) + 1):
            found = word.search(_without_comment(lines[number - 1]))
            if found:
                return Location(path, number, found.start() + 1, lines[number - 1], len(name))
    source = lines[start - 1] if start <= len(lines) else None
    return Location(path, start, 1, source, max(1, len((source or "").rstrip())))


def _name_in(text: str, sql: str | None, line: int, pos: int) -> str | None:
    """The name Spark complains about: the first `quoted` one in its message (the last part of a
    qualified one), else the word of ``sql`` at Spark's position."""
    quoted = re.search(r"`([^`]+)`", text)
    if quoted:
        return quoted.group(1).split("`.`")[-1]
    rows = (sql or "").splitlines()
    if 1 <= line <= len(rows):
        word = re.match(r"\w+", rows[line - 1][pos:])
        if word:
            return word.group(0)
    return None


def _without_comment(line: str) -> str:
    """A source line without its ``--`` comment (a name mentioned there is not the one used)."""
    return line.split("--", 1)[0]


# --------------------------------------------------------------------------------------------
# One failure, one located line


def failure(
    where: str,
    exc: t.Any,
    *,
    redact: t.Callable[[str], str],
    file: str = "",
    line: int = 0,
    sql: str | None = None,
) -> SqlStreamError:
    """The error to raise for ``exc`` of the step ``where`` (``queries/a.sql:3: query a_1``).

    A position in the statement's SQL makes it a ``UserError`` at ``path:line:col`` of the
    user's file (the query cannot run as written: exit 2, like ``validate``); anything else is
    a ``RunFailure``: one line of Spark's reason in sqlstream's words, and a hint.
    """
    text = reason(exc)
    message, hint = advice(text, exc)
    location = locate(text, file, line, sql) if sql else None
    if location is not None:
        name = where.rsplit(": ", 1)[-1]
        written = (location.source_line or "")[
            location.col - 1 : location.col - 1 + location.length
        ]
        if written:  # Spark upper-cases function names: say it as the user wrote it
            message = re.sub(rf"\b{re.escape(written)}\b", written, message, flags=re.IGNORECASE)
        return UserError(redact(f"{name}: {_without_position(message)}"), location, hint)
    return RunFailure(redact(f"{where}: {message}" + (f"\nhint: {hint}" if hint else "")))


def explained(text: str, exc: t.Any = None) -> str:
    """A failure's text in sqlstream's words with its hint (for a query that failed running)."""
    message, hint = advice(text, exc)
    return message + (f"\nhint: {hint}" if hint else "")
