"""The triggers a sink can have, one row each: how a user writes it, what Spark is given, the
output mode, and which operations a query under it may use.

The planner reads the forms and the allowed operations, the steps read Spark's arguments and
the output mode, the runtime reads which checker to run: adding a trigger is adding a row.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

TriggerName = t.Literal["processing_time", "once", "available_now", "continuous", "real_time"]

BATCHED_PRODUCER = (("kafka.batch.size", "1048576"), ("kafka.linger.ms", "20"))
"""The Kafka producer of a micro-batch sink, unless the sink or the target says otherwise:
batches of up to 1 MiB, filled for up to 20 ms. Spark's Kafka writer flushes its producer at
the end of every task, so a batch's last records wait for nothing; with the client's defaults
(16 KiB batches) Nexmark q0 wrote 920,000 records at 85,000 records/s, with these at 108,000,
and 27 % less CPU (docs/benchmarks.md, the nexmark ledger). Not for continuous and real-time
mode, whose tasks never end: there a lingering batch is latency."""


@dataclass(frozen=True)
class TriggerKind:
    """One kind of trigger: how it is written, its interval, and what Spark is given."""

    name: TriggerName
    word: str | None
    """How the user writes it (``once``); None: a bare duration (``'10 seconds'``)."""
    interval: t.Literal["none", "optional", "required"]
    form: str
    """The form shown in the option's documentation."""
    example: str
    spark_arg: str
    """The keyword of ``DataStreamWriter.trigger``."""
    default_interval: str | None
    """Its value without an interval; None: the keyword takes ``True``."""
    output_mode: t.Literal["append", "update"] = "append"
    """Real-time mode has no append mode: the runtime first proves the query append-only and
    stateless, so update emits exactly the same records."""
    stateless_mode: str | None = None
    """The mode's name when it runs stateless queries only (no aggregation, no join of streams)."""
    union: bool = True
    joins: bool = True
    """Joins with a static table (a join of streams keeps state: refused in a stateless mode)."""
    current_time: bool = True
    observe: bool = True
    """Whether ``DataFrame.observe`` (the malformed-record count) works under it."""
    watermark: bool = True
    """Whether Spark accepts an EventTimeWatermark under it (continuous mode does not)."""
    checker: t.Literal["streaming", "continuous"] = "streaming"
    """Which of Spark's unsupported-operation checks the runtime runs before starting."""
    rate_limit: t.Literal["respected", "ignored", "refused"] = "respected"
    """What Spark 4.2 does with ``maxOffsetsPerTrigger``: ``once`` reads everything available in
    one batch and continuous mode has no batches (both ignore it, silently); real-time mode
    refuses to start ("maxOffsetsPerTrigger is not compatible with real time mode")."""
    producer: tuple[tuple[str, str], ...] = BATCHED_PRODUCER
    """Kafka producer options its sinks get unless they or the target set them."""


TRIGGERS: dict[str, TriggerKind] = {
    k.name: k
    for k in (
        TriggerKind(
            "processing_time",
            None,
            "required",
            "'<n> seconds'",
            "'10 seconds'",
            "processingTime",
            "0 seconds",
        ),
        TriggerKind("once", "once", "none", "once", "'once'", "once", None, rate_limit="ignored"),
        TriggerKind(
            "available_now",
            "available_now",
            "none",
            "available_now",
            "'available_now'",
            "availableNow",
            None,
        ),
        TriggerKind(
            "continuous",
            "continuous",
            "required",
            "continuous '<n> seconds'",
            "'continuous 1 second'",
            "continuous",
            "1 second",
            stateless_mode="continuous mode",
            union=False,
            joins=False,
            current_time=False,
            observe=False,
            watermark=False,
            checker="continuous",
            rate_limit="ignored",
            producer=(),
        ),
        # Spark's own default batch duration for Trigger.RealTime() is 5 minutes.
        TriggerKind(
            "real_time",
            "real_time",
            "optional",
            "real_time",
            "'real_time'",
            "realTime",
            "5 minutes",
            output_mode="update",
            stateless_mode="real-time mode",
            observe=False,
            rate_limit="refused",
            producer=(),
        ),
    )
}
DEFAULT = TRIGGERS["processing_time"]
"""Spark's default: a micro-batch as soon as the previous one ends."""

FORMS = " | ".join(k.form for k in TRIGGERS.values())
EXAMPLES = ", ".join(k.example for k in list(TRIGGERS.values())[:-1]) + (
    f" or {list(TRIGGERS.values())[-1].example}"
)


def kind(name: str | None) -> TriggerKind:
    """The row of a trigger kind; Spark's default for None."""
    return TRIGGERS[name] if name else DEFAULT


_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(ms|millisecond|milliseconds|s|sec|secs|second|seconds|"
    r"min|mins|minute|minutes|h|hour|hours|d|day|days)\s*$",
    re.IGNORECASE,
)
_UNITS = {
    "ms": "milliseconds",
    "millisecond": "milliseconds",
    "s": "seconds",
    "sec": "seconds",
    "secs": "seconds",
    "second": "seconds",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "h": "hours",
    "hour": "hours",
    "d": "days",
    "day": "days",
}


def parse_duration(text: str) -> str | None:
    """``'10 seconds'`` -> ``'10 seconds'`` (normalised), or None when it is not a duration."""
    m = _DURATION.match(text)
    if not m:
        return None
    amount, unit = m.group(1), m.group(2).lower()
    unit = _UNITS.get(unit, unit)
    if amount == "1":
        unit = unit[:-1]
    return f"{amount} {unit}"


def parse_trigger(text: str) -> tuple[TriggerName, str | None] | None:
    """The forms DESIGN 2.3 allows (``TriggerKind.word`` and ``interval``), or None."""
    norm = " ".join(text.strip().lower().replace("-", "_").split())
    for k in TRIGGERS.values():
        if k.word is None:
            continue
        if norm == k.word and k.interval != "required":
            return k.name, None
        if norm.startswith(k.word) and k.interval != "none":
            rest = norm[len(k.word) :]
            if rest[:1] in (" ", "'", '"') or (k.interval == "required" and rest):
                d = parse_duration(rest.strip().strip("'\" "))
                return (k.name, d) if d else None
    d = parse_duration(norm)
    return (DEFAULT.name, d) if d else None


def spark_kwargs(name: str | None, interval: str | None) -> dict[str, t.Any]:
    """The keyword arguments of ``DataStreamWriter.trigger`` (empty for no trigger: Spark's
    default)."""
    if name is None:
        return {}
    k = TRIGGERS[name]
    return {k.spark_arg: (interval or k.default_interval) if k.interval != "none" else True}
