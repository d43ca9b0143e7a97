"""``defaults.source`` and ``defaults.sink`` of sqlstream.yml, checked like the options they
stand for.

The project layer reads them as single values with their place in sqlstream.yml (it may not
import the compiler, which owns the option tables). Here each key is checked as the same key in
``FROM KAFKA (...)`` or ``WITH (...)`` is: the same names, the same value kinds, the same
``kafka.*`` pass-through and the same Kafka options that Spark refuses; a mistake is reported at
its line in sqlstream.yml, once, not at every statement it would reach. A statement's own option
wins over a default.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from sqlstream.compiler import options, triggers
from sqlstream.compiler.analyse import did_you_mean
from sqlstream.errors import Diagnostics
from sqlstream.project.config import DefaultOption

__all__ = ["Defaults", "check"]


@dataclass(frozen=True)
class _Kind:
    """What a default of one kind (``source`` or ``sink``) may be."""

    what: str
    clause: str
    specs: dict[str, options.OptionSpec]
    refused_kafka: dict[str, str]
    per_statement: dict[str, str]
    """Options that describe one statement, so a default for every one makes no sense; why."""
    per_statement_prefix: tuple[str, str] | None = None
    """A prefix of such options (the sink's ``'topic.*'`` configs), and why."""


_OWN_TOPIC = "each sink declares the topic it writes (and only a literal TOPIC can be declared)"

KINDS: dict[str, _Kind] = {
    "source": _Kind(
        "source",
        "FROM KAFKA (...)",
        options.SOURCE_OPTIONS,
        options.REFUSED_SOURCE_KAFKA_OPTIONS,
        {sel: "each stream names its own topics" for sel in options.TOPIC_SELECTORS},
    ),
    "sink": _Kind(
        "sink",
        "WITH (...)",
        options.SINK_OPTIONS,
        options.REFUSED_SINK_KAFKA_OPTIONS,
        {
            "name": "two queries cannot share a name",
            "checkpoint": "two queries cannot share a checkpoint",
            **{key: _OWN_TOPIC for key in options.TOPIC_OPTIONS},
        },
        (options.TOPIC_CONFIG_PREFIX, _OWN_TOPIC),
    ),
}


def _trigger_problem(value: str) -> str | None:
    return None if triggers.parse_trigger(value) else "is not a trigger"


_VALUE_CHECKS: dict[str, t.Callable[[str], str | None]] = {
    "trigger": _trigger_problem,
    "starting_offsets": options.check_starting_offsets,
}
"""Checks beyond the option's kind, for values that the planner would otherwise report at each
statement rather than at the default."""


def _sends_to_a_dlq(values: dict[str, str]) -> bool:
    return any(values.get(policy) == "dlq" for policy in ("on_error", "on_tombstone"))


_APPLIES_WHEN: dict[str, t.Callable[[dict[str, str]], bool]] = {
    # One dead-letter topic for the project serves the streams that send records to one; a
    # stream that fails or skips would otherwise be refused for naming a DLQ it does not use.
    "dlq_topic": _sends_to_a_dlq,
}


@dataclass
class Defaults:
    """The checked defaults of one kind: sqlstream options and ``kafka.*`` client options."""

    values: dict[str, str] = field(default_factory=dict)
    kafka: dict[str, str] = field(default_factory=dict)

    def apply(self, values: dict[str, str], kafka: dict[str, str]) -> None:
        """Fill in, in place, what the statement does not set itself."""
        for key, value in self.values.items():
            if key not in _APPLIES_WHEN:
                values.setdefault(key, value)
        for key, applies in _APPLIES_WHEN.items():
            if key in self.values and applies(values):
                values.setdefault(key, self.values[key])
        for key, value in self.kafka.items():
            kafka.setdefault(key, value)


def check(
    defaults: t.Mapping[str, t.Mapping[str, DefaultOption]] | None, diags: Diagnostics
) -> dict[str, Defaults]:
    """Each kind's defaults, the mistaken ones left out and reported to ``diags``."""
    given = defaults or {}
    return {name: _check_kind(kind, given.get(name) or {}, diags) for name, kind in KINDS.items()}


def _check_kind(kind: _Kind, given: t.Mapping[str, DefaultOption], diags: Diagnostics) -> Defaults:
    result = Defaults()
    for key, option in given.items():
        lkey = key.lower()
        if lkey.startswith("kafka."):
            if _kafka_ok(kind, key, option, diags):
                result.kafka[key] = option.value
        elif _option_ok(kind, key, option, diags):
            spec = kind.specs[lkey]
            result.values[lkey] = option.value.lower() if spec.kind == "enum" else option.value
    return result


def _kafka_ok(kind: _Kind, key: str, option: DefaultOption, diags: Diagnostics) -> bool:
    lkey = key.lower()
    if lkey in kind.refused_kafka:
        diags.error(
            f"Spark does not allow the Kafka option '{key}'",
            option.key_at,
            kind.refused_kafka[lkey],
        )
        return False
    if lkey == "kafka.bootstrap.servers":
        diags.error(
            "the broker address comes from the target, not from defaults",
            option.key_at,
            "set bootstrap_servers in profiles.yml, or pass --bootstrap-servers to run",
        )
        return False
    return True


def _option_ok(kind: _Kind, key: str, option: DefaultOption, diags: Diagnostics) -> bool:
    lkey = key.lower()
    where = f"defaults.{kind.what}"
    prefix, why = kind.per_statement_prefix or (None, "")
    if lkey in kind.per_statement or (prefix and lkey.startswith(prefix)):
        diags.error(
            f"'{key}' cannot be a default of every {kind.what}",
            option.key_at,
            f"{kind.per_statement.get(lkey, why)}: set {key} in {kind.clause} of each one",
        )
        return False
    spec = kind.specs.get(lkey)
    if spec is None:
        allowed = [k for k in kind.specs if k not in kind.per_statement]
        diags.error(
            f"unknown {kind.what} option '{key}' in {where}",
            option.key_at,
            did_you_mean(key, allowed)
            or f"the {kind.what} options are: {', '.join(allowed)}; Kafka client settings start "
            "with 'kafka.', e.g. kafka.client.id",
        )
        return False
    problem = options.check_value(spec, option.value) or _VALUE_CHECKS.get(lkey, _no_problem)(
        option.value
    )
    if problem:
        diags.error(f"option '{key}' in {where} {problem}", option.value_at, spec.doc)
        return False
    return True


def _no_problem(value: str) -> None:
    return None
