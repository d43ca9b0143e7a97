"""A real single-node Apache Kafka broker on loopback, started from jars: no Docker.

The demo and the end-to-end tests need a Kafka that behaves exactly like production, on machines
without a container engine. ``up`` starts the Apache Kafka broker itself (``kafka.Kafka``, KRaft,
one combined broker+controller node) in a JVM of its own, from the jars ``sqlstream.spark.jars``
caches, and leaves it running detached, so a later ``up``/``status``/``down`` -- from another
process too -- finds it again through its state directory::

    <state_dir>/
        server.properties   written on every start (ports may change between starts)
        log4j2.properties   the broker's logging: everything to stdout, i.e. broker.log
        broker.log          the JVM's stdout and stderr (the previous run's is broker.log.1)
        broker.json         pid, ports, bootstrap, Kafka version of the running broker
        broker.pid          the pid alone, for shell tools
        data/               log.dirs: topic data and the KRaft metadata log; formatted once

The quorum is *static* (``controller.quorum.voters``), not the dynamic ``--standalone`` kind:
a static quorum keeps no controller endpoint in the metadata log, so a restarted broker can
take a different free port for its controller listener and still read its old data.

Local-only settings, chosen for tests and demos: retention is unlimited (records carrying event
times from the past must not be deleted under a running test), record timestamps are accepted
whatever they are, replication factors are 1, consumer-group rebalances start at once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlstream.errors import RunFailure
from sqlstream.local import process
from sqlstream.project.config import find_project_root
from sqlstream.spark import jars

DEFAULT_PORT = 9092
DEFAULT_STATE_DIR = Path(".sqlstream/kafka")
"""Relative to the project root (see ``default_state_dir``)."""
HOST = process.HOST
"""Loopback only, and an address rather than ``localhost``, which may resolve to ::1 first."""

_LOG_TAIL = 12
_STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Broker:
    """A running local broker."""

    bootstrap: str
    port: int
    controller_port: int
    pid: int
    state_dir: Path
    log_path: Path
    version: str

    @property
    def log(self) -> Path:
        """Alias of ``log_path``."""
        return self.log_path


# --- public API --------------------------------------------------------------------------------


def default_state_dir(start: Path | None = None) -> Path:
    """``.sqlstream/kafka`` of the project holding ``start`` (default: the current folder).

    The project is found upwards, as every other command finds sqlstream.yml, so that
    ``kafka status`` in ``queries/`` finds the broker ``kafka up`` started at the root; outside
    a project it is the folder itself.
    """
    here = Path(os.path.abspath(start if start is not None else Path.cwd()))
    return (find_project_root([here]) or here) / DEFAULT_STATE_DIR


def _state_dir(given: Path | None) -> Path:
    return Path(given if given is not None else default_state_dir()).resolve()


def up(
    port: int = DEFAULT_PORT,
    state_dir: Path | None = None,
    wait: float = 60,
    *,
    version: str = jars.KAFKA_VERSION,
    heap: str = "512m",
    settings: t.Mapping[str, str] | None = None,
) -> Broker:
    """Start a broker for ``state_dir`` (or return the one already running there).

    ``state_dir`` defaults to the project's (``default_state_dir``); ``port`` 0 picks a free port.
    Returns once the broker answers metadata requests; the broker keeps running after this process
    exits. Raises ``RunFailure`` when Java is missing, the port is taken, or the broker stops or
    does not answer within ``wait`` seconds.
    """
    state_dir = _state_dir(state_dir)
    running = status(state_dir)
    if running is not None:
        _wait_ready(running, wait, proc=None)
        return running

    java = _java()
    if port and not process.port_free(port):
        raise RunFailure(
            f"cannot start Kafka: port {HOST}:{port} is already in use.\n"
            "hint: another broker or program listens there; stop it, or choose another port"
        )
    classpath = jars.kafka_broker_jars(version)
    state_dir.mkdir(parents=True, exist_ok=True)
    port = port or process.free_port()
    controller_port = process.free_port(avoid={port})
    props = _write_config(state_dir, port, controller_port, settings or {})
    log_path = state_dir / "broker.log"
    cp = os.pathsep.join(str(j) for j in classpath)
    process.rotate(log_path)
    if not (state_dir / "data" / "meta.properties").exists():
        _format(java, cp, state_dir, props, log_path)

    cmd = [
        java,
        f"-Xms{_min_heap(heap)}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={state_dir / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={state_dir}",
        "-cp",
        cp,
        "kafka.Kafka",
        str(props),
    ]
    proc = process.spawn(cmd, state_dir, log_path)
    broker = Broker(
        bootstrap=f"{HOST}:{port}",
        port=port,
        controller_port=controller_port,
        pid=proc.pid,
        state_dir=state_dir,
        log_path=log_path,
        version=version,
    )
    _write_state(broker)
    try:
        _wait_ready(broker, wait, proc=proc)
    except BaseException:
        process.terminate(proc.pid, timeout=5)
        _clear_state(state_dir)
        raise
    return broker


def down(state_dir: Path | None = None, timeout: float = _STOP_TIMEOUT) -> bool:
    """Stop the broker of ``state_dir``: SIGTERM, then SIGKILL after ``timeout`` seconds.

    Returns True when a broker was running. Its data stays in ``state_dir``.
    """
    state_dir = _state_dir(state_dir)
    broker = status(state_dir)
    if broker is None:
        _clear_state(state_dir)
        return False
    process.terminate(broker.pid, timeout)
    _clear_state(state_dir)
    return True


def status(state_dir: Path | None = None) -> Broker | None:
    """The broker whose process is running from ``state_dir``, or None.

    This checks the process, not that the broker answers; ``ping`` does that.
    """
    state_dir = _state_dir(state_dir)
    try:
        state = json.loads((state_dir / "broker.json").read_text())
        broker = Broker(
            bootstrap=state["bootstrap"],
            port=int(state["port"]),
            controller_port=int(state["controller_port"]),
            pid=int(state["pid"]),
            state_dir=state_dir,
            log_path=state_dir / "broker.log",
            version=state["version"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _is_our_broker(broker.pid, state_dir / "server.properties"):
        return None
    return broker


def ping(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when the broker at ``bootstrap`` answers a metadata request listing a broker.

    Speaks the Kafka protocol directly, so it needs no Kafka client library.
    """
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or HOST, int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            # Metadata v4 (v0-v3 were removed in Kafka 4.0): all topics, no auto-creation.
            body = _request(sock, api_key=3, api_version=4, body=struct.pack(">ib", -1, 0))
    except (OSError, ValueError, struct.error):
        return False
    if len(body) < 8:
        return False
    _throttle, n_brokers = struct.unpack(">ii", body[:8])
    return n_brokers > 0


# --- starting ----------------------------------------------------------------------------------


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(java_home) / "bin" / "java")] if java_home else []
    candidates.append(shutil.which("java") or "")
    java = next((c for c in candidates if c and Path(c).is_file()), None)
    if java is None:
        raise RunFailure(
            "cannot start Kafka: no Java runtime found (java not on PATH, JAVA_HOME not set).\n"
            "hint: install a JDK 17 or newer, e.g. `apt-get install openjdk-17-jre-headless`"
        )
    major = process.java_major(java)
    if major is not None and major < 17:
        raise RunFailure(
            f"cannot start Kafka: {java} is Java {major}; Kafka {jars.KAFKA_VERSION} needs 17+.\n"
            "hint: install a JDK 17 or newer and put it first on PATH or in JAVA_HOME"
        )
    return java


def _write_config(
    state_dir: Path, port: int, controller_port: int, overrides: t.Mapping[str, str]
) -> Path:
    """``server.properties``; ``overrides`` (``up(settings=...)``: a test's broker without
    auto-create, say) replace the defaults below."""
    data = state_dir / "data"
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data),
        "num.partitions": "1",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        "offsets.topic.replication.factor": "1",
        # 50 partitions by default: creating them delays the first consumer group by seconds.
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.ms": "-1",
        "log.message.timestamp.before.max.ms": str(2**63 - 1),
        "log.message.timestamp.after.max.ms": str(2**63 - 1),
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        **overrides,
    }
    props = state_dir / "server.properties"
    lines = ["# Written by sqlstream.local.broker on every start; edits are overwritten."]
    lines += [f"{k}={_escape_prop(v)}" for k, v in settings.items()]
    props.write_text("\n".join(lines) + "\n")
    (state_dir / "log4j2.properties").write_text(_LOG4J2)
    return props


_LOG4J2 = """\
# Written by sqlstream.local.broker: the broker logs to stdout, which is broker.log.
status = warn
name = sqlstream-localkafka
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.network.name = kafka.network.RequestChannel$
logger.network.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
"""


def _escape_prop(value: str) -> str:
    # java.util.Properties treats backslash as an escape (Windows paths).
    return value.replace("\\", "\\\\")


def _format(java: str, cp: str, state_dir: Path, props: Path, log_path: Path) -> None:
    """Format the log directory once with a new cluster id (KRaft needs it before the start)."""
    cmd = [
        java,
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={state_dir / 'log4j2.properties'}",
        "-cp",
        cp,
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        _cluster_id(),
        "--config",
        str(props),
    ]
    try:
        proc = subprocess.run(
            cmd, cwd=state_dir, capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RunFailure(f"cannot format Kafka storage in {state_dir}: {e}") from None
    with open(log_path, "a") as log:
        log.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        out = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-_LOG_TAIL:])
        raise RunFailure(
            f"cannot format Kafka storage in {state_dir / 'data'} (exit {proc.returncode}):\n"
            f"{out}\nhint: remove {state_dir} to start from empty storage"
        )


def _cluster_id() -> str:
    """A Kafka ``Uuid`` as ``kafka-storage random-uuid`` prints it, without starting a JVM."""
    while True:
        raw = uuid.uuid4().bytes
        text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if not text.startswith("-") and any(raw):  # as Kafka's Uuid.randomUuid avoids
            return text


def _min_heap(heap: str) -> str:
    m = re.fullmatch(r"(\d+)([kmgKMG]?)", heap)
    if not m:
        raise ValueError(f"heap must look like 512m or 1g, got {heap!r}")
    return heap if int(m.group(1)) <= 256 and m.group(2).lower() == "m" else "256m"


def _wait_ready(broker: Broker, wait: float, proc: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + wait
    while True:
        exited = proc.poll() if proc is not None else None
        if exited is not None or (proc is None and not process.alive(broker.pid)):
            raise RunFailure(
                f"Kafka broker stopped while starting (exit {exited}).\n"
                f"{_failure_report(broker.log_path)}\nhint: {_hint(broker.log_path)}"
            )
        if ping(broker.bootstrap, timeout=1.0):
            return
        if time.monotonic() > deadline:
            raise RunFailure(
                f"Kafka broker did not answer on {broker.bootstrap} within {wait:.0f}s.\n"
                f"{_failure_report(broker.log_path)}\n"
                "hint: a slow machine may need a longer wait"
            )
        time.sleep(0.2)


def _failure_report(log_path: Path) -> str:
    """The broker's first error with its exception message, then the log's last lines.

    Stack frames are left out: they bury the one line that says what went wrong.
    """
    lines = process.tail(log_path, 2000).splitlines()
    report: list[str] = []
    for i, line in enumerate(lines):
        if re.search(r"\] (ERROR|FATAL) ", line):
            report.append(f"first error in {log_path}:")
            report.append(line)
            for more in lines[i + 1 : i + 6]:
                if more.startswith("[") or re.match(r"\s+(at |\.\.\. \d+ more)", more):
                    break
                report.append(more)
            break
    frames = [ln for ln in lines if not re.match(r"\s+(at |\.\.\. \d+ more)", ln)]
    report.append(f"last lines of {log_path}:")
    report.extend(frames[-_LOG_TAIL:] or ["(empty)"])
    return "\n".join(report)


def _hint(log_path: Path) -> str:
    text = process.tail(log_path, 200)
    if "Address already in use" in text:
        return "a port the broker needs is taken; stop whatever listens there or choose another"
    if "UnsupportedClassVersionError" in text:
        return "the Java runtime is too old; Kafka 4 needs Java 17 or newer"
    if "should only contain Kafka topic data" in text:
        return f"remove what is not Kafka's from {log_path.parent / 'data'}"
    if "Invalid cluster.id" in text or "meta.properties" in text:
        return f"the storage in {log_path.parent / 'data'} is not usable; remove it and retry"
    return "see the broker log above"


# --- processes and state -----------------------------------------------------------------------


def _write_state(broker: Broker) -> None:
    state = {
        "bootstrap": broker.bootstrap,
        "port": broker.port,
        "controller_port": broker.controller_port,
        "pid": broker.pid,
        "version": broker.version,
        "started_at": time.time(),
    }
    tmp = broker.state_dir / "broker.json.tmp"
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(broker.state_dir / "broker.json")
    (broker.state_dir / "broker.pid").write_text(f"{broker.pid}\n")


def _clear_state(state_dir: Path) -> None:
    for name in ("broker.json", "broker.pid"):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).unlink()


def _is_our_broker(pid: int, props: Path) -> bool:
    """The pid is alive and runs ``kafka.Kafka`` on this state dir's properties (pids recycle)."""
    if not process.alive(pid):
        return False
    cmdline = process.cmdline(pid)
    return cmdline is None or ("kafka.Kafka" in cmdline and str(props) in cmdline)


# --- small helpers -----------------------------------------------------------------------------


def free_port(avoid: t.Container[int] = ()) -> int:
    """A loopback TCP port nobody listens on right now."""
    return process.free_port(avoid)


def _request(sock: socket.socket, api_key: int, api_version: int, body: bytes) -> bytes:
    """Send one Kafka request (header v1) and return the response body (after header v0)."""
    client_id = b"sqlstream"
    correlation_id = 1
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(client_id)) + client_id
    message = header + body
    sock.sendall(struct.pack(">i", len(message)) + message)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    response = _recv_exact(sock, size)
    (got,) = struct.unpack(">i", response[:4])
    if got != correlation_id:
        raise ValueError("unexpected correlation id")
    return response[4:]


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return bytes(buf)


# A manual convenience: python -m sqlstream.local.broker up|down|status
if __name__ == "__main__":  # pragma: no cover
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    if command == "up":
        print(up())
    elif command == "down":
        print("stopped" if down() else "not running")
    else:
        print(status() or "not running")
