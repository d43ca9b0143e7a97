"""The Spark session of a run: a local Spark (or the target's master), or Spark Connect.

pyspark is imported inside the functions: importing this module needs no JVM.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import typing as t
import warnings
from pathlib import Path

from sqlstream.errors import RunFailure
from sqlstream.project.connection import Connection
from sqlstream.project.defaults import DEFAULT_MASTER
from sqlstream.spark.reason import reason

if t.TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

LOG_LEVEL = "ERROR"


def session(
    connection: Connection,
    app_name: str = "sqlstream",
    *,
    avro: bool = False,
    ui: bool = False,
    kafka: bool = True,
    packages: t.Sequence[str] = (),
) -> SparkSession:
    """A Spark session for ``connection``: ``local[*]``, the target's master, or Spark Connect.

    The Kafka connector (and spark-avro when ``avro``) comes from ``jars.spark_jars_conf`` at
    pyspark's own version; on Spark Connect the server must have it. Shuffle partitions default
    to 4 (``SET`` overrides it); the UI is off unless ``ui``; the log level is quiet. Without
    ``kafka`` (``sqlstream test`` runs in batch, on DataFrames it builds) no connector jar is
    fetched or loaded.
    """
    import pyspark
    from pyspark.sql import SparkSession

    confs = connection.spark_confs()
    if connection.spark_remote:
        return _connect_session(connection, confs)
    from sqlstream.spark import jars

    master = connection.spark_master or DEFAULT_MASTER
    builder = SparkSession.builder.appName(app_name).master(master)
    check_reachable(master)
    if on_this_machine(master):
        # Keep a local Spark (or a cluster on loopback) on loopback, quiet about the host's
        # address; its executors run this interpreter, the one with pyspark and sqlstream.
        # Elsewhere the cluster's network and Python are the user's to name (docs/cluster.md).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    log_config = Path(__file__).with_name("log4j2.properties")
    confs = {
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={log_config.as_uri()}",
        **(
            jars.with_packages(jars.spark_jars_conf(pyspark.__version__, avro=avro), packages)
            if kafka
            else {}
        ),
        "spark.ui.enabled": "true" if ui else "false",
        "spark.ui.showConsoleProgress": "false",
        **confs,
    }
    for key, value in confs.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - Spark raises many kinds; all mean "cannot start"
        raise RunFailure(connection.redact(f"cannot start Spark: {reason(exc)}")) from None
    spark.sparkContext.setLogLevel(LOG_LEVEL)
    return spark


LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]"})


def master_host(master: str) -> str | None:
    """The host of a ``spark://host:port`` master (the first of a list of masters); None for
    ``local[*]``, ``yarn``, ``k8s://...`` and the like, whose executors may be anywhere."""
    if not master.startswith("spark://"):
        return None
    first = master[len("spark://") :].split(",")[0]
    return first.rsplit(":", 1)[0] if ":" in first else first


def on_this_machine(master: str) -> bool:
    """Whether every executor of ``master`` runs on this machine: a local Spark, or a standalone
    master on loopback (``sqlstream cluster up``)."""
    return master.startswith("local") or master_host(master) in LOOPBACK


MASTER_TIMEOUT = 3.0
"""Seconds to wait for a standalone master to accept a connection before the run fails."""


def check_reachable(master: str) -> None:
    """``RunFailure`` when no master of a ``spark://`` URL accepts a connection.

    Spark itself retries an unreachable standalone master for a minute, then stops the context
    with "All masters are unresponsive": a mistyped port or a cluster that is down should fail
    the run in seconds, and say what to check.
    """
    if not master.startswith("spark://"):
        return
    errors = []
    for address in master[len("spark://") :].split(","):
        host, _, port = address.rpartition(":") if ":" in address else (address, "", "7077")
        try:
            socket.create_connection((host.strip("[]"), int(port)), MASTER_TIMEOUT).close()
            return
        except (OSError, ValueError) as exc:
            errors.append(f"{address}: {getattr(exc, 'strerror', None) or exc}")
    raise RunFailure(
        f"cannot reach the Spark master {master} ({'; '.join(errors)})\n"
        "hint: is the cluster up (`sqlstream cluster status` for a local one), and are the "
        "target's spark: master host and port right?"
    )


def cluster_notes(connection: Connection) -> list[str]:
    """What a run on a cluster needs that this machine cannot check: a checkpoint root at a
    local path must be the same shared folder on every machine of the cluster (stateful queries
    write their state from the executors)."""
    master = connection.spark_master or DEFAULT_MASTER
    root = connection.checkpoint_root
    if connection.spark_remote or on_this_machine(master) or "://" in root:
        return []
    return [
        f"checkpoint_root {root} is a local path and the master {master} may run executors "
        "on other machines: every one of them must see that folder (a shared mount), "
        "else use hdfs://, s3a://, abfss:// or gs://"
    ]


CONNECT_RETRIES = 5
"""Retries of the first call to a Spark Connect server (about 8 s in all, then it fails)."""


def _connect_session(connection: Connection, confs: dict[str, str]) -> SparkSession:
    """A Spark Connect session with ``confs`` set, or a quick ``RunFailure`` when no server answers.

    The client retries an unreachable server for ten minutes or more (to ride out a server
    restart): right for a running query, not for a mistyped ``remote``. So the first call runs
    under a short retry policy, and the client's own policy is put back for the run.
    """
    remote = connection.spark_remote or ""
    try:
        from pyspark.sql import SparkSession
        from pyspark.sql.connect.client.retries import DefaultPolicy
    except ImportError as exc:  # pyspark's Spark Connect client needs grpcio, pandas, pyarrow...
        raise RunFailure(
            f"cannot use Spark Connect: {exc}\n"
            "hint: install the client's packages: pip install 'sqlstream[connect]'"
        ) from None
    spark = None
    try:
        # PySpark's own builder (not the Connect one): it also switches pyspark.sql.functions
        # to Spark Connect. With no option but the remote, building makes no call.
        spark = SparkSession.builder.remote(remote).getOrCreate()
        client = spark.client  # type: ignore[attr-defined]
        policies = client.get_retry_policies()
        client.set_retry_policies(
            [
                DefaultPolicy(
                    max_retries=CONNECT_RETRIES, initial_backoff=250, backoff_multiplier=2.0
                )
            ]
        )
        try:
            with warnings.catch_warnings():  # RETRIES_EXCEEDED: the error below says it better
                warnings.simplefilter("ignore")
                spark.version  # noqa: B018 - the first call: is a server there?
        finally:
            client.set_retry_policies(policies)
    except Exception as exc:  # noqa: BLE001 - gRPC and Spark errors alike mean "cannot start"
        if spark is not None:
            # A closed client makes no call at exit (else its clean-up retries for minutes).
            with contextlib.suppress(Exception):
                spark.client.close()
        # PySpark wraps the gRPC error, whose status text says what went wrong.
        rpc = next(
            (e for e in (exc, exc.__context__) if callable(getattr(e, "details", None))), None
        )
        text = str(rpc.details()) if rpc is not None else reason(exc)  # type: ignore[attr-defined]
        raise RunFailure(
            connection.redact(
                f"cannot reach Spark Connect at {remote}: {text}\n"
                "hint: is the server running, and is the remote's host:port right?"
            )
        ) from None
    try:
        for key, value in confs.items():
            spark.conf.set(key, value)
    except Exception as exc:  # noqa: BLE001 - e.g. a static conf, which a session cannot set
        raise RunFailure(
            connection.redact(f"cannot set Spark conf on {remote}: {reason(exc)}")
        ) from None
    return t.cast("SparkSession", spark)
