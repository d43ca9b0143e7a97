"""A micro-batch Kafka sink's producer batches (``triggers.BATCHED_PRODUCER``) unless the sink
or the target says otherwise; continuous and real-time sinks keep the client's defaults."""

from __future__ import annotations

import typing as t

import pytest
from test_codegen import FakeTarget, make_plan

from sqlstream.compiler.plan import Trigger
from sqlstream.project.connection import Connection
from sqlstream.spark import steps as st

BATCHED = {"kafka.batch.size": "1048576", "kafka.linger.ms": "20"}
CLIENT_DEFAULTS: dict[str, str] = {}


def producer_options(
    trigger: Trigger | None,
    sink_options: t.Mapping[str, str] = {},
    target_options: t.Mapping[str, str] = {},
) -> dict[str, t.Any]:
    plan = make_plan()
    sink = plan.sinks[0]
    sink.trigger = trigger
    sink.write_options.update(sink_options)
    base = FakeTarget().kafka_options
    target = FakeTarget(kafka_options={**base, **target_options})
    (query,) = [
        s
        for s in st.steps(plan, sink, connection=Connection.from_target(target))
        if isinstance(s, st.StartQuery) and s.kind == "sink"
    ]
    options = {c.args[0]: c.args[1] for c in query.write if c.name == "option"}
    return {k: v for k, v in options.items() if k in ("kafka.batch.size", "kafka.linger.ms")}


CASES: list[tuple[str, Trigger | None, dict[str, str], dict[str, str], dict[str, str]]] = [
    ("the default trigger", None, {}, {}, BATCHED),
    ("a processing-time trigger", Trigger("processing_time", "10 seconds"), {}, {}, BATCHED),
    ("available_now", Trigger("available_now"), {}, {}, BATCHED),
    ("once", Trigger("once"), {}, {}, BATCHED),
    ("continuous: no batch waits", Trigger("continuous", "1 second"), {}, {}, CLIENT_DEFAULTS),
    ("real_time: no batch waits", Trigger("real_time"), {}, {}, CLIENT_DEFAULTS),
    (
        "the sink's own linger wins",
        None,
        {"kafka.linger.ms": "0"},
        {},
        {"kafka.batch.size": "1048576", "kafka.linger.ms": "0"},
    ),
    (
        "the target's batch size wins",
        None,
        {},
        {"kafka.batch.size": "65536"},
        {"kafka.batch.size": "65536", "kafka.linger.ms": "20"},
    ),
]


@pytest.mark.parametrize(
    "trigger, sink_options, target_options, expected",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_producer_options(
    trigger: Trigger | None,
    sink_options: dict[str, str],
    target_options: dict[str, str],
    expected: dict[str, str],
) -> None:
    assert producer_options(trigger, sink_options, target_options) == expected
