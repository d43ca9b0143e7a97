"""``sqlstream run`` on a Spark Connect server (a target with ``spark: {remote: "sc://..."}``).

One server for the module, started from the pip-installed pyspark (``spark-submit --class
...SparkConnectServer``, what ``sbin/start-connect-server.sh`` of a Spark distribution runs) with
Spark's Kafka connector from ``sqlstream.spark.jars`` on its classpath, on a free loopback port;
it is stopped at the end. Two runs of the CLI in a subprocess, as a user runs it: a finite run
(``--trigger available-now``) whose records and progress lines are checked exactly, and a
running query stopped with SIGTERM, which must stop the query on the server too.

The module is skipped only when the server cannot start for a reason outside sqlstream (no Java,
no Spark Connect client packages); any other failure fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import typing as t
import uuid
from pathlib import Path

import pytest
from cliproc import PROGRESS, SQLSTREAM, RunningCli
from cliproc import env as cli_env

from sqlstream.local import client as kafkaclient
from sqlstream.local.client import Record

pytestmark = pytest.mark.e2e

CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
STARTUP_SECONDS = 240
NAMES = ("orders_dlq", "orders_out")


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class ConnectServer(t.NamedTuple):
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


def _log_tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group (its JVM stops Spark in a shutdown hook)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[ConnectServer]:
    pyspark = pytest.importorskip("pyspark")
    try:
        import grpc  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        pytest.skip(
            f"the Spark Connect client packages are not installed ({exc}):"
            " pip install -e '.[connect]'"
        )
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        pytest.skip("no Java: a Spark Connect server needs a JVM (JAVA_HOME or java on PATH)")

    from sqlstream.local import broker as localkafka
    from sqlstream.spark import jars

    spark_home = Path(pyspark.__file__).parent
    submit = spark_home / "bin" / "spark-submit"
    assert submit.is_file(), f"pyspark has no bin/spark-submit in {spark_home}"
    # The same connector jars a local `sqlstream run` puts on its classpath.
    conf = jars.spark_jars_conf(pyspark.__version__)
    classpath = (
        ["--jars", conf["spark.jars"]]
        if "spark.jars" in conf
        else ["--packages", conf["spark.jars.packages"]]
    )
    port = localkafka.free_port()
    state = tmp_path_factory.mktemp("spark-connect")
    log = state / "server.log"
    cmd = [
        str(submit),
        "--class",
        CONNECT_SERVER_CLASS,
        "--name",
        "sqlstream-e2e-connect",
        "--master",
        "local[2]",
        "--driver-memory",
        "1g",
        *classpath,
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.connect.grpc.port.maxRetries=0",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        f"spark.local.dir={state / 'tmp'}",
    ]
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
    }
    for key in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_CONF_DIR"):
        env.pop(key, None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=state,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"the Spark Connect server exited ({proc.returncode}):\n{_log_tail(log)}"
                )
            if "Spark Connect server started at" in log.read_text(errors="replace"):
                with socket.create_connection(("127.0.0.1", port), timeout=5):
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"no Spark Connect server after {STARTUP_SECONDS} s:\n{_log_tail(log)}")
            time.sleep(0.5)
        yield ConnectServer(f"sc://127.0.0.1:{port}", proc, log)
    finally:
        _stop_server(proc)


# --------------------------------------------------------------------------------------------
# The project
# --------------------------------------------------------------------------------------------

RECORDS: list[t.Any] = [
    ("u1", json.dumps({"order_id": "o1", "amount": 50.0}), [("trace", "t1")], 0),
    ("u2", json.dumps({"order_id": "o2", "amount": 0.5}), None, 1),
    ("u1", "{broken", [("trace", "t-bad")], 0),
    ("u3", json.dumps({"order_id": "o3", "amount": 7.25}), None, 1),
    ("u2", json.dumps({"order_id": "o4", "amount": 3.0}), [("trace", "t4")], 0),
]
EXPECTED_OUT = sorted(
    [
        (
            b"u1",
            b'{"user_id":"u1","order_id":"o1","doubled":100.0,"trace":"t1"}',
            (("trace", b"t1"),),
        ),
        (
            b"u3",
            b'{"user_id":"u3","order_id":"o3","doubled":14.5,"trace":null}',
            (("trace", None),),
        ),
        (
            b"u2",
            b'{"user_id":"u2","order_id":"o4","doubled":6.0,"trace":"t4"}',
            (("trace", b"t4"),),
        ),
    ],
    key=repr,
)

SQL = """
CREATE STREAM orders (
    order_id STRING,
    user_id  STRING KEY,
    amount   DOUBLE,
    trace    STRING HEADER('trace')
) FROM KAFKA (
    topic = '{topic}',
    starting_offsets = 'earliest',
    on_error = 'dlq',
    dlq_topic = '{dlq}'
);

CREATE STREAM big_orders AS
SELECT user_id, order_id, amount * 2 AS doubled, trace
FROM orders
WHERE amount > 1;

INSERT INTO KAFKA TOPIC '{out}'
    KEY user_id
    HEADERS ('trace' = trace)
    WITH (trigger = '{trigger}', name = 'orders_out')
SELECT user_id, order_id, doubled, trace
FROM big_orders;
"""


def _project(root: Path, remote: str, topic: str, out: str, dlq: str, trigger: str) -> Path:
    """A project whose only target runs on the Spark Connect server ``remote``."""
    (root / "queries").mkdir(parents=True)
    (root / "sqlstream.yml").write_text("name: sc\nprofile: sc\n")
    # The checkpoints are written by the server: here it runs on this machine.
    (root / "profiles.yml").write_text(
        "sc:\n  target: dev\n  outputs:\n    dev:\n"
        "      bootstrap_servers: '127.0.0.1:1'\n"
        f"      checkpoint_root: '{root / 'checkpoints'}'\n"
        f"      spark:\n        remote: '{remote}'\n"
    )
    (root / "queries" / "orders.sql").write_text(
        SQL.format(topic=topic, out=out, dlq=dlq, trigger=trigger)
    )
    return root


def _content(records: t.Iterable[Record]) -> list[tuple[t.Any, ...]]:
    return sorted(((r.key, r.value, tuple(r.headers)) for r in records), key=repr)


@pytest.fixture(scope="module")
def input_topic(kafka_bootstrap: str) -> str:
    topic = f"sc-orders-{uuid.uuid4().hex[:8]}"
    kafkaclient.create_topic(kafka_bootstrap, topic, partitions=2)
    kafkaclient.produce(kafka_bootstrap, topic, RECORDS)
    return topic


# --------------------------------------------------------------------------------------------
# The runs
# --------------------------------------------------------------------------------------------


def test_run_available_now_on_spark_connect(
    connect_server: ConnectServer, kafka_bootstrap: str, input_topic: str, tmp_path: Path
) -> None:
    u = uuid.uuid4().hex[:8]
    out, dlq = f"sc-out-{u}", f"sc-dlq-{u}"
    root = _project(tmp_path / "p", connect_server.url, input_topic, out, dlq, "available_now")

    proc = subprocess.run(
        [
            str(SQLSTREAM),
            "run",
            "--trigger",
            "available-now",
            "--bootstrap-servers",
            kafka_bootstrap,
        ],
        cwd=root,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert proc.returncode == 0, (proc.stdout, proc.stderr[-3000:], _log_tail(connect_server.log))
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "started 2 queries: orders_dlq, orders_out", proc.stdout
    progress = [m for m in map(PROGRESS.match, lines[1:]) if m]
    assert len(progress) == lines.index("summary:") - 1, proc.stdout  # then the summary
    for name in NAMES:
        mine = [m for m in progress if m["name"] == name]
        assert [int(m["batch"]) for m in mine] == list(range(len(mine))), proc.stdout
        assert sum(int(m["rows"]) for m in mine) == len(RECORDS), proc.stdout
        assert mine and mine[-1]["behind"] == "0", proc.stdout
    # The source's observed metric (df.observe) comes back over Spark Connect too.
    assert sum(int(m["dlq"] or 0) for m in progress if m["name"] == "orders_out") == 1

    assert _content(kafkaclient.consume_all(kafka_bootstrap, out)) == EXPECTED_OUT
    (dead,) = kafkaclient.consume_all(kafka_bootstrap, dlq)
    assert (dead.key, dead.value) == (b"u1", b"{broken")
    assert dead.headers[0] == ("trace", b"t-bad")
    # The server wrote the checkpoints where the target says.
    for name in NAMES:
        assert (root / "checkpoints" / "sc" / name / "commits" / "0").is_file()


def test_sigterm_stops_the_query_on_the_server(
    connect_server: ConnectServer, kafka_bootstrap: str, input_topic: str, tmp_path: Path
) -> None:
    u = uuid.uuid4().hex[:8]
    out, dlq = f"sc-term-out-{u}", f"sc-term-dlq-{u}"
    root = _project(tmp_path / "p", connect_server.url, input_topic, out, dlq, "1 second")

    log_start = len(connect_server.log.read_bytes())
    cli = RunningCli.start(
        ["run", "--bootstrap-servers", kafka_bootstrap], root, query="orders_out"
    )
    try:
        cli.wait_for_rows(180)
        rc, stderr = cli.stop(signal.SIGTERM)
    finally:
        cli.kill()
    lines = cli.lines
    assert rc == 0, (lines, stderr[-3000:])
    assert lines[0] == "started 2 queries: orders_dlq, orders_out", lines
    assert "stopping (SIGTERM)" in lines, lines
    assert "Traceback" not in stderr, stderr[-3000:]
    assert _content(kafkaclient.consume_all(kafka_bootstrap, out)) == EXPECTED_OUT
    # The queries ran on the server, and stopped there (a client that just exits stops nothing):
    # the server logs it. Their trigger never ends on its own, so only the stop can say so.
    deadline = time.monotonic() + 30
    while True:
        text = connect_server.log.read_bytes()[log_start:].decode(errors="replace")
        if all(re.search(rf"Query {n} \[id = [^\]]*\] was stopped", text) for n in NAMES):
            break
        assert time.monotonic() < deadline, _log_tail(connect_server.log)
        time.sleep(0.5)
