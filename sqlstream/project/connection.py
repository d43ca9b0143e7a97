"""The connection a run uses: a target's settings, with the secret ones told apart.

``Connection.from_target`` is the one place where a ``Target`` becomes what the runtime and the
script printer read; which options are secret is ``project.secrets``' policy, applied here once.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from sqlstream.project import secrets
from sqlstream.project.config import Target
from sqlstream.project.defaults import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_CHECKPOINT_ROOT,
    DEFAULT_MASTER,
    DEFAULT_SPARK_CONF,
    LOCAL_SPARK_CONF,
)
from sqlstream.project.registry import RegistrySettings


@dataclass(repr=False)
class Connection:
    """The target's connection settings, as the runtime and the script use them.

    ``kafka_options`` are Spark Kafka options (``kafka.security.protocol``, ...) given to every
    source and sink; the ones named in ``secret_options`` are never printed: a script reads them
    from ``env_name(option)``.
    """

    bootstrap_servers: str
    kafka_options: dict[str, str] = field(default_factory=dict)
    secret_options: frozenset[str] = frozenset()
    checkpoint_root: str = DEFAULT_CHECKPOINT_ROOT
    spark_master: str | None = None
    spark_remote: str | None = None
    spark_conf: dict[str, str] = field(default_factory=dict)
    target_name: str = "dev"
    secret_values: frozenset[str] = frozenset()
    """Every secret value, so that ``redact`` can hide it in any text (error messages...)."""
    schema_registry: RegistrySettings | None = None
    """Where the ``*-confluent`` formats look schemas up (``run`` refreshes the lock file)."""
    jdbc_options: dict[str, str] = field(default_factory=dict)
    """``user`` and ``password`` of the target's ``jdbc:`` settings, for JDBC tables."""

    @classmethod
    def from_target(cls, target: Target) -> Connection:
        """An option is secret when its name says so (``secrets.SECRET_NAME``) or when its value
        holds one of the target's secret values as a whole token (a JAAS config built around
        ``{{ env_var('PASSWORD') }}``)."""
        options = {**target.kafka_options, **target.spark_conf}
        secret_names = {
            k
            for k, v in options.items()
            if secrets.is_secret_name(k) or any(secrets.holds(v, s) for s in target.secrets)
        }
        values = set(target.secrets) | {v for k, v in options.items() if k in secret_names and v}
        return cls(
            bootstrap_servers=target.bootstrap_servers or DEFAULT_BOOTSTRAP,
            kafka_options=dict(target.kafka_options),
            secret_options=frozenset(secret_names),
            checkpoint_root=target.checkpoint_root or DEFAULT_CHECKPOINT_ROOT,
            spark_master=target.spark_master or None,
            spark_remote=target.spark_remote or None,
            spark_conf=dict(target.spark_conf),
            target_name=target.name,
            secret_values=frozenset(values),
            schema_registry=target.schema_registry,
            jdbc_options=dict(target.jdbc_options),
        )

    def resolved(self, root: Path, bootstrap_override: str | None = None) -> Connection:
        """This connection with a relative checkpoint root resolved against ``root`` (so that a
        query resumes from the same checkpoint whichever directory it is started from), and the
        bootstrap servers of ``--bootstrap-servers`` when given."""
        conn = self
        if "://" not in conn.checkpoint_root and not os.path.isabs(conn.checkpoint_root):
            conn = dataclasses.replace(conn, checkpoint_root=str(root / conn.checkpoint_root))
        if bootstrap_override:
            conn = dataclasses.replace(conn, bootstrap_servers=bootstrap_override)
        return conn

    def secret_setting(self, option: str) -> str | None:
        """The value of a secret option a description names: a Kafka option, a Spark conf, or
        ``jdbc.<key>`` of the target's ``jdbc:`` settings."""
        if option.startswith("jdbc."):
            return self.jdbc_options.get(option[len("jdbc.") :])
        return self.kafka_options.get(option, self.spark_conf.get(option))

    def redact(self, text: str) -> str:
        """``text`` with every secret value, as a whole token, replaced by ``****``."""
        return secrets.redact(text, self.secret_values)

    def __repr__(self) -> str:
        # A connection printed by mistake (a debugger, a test's failure) must not show a secret.
        body = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name != "secret_values"
        )
        return self.redact(f"Connection({body})")

    def spark_confs(self) -> dict[str, str]:
        """The Spark confs of a session: sqlstream's defaults (a local master's too), then the
        target's ``conf``."""
        return {**DEFAULT_SPARK_CONF, **self.local_confs(), **self.spark_conf}

    def local_confs(self) -> dict[str, str]:
        """``LOCAL_SPARK_CONF`` for a ``local[...]`` master, whose driver runs the tasks; none
        for a cluster or Spark Connect (where the driver's heap is the server's to set)."""
        local = not self.spark_remote and (self.spark_master or DEFAULT_MASTER).startswith("local")
        return dict(LOCAL_SPARK_CONF) if local else {}


def env_name(option: str) -> str:
    """``kafka.sasl.jaas.config`` -> ``SQLSTREAM_KAFKA_SASL_JAAS_CONFIG``: where a script reads a
    secret option from."""
    return "SQLSTREAM_" + re.sub(r"[^A-Za-z0-9]+", "_", option).strip("_").upper()
