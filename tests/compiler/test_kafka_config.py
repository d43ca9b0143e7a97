"""A target's Spark-style Kafka options -> librdkafka settings for `sqlstream topics`, no broker.

Each row: the target's options, and the librdkafka settings they must give, or the refusal (a
piece of the message and of the hint) when librdkafka has no equivalent. Also the one-line causes
made from librdkafka's events when the cluster cannot be talked to.
"""

from __future__ import annotations

import pytest

from sqlstream.errors import UserError
from sqlstream.kafka import connect
from sqlstream.project import clientconfig as config
from sqlstream.project.config import Target

PLAIN = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required"
    ' username="bob" password="s3\\"cret";'
)
SCRAM = (
    "org.apache.kafka.common.security.scram.ScramLoginModule required username=alice password=pw;"
)
KRB5 = (
    "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true"
    ' keyTab="/k/app.keytab" principal="app@EX.COM";'
)

MAPPED: list[tuple[dict[str, str], dict[str, str]]] = [
    ({}, {}),
    ({"kafka.security.protocol": "sasl_ssl"}, {"security.protocol": "SASL_SSL"}),
    (
        {"kafka.sasl.mechanism": "PLAIN", "kafka.sasl.jaas.config": PLAIN},
        {"sasl.mechanism": "PLAIN", "sasl.username": "bob", "sasl.password": 's3"cret'},
    ),
    (
        {"kafka.sasl.mechanism": "SCRAM-SHA-512", "kafka.sasl.jaas.config": SCRAM},
        {"sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "alice", "sasl.password": "pw"},
    ),
    (
        {
            "kafka.sasl.mechanism": "GSSAPI",
            "kafka.sasl.jaas.config": KRB5,
            "kafka.sasl.kerberos.service.name": "kafka",
        },
        {
            "sasl.mechanism": "GSSAPI",
            "sasl.kerberos.keytab": "/k/app.keytab",
            "sasl.kerberos.principal": "app@EX.COM",
            "sasl.kerberos.service.name": "kafka",
        },
    ),
    (
        {"kafka.ssl.truststore.location": "/c/ca.pem", "kafka.ssl.truststore.type": "PEM"},
        {"ssl.ca.location": "/c/ca.pem"},
    ),
    ({"kafka.ssl.truststore.location": "/c/ca.crt"}, {"ssl.ca.location": "/c/ca.crt"}),
    (
        {
            "kafka.ssl.keystore.location": "/c/me.p12",
            "kafka.ssl.keystore.type": "PKCS12",
            "kafka.ssl.keystore.password": "kp",
            "kafka.ssl.key.password": "k",
        },
        {
            "ssl.keystore.location": "/c/me.p12",
            "ssl.keystore.password": "kp",
            "ssl.key.password": "k",
        },
    ),
    (
        {"kafka.ssl.keystore.location": "/c/me.pem", "kafka.ssl.keystore.type": "PEM"},
        {"ssl.certificate.location": "/c/me.pem", "ssl.key.location": "/c/me.pem"},
    ),
    (
        {"kafka.ssl.endpoint.identification.algorithm": ""},
        {"ssl.endpoint.identification.algorithm": "none"},
    ),
    ({"kafka.ssl.truststore.certificates": "-----BEGIN..."}, {"ssl.ca.pem": "-----BEGIN..."}),
    ({"kafka.max.poll.records": "10", "kafka.linger.ms": "5"}, {}),  # tunes Spark's clients only
]


@pytest.mark.parametrize("options, expected", MAPPED, ids=[repr(m[0])[:60] for m in MAPPED])
def test_options_map_onto_librdkafka(options: dict[str, str], expected: dict[str, str]) -> None:
    cfg = config.client_config("b:9092", options)
    assert cfg.conf == expected
    assert cfg.librdkafka()["bootstrap.servers"] == "b:9092"


REFUSED: list[tuple[dict[str, str], str, str]] = [
    (
        {"kafka.ssl.truststore.location": "/c/trust.jks"},
        "cannot read a JKS truststore",
        "ssl_truststore_type: PEM",
    ),
    (
        {"kafka.ssl.truststore.location": "/c/t.p12", "kafka.ssl.truststore.type": "PKCS12"},
        "cannot read a PKCS12 truststore",
        "keytool -exportcert -rfc",
    ),
    ({"kafka.ssl.keystore.location": "/c/me.jks"}, "cannot read a JKS keystore", "PKCS12"),
    ({"kafka.sasl.jaas.config": "not jaas at all"}, "not a JAAS config", "sasl_username"),
    (
        {"kafka.sasl.jaas.config": "com.example.Custom required x=1;"},
        "no equivalent of the login module com.example.Custom",
        "PLAIN or SCRAM",
    ),
    ({"kafka.sasl.mechanism": "OAUTHBEARER"}, "OAUTHBEARER", "PLAIN or SCRAM"),
    (
        {"kafka.sasl.login.callback.handler.class": "x.Y"},
        "kafka.sasl.login.callback.handler.class",
        "docs/topics.md",
    ),
    (
        {"kafka.ssl.keymanager.algorithm": "SunX509"},
        "no equivalent of this Java client option",
        "PEM",
    ),
]


@pytest.mark.parametrize("options, message, hint", REFUSED, ids=[repr(r[0])[:60] for r in REFUSED])
def test_options_librdkafka_cannot_do_are_refused(
    options: dict[str, str], message: str, hint: str
) -> None:
    with pytest.raises(UserError) as info:
        config.client_config("b:9092", options)
    assert (
        message in info.value.message
        and "cannot be used by `sqlstream topics`" in info.value.message
    )
    assert info.value.hint is not None and hint in info.value.hint


def test_from_target_uses_the_target_and_the_override() -> None:
    target = Target(
        name="prod",
        bootstrap_servers="k1:9093,k2:9093",
        kafka_options={"kafka.security.protocol": "SSL"},
    )
    cfg = config.from_target(target)
    assert (cfg.bootstrap_servers, cfg.target_name, cfg.conf) == (
        "k1:9093,k2:9093",
        "prod",
        {"security.protocol": "SSL"},
    )
    assert config.from_target(target, "other:1").bootstrap_servers == "other:1"


CAUSES = [
    (
        [
            "b:9/bootstrap: Connect to ipv4#10.0.0.1:9 failed: Connection refused"
            " (after 0ms in state CONNECT)"
        ],
        "cannot reach the Kafka broker at b:9: Connect to ipv4#10.0.0.1:9 failed:"
        " Connection refused",
        "sqlstream kafka up",
    ),
    (
        [
            "x:9/bootstrap: Failed to resolve 'x:9': Name or service not known"
            " (after 1ms in state CONNECT)"
        ],
        "cannot resolve the Kafka broker address b:9",
        "host names",
    ),
    (
        [
            "b:9/bootstrap: SASL authentication error: Authentication failed:"
            " Invalid username or password"
        ],
        "authentication to the Kafka broker at b:9 failed",
        "sasl_username",
    ),
    (
        [
            "b:9/bootstrap: SSL handshake failed: error:0A000086:SSL routines::"
            "certificate verify failed"
        ],
        "the TLS handshake with the Kafka broker at b:9 failed",
        "ssl_truststore_location",
    ),
    (
        [
            "b:9/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect"
            " security.protocol configuration"
        ],
        "closed the connection",
        "security_protocol",
    ),
    (
        [
            "sasl_plaintext://b:9/bootstrap: SASL PLAIN mechanism handshake failed: Broker: "
            "Request not valid in current SASL state: broker's supported mechanisms:  (after 0ms "
            "in state AUTH_HANDSHAKE)"
        ],
        "the Kafka broker at b:9 refused the SASL handshake: SASL PLAIN mechanism handshake",
        "sasl_mechanism of target 'prod'",
    ),
    ([], "cannot reach the Kafka broker at b:9 within 10s: no answer", "--bootstrap-servers"),
]


@pytest.mark.parametrize("logs, message, hint", CAUSES, ids=[c[1][:40] for c in CAUSES])
def test_a_failure_to_talk_to_the_cluster_is_one_line(
    logs: list[str], message: str, hint: str
) -> None:
    events = connect.Events()
    events.logs.extend(logs)
    error = connect.unreachable(
        config.client_config("b:9", {}, target_name="prod"), events, None, 10
    )
    assert message in error.message and "\n" not in error.message
    assert hint in error.hint
