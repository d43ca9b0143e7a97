"""Where a Spark engine's time goes: Java Flight Recorder samples of the JVM during one run.

``jcmd <pid> JFR.start`` records CPU samples of every Java thread (``jdk.ExecutionSample``,
every 10 ms with the ``profile`` settings); ``jfr print`` reads them back. A sample counts for a
category when a frame of its stack matches the category's pattern (inclusive time: one sample
may count for several, e.g. the Kafka source and the JSON decoder it calls); the top frames
are the methods the samples were in (self time). Both tools come with the JDK.
"""

from __future__ import annotations

import re
import subprocess
import typing as t
from collections import Counter
from pathlib import Path

CATEGORIES: dict[str, tuple[str, ...]] = {
    "Kafka consumer (fetch, decompress, records)": ("org.apache.kafka.clients.consumer",),
    "lz4 (decompress input, compress output)": ("net.jpountz", "org.apache.kafka.common.compress"),
    "JSON decode (from_json)": ("JacksonParser", "JsonToStructs", "com.fasterxml.jackson.core"),
    "JSON encode (to_json)": ("JacksonGenerator", "StructsToJson"),
    "malformed-record check (get_json_object, json_object_keys)": (
        "GetJsonObject",
        "JsonObjectKeys",
        "RaiseError",
    ),
    "watermark (EventTimeWatermark)": ("EventTimeWatermark",),
    "record counts (observe: CollectMetrics)": ("CollectMetrics", "AggregatingAccumulator"),
    "Kafka producer (send, batch)": ("org.apache.kafka.clients.producer",),
    "Spark Kafka sink (KafkaWriteTask, rows to records)": ("KafkaWriteTask", "KafkaDataWriter"),
    "generated code (whole-stage codegen)": ("GeneratedClass", "GeneratedIterator"),
    "UTF8String (casts, compares, regexp)": ("org.apache.spark.unsafe.types.UTF8String",),
    "state store": ("StateStore", "RocksDB", "HDFSBackedStateStore"),
    "shuffle (exchange write/read)": ("ShuffleWriter", "ShuffleReader", "ShuffleExternalSorter"),
    "query planning, analysis (driver)": (
        "org.apache.spark.sql.catalyst.analysis",
        "org.apache.spark.sql.catalyst.optimizer",
        "QueryPlanner",
    ),
    "checkpoint, offsets, commit log (driver)": ("HDFSMetadataLog", "CheckpointFileManager"),
}


def start(pid: int, path: Path) -> None:
    _jcmd(pid, "JFR.start", "name=nexmark", "settings=profile", f"filename={path}")


def stop(pid: int) -> None:
    _jcmd(pid, "JFR.stop", "name=nexmark")


def _jcmd(pid: int, *args: str) -> None:
    done = subprocess.run(["jcmd", str(pid), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"jcmd {' '.join(args)} failed: {done.stdout.strip()} {done.stderr}")


FRAME = re.compile(r"^\s+([\w$.<>]+)\(")


def stacks(path: Path) -> t.Iterator[list[str]]:
    """Each sample's stack, innermost frame first (method names, no line numbers)."""
    out = subprocess.run(
        ["jfr", "print", "--events", "jdk.ExecutionSample", "--stack-depth", "64", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    current: list[str] | None = None
    for line in out.splitlines():
        if "stackTrace = [" in line:
            current = []
        elif current is not None and line.strip() == "]":
            yield current
            current = None
        elif current is not None:
            m = FRAME.match(line)
            if m:
                current.append(m.group(1))


def summarise(path: Path, top: int = 12) -> tuple[int, Counter[str], Counter[str]]:
    """Samples, samples per category (inclusive), samples per innermost method (self)."""
    n = 0
    cats: Counter[str] = Counter()
    selfs: Counter[str] = Counter()
    for stack in stacks(path):
        n += 1
        if stack:
            selfs[stack[0]] += 1
        joined = " ".join(stack)
        for name, patterns in CATEGORIES.items():
            if any(p in joined for p in patterns):
                cats[name] += 1
    return n, cats, Counter(dict(selfs.most_common(top)))


def table(n: int, cats: Counter[str], selfs: Counter[str]) -> list[str]:
    """Markdown lines: the categories and the top methods, as shares of all samples."""
    lines = ["| where (inclusive) | share of CPU samples |", "| --- | --- |"]
    for name, k in cats.most_common():
        lines.append(f"| {name} | {100 * k / n:.0f} % |")
    lines += ["", "| method (self) | share |", "| --- | --- |"]
    for name, k in selfs.most_common():
        lines.append(f"| `{name}` | {100 * k / n:.1f} % |")
    return lines
