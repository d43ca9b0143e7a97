"""A real Schema Registry on loopback for the demo, the tests and laptops: Apicurio Registry.

The ``*-confluent`` formats need a registry that speaks Confluent's REST API. Apicurio Registry
(Apache 2.0, on Maven Central as ``io.apicurio:apicurio-registry-app``, the ``all`` tar.gz: a
Quarkus application) serves it under ``/apis/ccompat/v7``, and confluent-kafka's serializers work
against it, so what works here works against Confluent's or Redpanda's registry too. Like
``sqlstream.local.broker``, ``up`` starts it detached in a JVM of its own and a later
``up``/``status``/``down`` finds it through its state directory::

    <state_dir>/
        registry.log    the JVM's stdout and stderr (the previous run's is registry.log.1)
        registry.json   pid, ports, url, version of the running registry
        data/           the schemas (an H2 database file): kept by ``down``, as the broker keeps
                        its topics, so that records written with a schema id stay readable

Storage is Apicurio's SQL storage on an H2 file under the state directory (its default is H2 in
memory: a restart forgot every schema while the topics kept records naming their ids). Delete
the state directory for a registry with no schemas. Apicurio 3 needs Java 21 or newer: the
newest such Java among ``JAVA_HOME``, ``java`` on ``PATH`` and the usual JDK folders is used,
so it runs beside Spark's Java 17.
Quarkus opens a management port on every interface unless told otherwise: both ports are bound
to loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sqlstream.errors import RunFailure
from sqlstream.local import broker as _broker
from sqlstream.local import process
from sqlstream.spark import jars

VERSION = "3.3.3"
COORDINATE = f"io.apicurio:apicurio-registry-app:{VERSION}:tar.gz:all"
DEFAULT_PORT = 8081
"""Confluent Schema Registry's usual port, so a profile's default URL fits both."""
DEFAULT_STATE_DIR = Path(".sqlstream/registry")
HOST = _broker.HOST
CCOMPAT_PATH = "/apis/ccompat/v7"
JAVA_MIN = 21
_JDK_FOLDERS = ("/usr/lib/jvm", "/usr/java", "/Library/Java/JavaVirtualMachines")
"""Where JDK packages put their JDKs (Debian and Red Hat, macOS), searched for a Java 21+."""
_STOP_TIMEOUT = 20.0


@dataclass(frozen=True)
class Registry:
    """A running local registry."""

    url: str
    """The Confluent-compatible API: what a profile's ``schema_registry.url`` names."""
    port: int
    management_port: int
    pid: int
    state_dir: Path
    log: Path
    version: str


def default_state_dir(start: Path | None = None) -> Path:
    """``.sqlstream/registry`` of the project holding ``start`` (as the broker's)."""
    return _broker.default_state_dir(start).parent / DEFAULT_STATE_DIR.name


def _state_dir(given: Path | None) -> Path:
    return Path(given if given is not None else default_state_dir()).resolve()


def up(port: int = DEFAULT_PORT, state_dir: Path | None = None, wait: float = 120) -> Registry:
    """Start a registry for ``state_dir`` (or return the one running there); ``port`` 0 picks a
    free one. Returns once its API answers; raises ``RunFailure`` when no Java 21+ is found, the
    port is taken, or it stops or does not answer within ``wait`` seconds."""
    state_dir = _state_dir(state_dir)
    running = status(state_dir)
    if running is not None:
        _wait_ready(running, wait, proc=None)
        return running
    java = find_java()
    if port and not process.port_free(port):
        raise RunFailure(
            f"cannot start the schema registry: port {HOST}:{port} is already in use.\n"
            "hint: another registry or program listens there; stop it, or pass --port"
        )
    app = _unpacked()
    state_dir.mkdir(parents=True, exist_ok=True)
    port = port or _broker.free_port()
    management_port = _broker.free_port(avoid={port})
    log_path = state_dir / "registry.log"
    process.rotate(log_path)
    proc = process.spawn(_command(java, app, state_dir, port, management_port), state_dir, log_path)
    registry = Registry(
        url=f"http://{HOST}:{port}{CCOMPAT_PATH}",
        port=port,
        management_port=management_port,
        pid=proc.pid,
        state_dir=state_dir,
        log=log_path,
        version=VERSION,
    )
    _write_state(registry)
    try:
        _wait_ready(registry, wait, proc=proc)
    except BaseException:
        process.terminate(proc.pid, timeout=5)
        _clear_state(state_dir)
        raise
    return registry


def _command(java: str, app: Path, state_dir: Path, port: int, management_port: int) -> list[str]:
    settings = {
        "quarkus.http.host": HOST,
        "quarkus.http.port": str(port),
        "quarkus.management.host": HOST,
        "quarkus.management.port": str(management_port),
        "quarkus.log.console.json": "false",
        **_storage(state_dir),
        # Marks the process as this state directory's, for status (pids are recycled).
        "sqlstream.state_dir": str(state_dir),
    }
    return [
        java,
        "-Xmx384m",
        "-XX:+ExitOnOutOfMemoryError",
        *(f"-D{k}={v}" for k, v in settings.items()),
        "-jar",
        str(app / "quarkus-run.jar"),
    ]


def _storage(state_dir: Path) -> dict[str, str]:
    """Apicurio's H2 storage in a file of ``state_dir`` (its default URL is ``jdbc:h2:mem:``),
    with a pool sized for one user (its default keeps 20 connections open)."""
    database = (state_dir / "data" / "registry").resolve()
    return {
        "apicurio.datasource.url": f"jdbc:h2:file:{database}",
        "apicurio.datasource.jdbc.initial-size": "2",
        "apicurio.datasource.jdbc.min-size": "2",
        "apicurio.datasource.jdbc.max-size": "10",
    }


def down(state_dir: Path | None = None) -> bool:
    """Stop the registry of ``state_dir``; True when one was running. Its schemas stay in
    ``state_dir``'s ``data/`` for the next ``up``."""
    state_dir = _state_dir(state_dir)
    registry = status(state_dir)
    if registry is not None:
        process.terminate(registry.pid, _STOP_TIMEOUT)
    _clear_state(state_dir)
    return registry is not None


def status(state_dir: Path | None = None) -> Registry | None:
    """The registry whose process runs from ``state_dir``, or None (``ping`` checks it answers)."""
    state_dir = _state_dir(state_dir)
    try:
        state = json.loads((state_dir / "registry.json").read_text())
        registry = Registry(
            url=state["url"],
            port=int(state["port"]),
            management_port=int(state["management_port"]),
            pid=int(state["pid"]),
            state_dir=state_dir,
            log=state_dir / "registry.log",
            version=state["version"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not process.alive(registry.pid):
        return None
    cmdline = process.cmdline(registry.pid)
    if cmdline is not None and f"-Dsqlstream.state_dir={state_dir}" not in cmdline:
        return None
    return registry


def ping(url: str, timeout: float = 2.0) -> bool:
    """True when the Confluent-compatible API at ``url`` lists its subjects."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/subjects", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


# --- Java and the application --------------------------------------------------------------


def find_java() -> str:
    """The first Java 21+ of ``JAVA_HOME``, ``PATH`` and the JDK folders (newest first)."""
    seen: list[str] = []
    for java in _java_candidates():
        major = process.java_major(java)
        if major is not None and major >= JAVA_MIN:
            return java
        seen.append(f"{java} (Java {major if major is not None else '?'})")
    found = "; found " + ", ".join(seen) if seen else "; found no Java at all"
    raise RunFailure(
        f"cannot start the schema registry: Apicurio Registry {VERSION} needs Java {JAVA_MIN} "
        f"or newer{found}.\n"
        "hint: install a JDK 21+ (e.g. `apt-get install openjdk-21-jre-headless`) and set "
        "JAVA_HOME to it; Spark and the broker keep their own Java"
    )


def _java_candidates() -> list[str]:
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    candidates.append(shutil.which("java") or "")
    for folder in _JDK_FOLDERS:
        homes = sorted(Path(folder).glob("*"), key=_version_key, reverse=True)
        for home in homes:
            candidates += [str(home / "bin" / "java"), str(home / "Contents/Home/bin/java")]
    real: list[str] = []
    for c in candidates:
        if c and Path(c).is_file() and os.path.realpath(c) not in map(os.path.realpath, real):
            real.append(c)
    return real


def _version_key(home: Path) -> tuple[int, str]:
    digits = "".join(ch if ch.isdigit() else " " for ch in home.name).split()
    return (int(digits[0]) if digits else 0, home.name)


def _unpacked() -> Path:
    """The application folder (``quarkus-run.jar`` and its ``lib/``), unpacked once from the
    cached archive beside it."""
    archive = jars.resolve_archive(COORDINATE, f"apicurio-registry-{VERSION}")
    target = archive.parent / "app"
    if (target / "quarkus-run.jar").is_file():
        return target
    tmp = archive.parent / "app.new"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    runner = next(tmp.rglob("quarkus-run.jar"), None)
    if runner is None:
        raise RunFailure(f"{archive} holds no quarkus-run.jar\nhint: remove {archive.parent}")
    runner.parent.rename(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


# --- waiting and state -----------------------------------------------------------------------


def _wait_ready(registry: Registry, wait: float, proc: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + wait
    while True:
        exited = proc.poll() if proc is not None else None
        if exited is not None or (proc is None and not process.alive(registry.pid)):
            raise RunFailure(
                f"the schema registry stopped while starting (exit {exited}).\n"
                f"last lines of {registry.log}:\n{process.tail(registry.log, 12)}\n"
                "hint: see the log above"
            )
        if ping(registry.url, timeout=1.0):
            return
        if time.monotonic() > deadline:
            raise RunFailure(
                f"the schema registry did not answer on {registry.url} within {wait:.0f}s.\n"
                f"last lines of {registry.log}:\n{process.tail(registry.log, 12)}\n"
                "hint: a slow machine may need a longer wait"
            )
        time.sleep(0.25)


def _write_state(registry: Registry) -> None:
    state = {
        "url": registry.url,
        "port": registry.port,
        "management_port": registry.management_port,
        "pid": registry.pid,
        "version": registry.version,
        "started_at": time.time(),
    }
    tmp = registry.state_dir / "registry.json.tmp"
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(registry.state_dir / "registry.json")


def _clear_state(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / "registry.json").unlink()


# A manual convenience: python -m sqlstream.local.registry up|down|status
if __name__ == "__main__":  # pragma: no cover
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    if command == "up":
        print(up())
    elif command == "down":
        print("stopped" if down() else "not running")
    else:
        print(status() or "not running")
