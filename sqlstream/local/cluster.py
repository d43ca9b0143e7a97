"""A real Spark standalone cluster on loopback: one master and N workers, each a JVM of its own.

A target with ``spark: {master: 'spark://127.0.0.1:7077'}`` runs its queries the way a
production cluster does: the driver is ``sqlstream run``, the executors are other processes
that fetch the connector jars from the driver, a worker can die under a running query. This
module starts such a cluster from pyspark's own launcher (``bin/spark-class``; the wheel has no
``sbin/start-master.sh``), so the tests and a user's laptop need nothing but pyspark and Java.

``up`` leaves the processes running detached and writes where they are to the state directory,
so that a later ``status``/``down`` (another process, ``sqlstream cluster down``) finds them::

    <state_dir>/
        conf/spark-defaults.conf   the daemons' settings (SPARK_CONF_DIR); written on every start
        master.log, worker-N.log   each JVM's stdout and stderr (the previous run's is *.log.1)
        work-N/                    worker N's work dir: one folder per application and executor,
                                   with the executors' stdout and stderr
        cluster.json               pids and ports of the running master and workers

Each worker runs in a process group of its own, with the executors it launches: ``kill_worker``
signals the group, which is what losing a machine does to a cluster.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import time
import typing as t
import urllib.error
import urllib.request
from pathlib import Path

from sqlstream.errors import RunFailure
from sqlstream.local import broker, process
from sqlstream.project.config import find_project_root

HOST = broker.HOST
DEFAULT_PORT = 7077
DEFAULT_WORKERS = 2
DEFAULT_STATE_DIR = Path(".sqlstream/cluster")
"""Relative to the project root, as the broker's ``.sqlstream/kafka``."""
DAEMON_MEMORY = "256m"
"""Heap of the master and worker daemons themselves (Spark's default is 1g each); the memory a
worker offers its executors is ``up(memory=...)``."""
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"

_STOP_TIMEOUT = 30.0
_LOG_TAIL = 15

DAEMON_CONF = {
    # The REST submission server would take the fixed port 6066: two clusters could not start.
    "spark.master.rest.enabled": "false",
    # An application's folders stay in work-N/ for reading its executors' logs after the run.
    "spark.worker.cleanup.enabled": "false",
}


@dataclasses.dataclass(frozen=True)
class Worker:
    """One worker JVM; ``pid`` is also its process group."""

    index: int
    pid: int
    port: int
    webui_port: int
    work_dir: Path
    log_path: Path

    @property
    def address(self) -> str:
        """``host:port`` as the master and the driver name the worker."""
        return f"{HOST}:{self.port}"


@dataclasses.dataclass(frozen=True)
class Cluster:
    """A running cluster: its master and the workers this module started."""

    port: int
    webui_port: int
    pid: int
    workers: tuple[Worker, ...]
    state_dir: Path

    @property
    def master_url(self) -> str:
        """What a target's ``spark: {master: ...}`` names."""
        return f"spark://{HOST}:{self.port}"

    @property
    def webui_url(self) -> str:
        return f"http://{HOST}:{self.webui_port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "master.log"


# --- public API --------------------------------------------------------------------------------


def default_state_dir(start: Path | None = None) -> Path:
    """``.sqlstream/cluster`` of the project holding ``start`` (default: the current folder)."""
    here = Path(os.path.abspath(start if start is not None else Path.cwd()))
    return (find_project_root([here]) or here) / DEFAULT_STATE_DIR


def up(
    port: int = DEFAULT_PORT,
    state_dir: Path | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
    cores: int = 1,
    memory: str = "1g",
    wait: float = 120,
) -> Cluster:
    """Start a master and ``workers`` workers of ``cores`` cores and ``memory`` each, and return
    once every worker is registered. When a cluster runs from ``state_dir`` already, only the
    workers missing from it (killed, say) are started again.

    ``port`` 0 picks a free port; the web UI and the workers always take free ones. Raises
    ``RunFailure`` when Java or pyspark is missing, the port is taken, or a process stops or the
    workers are not registered within ``wait`` seconds (everything started is stopped then).
    """
    state_dir = _state_dir(state_dir)
    running = status(state_dir)
    if running is not None:
        running = _restart_missing(running, workers, cores, memory)
        wait_registered(running, wait)
        return running
    if port and not process.port_free(port):
        raise RunFailure(
            f"cannot start the Spark cluster: port {HOST}:{port} is already in use.\n"
            "hint: another Spark master or program listens there; stop it, or choose another port"
        )
    launcher = _spark_class()
    state_dir.mkdir(parents=True, exist_ok=True)
    _write_conf(state_dir)
    port = port or broker.free_port()
    webui_port = broker.free_port(avoid={port})
    args = ["--host", HOST, "--port", str(port), "--webui-port", str(webui_port)]
    master_pid = _launch(launcher, MASTER_CLASS, args, state_dir, state_dir / "master.log")
    cluster = Cluster(port, webui_port, master_pid, (), state_dir)
    try:
        _wait_master(cluster, wait)
        cluster = Cluster(
            port,
            webui_port,
            master_pid,
            tuple(_start_worker(launcher, cluster, i, cores, memory) for i in range(workers)),
            state_dir,
        )
        _write_state(cluster)
        wait_registered(cluster, wait)
    except BaseException:
        _stop_all(cluster, timeout=5)
        _clear_state(state_dir)
        raise
    return cluster


def down(state_dir: Path | None = None, timeout: float = _STOP_TIMEOUT) -> bool:
    """Stop the cluster of ``state_dir``: the workers (and their executors), then the master;
    SIGTERM, then SIGKILL after ``timeout`` seconds. True when a master was running."""
    state_dir = _state_dir(state_dir)
    cluster = status(state_dir)
    if cluster is not None:
        _stop_all(cluster, timeout)
    _clear_state(state_dir)
    return cluster is not None


def status(state_dir: Path | None = None) -> Cluster | None:
    """The cluster whose master runs from ``state_dir``, or None; its workers are the ones
    still running (a killed one is left out). This checks the processes; ``registered`` asks
    the master."""
    state_dir = _state_dir(state_dir)
    try:
        state = json.loads((state_dir / "cluster.json").read_text())
        workers = tuple(
            Worker(
                index=int(w["index"]),
                pid=int(w["pid"]),
                port=int(w["port"]),
                webui_port=int(w["webui_port"]),
                work_dir=state_dir / f"work-{int(w['index'])}",
                log_path=state_dir / f"worker-{int(w['index'])}.log",
            )
            for w in state["workers"]
        )
        cluster = Cluster(
            int(state["port"]), int(state["webui_port"]), int(state["pid"]), workers, state_dir
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _is_ours(cluster.pid, MASTER_CLASS, state_dir):
        return None
    alive = tuple(w for w in workers if _is_ours(w.pid, WORKER_CLASS, state_dir))
    return Cluster(cluster.port, cluster.webui_port, cluster.pid, alive, state_dir)


def master_state(cluster: Cluster, timeout: float = 2.0) -> dict[str, t.Any] | None:
    """The master's own JSON (its web UI's ``/json/``), or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{cluster.webui_url}/json/", timeout=timeout) as resp:
            return t.cast("dict[str, t.Any]", json.loads(resp.read()))
    except (OSError, ValueError, urllib.error.URLError):
        return None


def registered(cluster: Cluster) -> list[str]:
    """``host:port`` of every worker the master counts as alive."""
    state = master_state(cluster) or {}
    return sorted(
        f"{w.get('host')}:{w.get('port')}"
        for w in state.get("workers") or []
        if isinstance(w, dict) and w.get("state") == "ALIVE"
    )


def wait_registered(cluster: Cluster, wait: float) -> None:
    """Until the master counts every worker of ``cluster`` as alive; ``RunFailure`` if a worker
    stops first or ``wait`` seconds pass."""
    want = sorted(w.address for w in cluster.workers)
    deadline = time.monotonic() + wait
    while not set(want) <= set(registered(cluster)):
        dead = [w for w in cluster.workers if not process.alive(w.pid)]
        if dead or not process.alive(cluster.pid):
            log = dead[0].log_path if dead else cluster.log_path
            raise RunFailure(
                f"Spark {'worker' if dead else 'master'} stopped while starting.\n"
                f"last lines of {log}:\n{process.tail(log, _LOG_TAIL)}"
            )
        if time.monotonic() > deadline:
            raise RunFailure(
                f"Spark workers {', '.join(want)} not registered with {cluster.master_url} "
                f"within {wait:.0f}s (registered: {', '.join(registered(cluster)) or 'none'}).\n"
                f"last lines of {cluster.log_path}:\n{process.tail(cluster.log_path, _LOG_TAIL)}"
                "\nhint: a slow machine may need a longer wait"
            )
        time.sleep(0.3)


def kill_worker(worker: Worker, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the worker and the executors it launched (its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, sig)
    deadline = time.monotonic() + 10
    while process.alive(worker.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


# --- starting ----------------------------------------------------------------------------------


def _state_dir(given: Path | None) -> Path:
    return Path(given if given is not None else default_state_dir()).resolve()


def _spark_home() -> Path:
    """pyspark's folder: the wheel is a Spark distribution (``bin/``, ``jars/``) without
    ``sbin/``."""
    try:
        import pyspark  # imported here: the CLI's --help must not need it
    except ImportError:
        raise RunFailure(
            "cannot start the Spark cluster: pyspark is not installed.\n"
            "hint: pip install 'sqlstream[spark]'"
        ) from None
    return Path(pyspark.__file__).parent


def _spark_class() -> list[str]:
    """The launcher's command: ``bash <pyspark>/bin/spark-class`` (the wheel may lose the
    executable bit), after checking that a Java runtime is there for it."""
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").is_file()) and not shutil.which("java"):
        raise RunFailure(
            "cannot start the Spark cluster: no Java runtime found (java not on PATH, "
            "JAVA_HOME not set).\nhint: install a JDK 17 or newer"
        )
    return ["bash", str(_spark_home() / "bin" / "spark-class")]


def _write_conf(state_dir: Path) -> None:
    conf = state_dir / "conf"
    conf.mkdir(exist_ok=True)
    lines = ["# Written by sqlstream.local.cluster on every start; edits are overwritten."]
    lines += [f"{k} {v}" for k, v in DAEMON_CONF.items()]
    (conf / "spark-defaults.conf").write_text("\n".join(lines) + "\n")


def _env(state_dir: Path) -> dict[str, str]:
    """The daemons' environment: pyspark as SPARK_HOME, our conf folder (not a user's
    ``spark-env.sh``), loopback addresses, small daemon heaps."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_GATEWAY"))}
    env.update(
        SPARK_HOME=str(_spark_home()),
        SPARK_CONF_DIR=str(state_dir / "conf"),
        SPARK_LOCAL_IP=HOST,
        SPARK_DAEMON_MEMORY=DAEMON_MEMORY,
    )
    return env


def _launch(
    launcher: list[str], main_class: str, args: list[str], state_dir: Path, log_path: Path
) -> int:
    """Start one daemon detached, in a session (process group) of its own; its pid."""
    process.rotate(log_path)
    conf = state_dir / "conf" / "spark-defaults.conf"
    cmd = [*launcher, main_class, *args, "--properties-file", str(conf)]
    return process.spawn(cmd, state_dir, log_path, env=_env(state_dir)).pid


def _start_worker(
    launcher: list[str], cluster: Cluster, index: int, cores: int, memory: str
) -> Worker:
    taken = {cluster.port, cluster.webui_port}
    port = broker.free_port(avoid=taken)
    webui_port = broker.free_port(avoid=taken | {port})
    work_dir = cluster.state_dir / f"work-{index}"
    work_dir.mkdir(exist_ok=True)
    log_path = cluster.state_dir / f"worker-{index}.log"
    args = [cluster.master_url, "--host", HOST, "--port", str(port)]
    args += ["--webui-port", str(webui_port), "--cores", str(cores), "--memory", memory]
    args += ["--work-dir", str(work_dir)]
    pid = _launch(launcher, WORKER_CLASS, args, cluster.state_dir, log_path)
    return Worker(index, pid, port, webui_port, work_dir, log_path)


def _restart_missing(cluster: Cluster, workers: int, cores: int, memory: str) -> Cluster:
    """``cluster`` with its workers ``0 .. workers-1`` running: the missing ones started."""
    have = {w.index for w in cluster.workers}
    missing = [i for i in range(workers) if i not in have]
    if not missing:
        return cluster
    launcher = _spark_class()
    started = tuple(_start_worker(launcher, cluster, i, cores, memory) for i in missing)
    every = tuple(sorted((*cluster.workers, *started), key=lambda w: w.index))
    cluster = dataclasses.replace(cluster, workers=every)
    _write_state(cluster)
    return cluster


def _wait_master(cluster: Cluster, wait: float) -> None:
    deadline = time.monotonic() + wait
    while (master_state(cluster) or {}).get("status") != "ALIVE":
        if not process.alive(cluster.pid):
            raise RunFailure(
                "Spark master stopped while starting.\n"
                f"last lines of {cluster.log_path}:\n{process.tail(cluster.log_path, _LOG_TAIL)}"
            )
        if time.monotonic() > deadline:
            raise RunFailure(
                f"Spark master did not answer on {cluster.webui_url} within {wait:.0f}s.\n"
                "hint: a slow machine may need a longer wait"
            )
        time.sleep(0.3)


# --- processes and state -----------------------------------------------------------------------


def _stop_all(cluster: Cluster, timeout: float) -> None:
    """Workers first (each stops its executors on SIGTERM), then the master."""
    for w in cluster.workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(w.pid, signal.SIGTERM)
    for w in cluster.workers:
        process.terminate(w.pid, timeout)
        with contextlib.suppress(ProcessLookupError):  # an executor left behind
            os.killpg(w.pid, signal.SIGKILL)
    process.terminate(cluster.pid, timeout)


def _write_state(cluster: Cluster) -> None:
    state = {
        "master": cluster.master_url,
        "port": cluster.port,
        "webui_port": cluster.webui_port,
        "pid": cluster.pid,
        "workers": [
            {"index": w.index, "pid": w.pid, "port": w.port, "webui_port": w.webui_port}
            for w in cluster.workers
        ],
        "started_at": time.time(),
    }
    tmp = cluster.state_dir / "cluster.json.tmp"
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(cluster.state_dir / "cluster.json")


def _clear_state(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / "cluster.json").unlink()


def _is_ours(pid: int, main_class: str, state_dir: Path) -> bool:
    """The pid is alive and runs ``main_class`` with this state dir's conf (pids recycle)."""
    if not process.alive(pid):
        return False
    cmdline = process.cmdline(pid)
    return cmdline is None or (main_class in cmdline and str(state_dir / "conf") in cmdline)
