"""librdkafka clients that fail in seconds and say why.

librdkafka never gives up on a broker it cannot reach: it retries in the background and reports
through callbacks and log lines, while a metadata request just times out. The topic tools need
the opposite: one line naming the address and the cause within about ten seconds. So every
client made here routes librdkafka's error callback and log into ``Events`` (nothing reaches the
terminal), and ``metadata`` stops at the first error that will not heal by waiting (all brokers
down, authentication, TLS) and turns the collected events into a ``BrokerError`` by the table
``_CAUSES``.
"""

from __future__ import annotations

import collections
import os
import re
import time
import typing as t
from dataclasses import dataclass, field

from sqlstream.errors import RunFailure
from sqlstream.project.clientconfig import ClientConfig

REACH_TIMEOUT = 10.0
"""Seconds to wait for a first answer from the cluster."""
_KEEP = 50
"""Events kept per client: the latest say why; a long ``--follow`` must not grow without end."""


class BrokerError(RunFailure):
    """The cluster said no, or could not be asked: one line of cause, one line of hint."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}\nhint: {hint}")
        self.message = message
        self.hint = hint


def ck() -> t.Any:
    """The confluent_kafka module, or a clear failure when the ``kafka`` extra is missing."""
    try:
        import confluent_kafka
    except ImportError:  # pragma: no cover - depends on the environment
        raise RunFailure(
            "the Kafka client library confluent-kafka is not installed\n"
            "hint: pip install 'sqlstream[kafka]'"
        ) from None
    return confluent_kafka


@dataclass
class Events:
    """What librdkafka reported through its callbacks, in order."""

    errors: t.Deque[t.Any] = field(default_factory=lambda: collections.deque(maxlen=_KEEP))
    logs: t.Deque[str] = field(default_factory=lambda: collections.deque(maxlen=_KEEP))

    def on_error(self, err: t.Any) -> None:
        self.errors.append(err)

    def log(self, level: int, fmt: str, *args: t.Any) -> None:
        """The ``logging.Logger.log`` signature librdkafka's ``logger`` setting calls."""
        self.logs.append(fmt % args if args else fmt)

    def texts(self) -> list[str]:
        return [e.str() for e in self.errors] + list(self.logs)

    def hopeless(self) -> bool:
        """An error after which waiting longer will not help."""
        codes = {e.code() for e in self.errors}
        kafka_error = ck().KafkaError
        return bool(
            codes & {kafka_error._ALL_BROKERS_DOWN, kafka_error._AUTHENTICATION, kafka_error._SSL}
        )


def settings(cfg: ClientConfig, events: Events, **extra: t.Any) -> dict[str, t.Any]:
    return cfg.librdkafka(error_cb=events.on_error, logger=events, **extra)


def make(kind: str, cfg: ClientConfig, **extra: t.Any) -> tuple[t.Any, Events]:
    """A librdkafka client (``AdminClient``, ``Producer``, ``Consumer``) and its events."""
    module = ck()
    events = Events()
    import confluent_kafka.admin

    _check_files(cfg)
    factory = confluent_kafka.admin.AdminClient if kind == "AdminClient" else getattr(module, kind)
    try:
        return factory(settings(cfg, events, **extra)), events
    except module.KafkaException as e:
        raise BrokerError(
            f"cannot make a Kafka client for target '{cfg.target_name}': {_error_text(e)}",
            "check the file paths and values of the target's Kafka settings in profiles.yml",
        ) from None


_FILES: dict[str, str] = {
    # a librdkafka setting naming a file -> the target's setting it came from
    "ssl.ca.location": "ssl_truststore_location",
    "ssl.keystore.location": "ssl_keystore_location",
    "ssl.certificate.location": "ssl_keystore_location",
    "ssl.key.location": "ssl_keystore_location",
    "sasl.kerberos.keytab": "keyTab of kafka.sasl.jaas.config",
}


def _check_files(cfg: ClientConfig) -> None:
    """A missing store file, said by the target's setting (librdkafka says "BIO lib")."""
    for key, setting in _FILES.items():
        path = cfg.conf.get(key)
        if path and not os.path.isfile(path):
            raise BrokerError(
                f"{setting} of target '{cfg.target_name}' names {path}, which does not exist",
                "fix the path in profiles.yml"
                " (a relative path is relative to the working directory)",
            )


def metadata(
    client: t.Any, events: Events, cfg: ClientConfig, timeout: float = REACH_TIMEOUT
) -> t.Any:
    """The cluster's metadata (every topic), or a ``BrokerError`` within ``timeout`` seconds.

    Never asks for one topic by name: a metadata request for a missing topic makes a broker with
    auto-create on create it, so a typo would become a topic.
    """
    deadline = time.monotonic() + timeout
    last: t.Any = None
    while True:
        try:
            return client.list_topics(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
        except ck().KafkaException as e:
            last = e.args[0]
        client.poll(0)  # serves the error callback and the log into ``events``
        if events.hopeless() or time.monotonic() >= deadline:
            raise unreachable(cfg, events, last, timeout)


def unreachable(cfg: ClientConfig, events: Events, last: t.Any, timeout: float) -> BrokerError:
    """The one-line reason a client could not talk to the cluster, by the table ``_CAUSES``."""
    texts = events.texts() + ([last.str()] if last is not None else [])
    address = cfg.bootstrap_servers
    for pattern, message, hint in _CAUSES:
        found = next((m for text in texts if (m := re.search(pattern, text, re.I))), None)
        if found is not None:
            detail = _clean(found.string)
            return BrokerError(
                message.format(address=address, detail=detail, timeout=timeout),
                hint.format(target=cfg.target_name),
            )
    detail = _clean(texts[-1]) if texts else "no answer"
    return BrokerError(
        f"cannot reach the Kafka broker at {address} within {timeout:.0f}s: {detail}",
        _HINT_REACH.format(target=cfg.target_name),
    )


_HINT_REACH = (
    "is the broker running (`sqlstream kafka up` starts a local one)? check bootstrap_servers of "
    "target '{target}' (or --bootstrap-servers), the network and any firewall"
)
_CAUSES: tuple[tuple[str, str, str], ...] = (
    # (a regex over librdkafka's errors and log lines, the message, the hint)
    (
        r"SASL authentication|Authentication failed|_AUTHENTICATION|Invalid username or password",
        "authentication to the Kafka broker at {address} failed: {detail}",
        "check sasl_username, sasl_password and sasl_mechanism of target '{target}'"
        " in profiles.yml",
    ),
    (
        r"SSL handshake failed|certificate verify failed|SSL routines",
        "the TLS handshake with the Kafka broker at {address} failed: {detail}",
        "check ssl_truststore_location of target '{target}': a PEM file of the CA that signed "
        "the broker's certificate; and that security_protocol is SSL or SASL_SSL",
    ),
    (
        r"SASL \S+ mechanism handshake failed|supported mechanisms",
        "the Kafka broker at {address} refused the SASL handshake: {detail}",
        "the broker's listener does not take sasl_mechanism of target '{target}' (a listener "
        "without SASL supports none): check security_protocol and sasl_mechanism",
    ),
    (
        r"incorrect security\.protocol|might be caused by",
        "the Kafka broker at {address} closed the connection: {detail}",
        "security_protocol of target '{target}' probably does not match the broker's listener "
        "(PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)",
    ),
    (
        r"Failed to resolve",
        "cannot resolve the Kafka broker address {address}: {detail}",
        "check the host names in bootstrap_servers of target '{target}' (or --bootstrap-servers)",
    ),
    (
        r"Connect to .* failed|Connection refused|timed out|Disconnected",
        "cannot reach the Kafka broker at {address}: {detail}",
        _HINT_REACH,
    ),
)


def _clean(text: str) -> str:
    """librdkafka's text without its client prefix and its retry bookkeeping."""
    text = re.sub(r"^\S+ \[\S+\] ", "", text)  # the log line's facility and client name
    text = re.sub(r"^\S+/(bootstrap|\d+): ", "", text)
    text = re.sub(r"\s*\(after \d+ms in state \w+.*?\)", "", text)
    return text.strip()


def _error_text(exc: Exception) -> str:
    err = exc.args[0] if exc.args else exc
    return str(err.str() if hasattr(err, "str") else err)


def error_of(exc: Exception) -> t.Any:
    """The ``KafkaError`` of a ``KafkaException`` (or of a future's exception)."""
    return exc.args[0] if exc.args and hasattr(exc.args[0], "code") else None
