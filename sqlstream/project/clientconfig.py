"""A target's connection settings -> a librdkafka client configuration.

The profile speaks Spark's language: ``bootstrap_servers`` and Java client options prefixed
``kafka.`` (``kafka.security.protocol``, ``kafka.sasl.jaas.config``, ...). librdkafka names most of
them differently and cannot do some of them at all (a JKS truststore, a Java login callback). Each
option is mapped by one row of ``_OPTIONS``; a security option with no row is refused with the
setting that would work, because silently connecting without it would fail later with a vague
transport error. Options that only tune Spark's own clients (``kafka.max.poll.records``, ...) do
not matter to the topic tools and are left out.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field

from sqlstream.errors import UserError

Options = t.Mapping[str, str]
Mapper = t.Callable[[str, Options], dict[str, str]]

PEM_SUFFIXES = (".pem", ".crt", ".cer")
"""A store file with one of these names is PEM even when no store type is given."""


@dataclass(frozen=True)
class ClientConfig:
    """What the topic tools connect with."""

    bootstrap_servers: str
    conf: dict[str, str] = field(default_factory=dict)
    """librdkafka settings besides ``bootstrap.servers``."""
    target_name: str = "dev"

    def librdkafka(self, **extra: t.Any) -> dict[str, t.Any]:
        return {"bootstrap.servers": self.bootstrap_servers, **self.conf, **extra}


def _refuse(option: str, why: str, hint: str) -> t.NoReturn:
    raise UserError(f"the target's {option} cannot be used by `sqlstream topics`: {why}", hint=hint)


def _same(name: str) -> Mapper:
    return lambda value, _options: {name: value}


def _upper(name: str) -> Mapper:
    return lambda value, _options: {name: value.upper()}


def _store_type(options: Options, store: str, location: str) -> str:
    given = options.get(f"kafka.ssl.{store}.type")
    if given:
        return given.upper()
    return "PEM" if location.lower().endswith(PEM_SUFFIXES) else "JKS"


def _truststore(location: str, options: Options) -> dict[str, str]:
    kind = _store_type(options, "truststore", location)
    if kind != "PEM":
        _refuse(
            "kafka.ssl.truststore.location",
            f"librdkafka cannot read a {kind} truststore ({location})",
            "export the CA certificate as PEM (keytool -exportcert -rfc -keystore STORE "
            "-alias ALIAS -file ca.pem) and set ssl_truststore_location: ca.pem with "
            "ssl_truststore_type: PEM; Spark's Java client reads a PEM truststore too",
        )
    return {"ssl.ca.location": location}


def _keystore(location: str, options: Options) -> dict[str, str]:
    kind = _store_type(options, "keystore", location)
    if kind == "PKCS12":
        conf = {"ssl.keystore.location": location}
        if options.get("kafka.ssl.keystore.password"):
            conf["ssl.keystore.password"] = options["kafka.ssl.keystore.password"]
        return conf
    if kind == "PEM":  # Java's PEM keystore holds the key and its certificate chain in one file
        return {"ssl.certificate.location": location, "ssl.key.location": location}
    _refuse(
        "kafka.ssl.keystore.location",
        f"librdkafka cannot read a {kind} keystore ({location})",
        "convert it to PKCS12 (keytool -importkeystore -srckeystore STORE -destkeystore "
        "client.p12 -deststoretype PKCS12) and set ssl_keystore_type: PKCS12",
    )


def _keystore_password(value: str, options: Options) -> dict[str, str]:
    """Read with the keystore row (a PKCS12 store); a PEM keystore needs none."""
    return {}


def _endpoint_identification(value: str, _options: Options) -> dict[str, str]:
    return {"ssl.endpoint.identification.algorithm": value.lower() or "none"}


_JAAS = re.compile(
    r"^\s*(?P<module>[\w.$]+)\s+(?:required|requisite|sufficient|optional)\s*(?P<rest>.*?);?\s*$",
    re.S,
)
_JAAS_OPTION = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))')

_JAAS_MODULES: dict[str, dict[str, str]] = {
    # login module -> {JAAS option: librdkafka setting}
    "org.apache.kafka.common.security.plain.PlainLoginModule": {
        "username": "sasl.username",
        "password": "sasl.password",
    },
    "org.apache.kafka.common.security.scram.ScramLoginModule": {
        "username": "sasl.username",
        "password": "sasl.password",
    },
    "com.sun.security.auth.module.Krb5LoginModule": {
        "keyTab": "sasl.kerberos.keytab",
        "principal": "sasl.kerberos.principal",
    },
}


def jaas_options(text: str) -> tuple[str, dict[str, str]]:
    """The login module of a one-module JAAS config and its options (quotes and escapes undone)."""
    m = _JAAS.match(text)
    if m is None:
        _refuse(
            "kafka.sasl.jaas.config",
            "it is not a JAAS config of the form 'LoginModule required key=\"value\" ...;'",
            "set sasl_username and sasl_password instead",
        )
    values = {
        name: re.sub(r"\\(.)", r"\1", quoted) if quoted else bare
        for name, quoted, bare in _JAAS_OPTION.findall(m.group("rest"))
    }
    return m.group("module"), values


def _jaas(value: str, _options: Options) -> dict[str, str]:
    module, values = jaas_options(value)
    mapping = _JAAS_MODULES.get(module)
    if mapping is None:
        _refuse(
            "kafka.sasl.jaas.config",
            f"librdkafka has no equivalent of the login module {module}",
            "use PLAIN or SCRAM credentials (sasl_username, sasl_password) for the topic tools",
        )
    return {setting: values[name] for name, setting in mapping.items() if name in values}


_OPTIONS: dict[str, Mapper] = {
    "kafka.security.protocol": _upper("security.protocol"),
    "kafka.sasl.mechanism": _upper("sasl.mechanism"),
    "kafka.sasl.jaas.config": _jaas,
    "kafka.sasl.kerberos.service.name": _same("sasl.kerberos.service.name"),
    "kafka.ssl.truststore.location": _truststore,
    "kafka.ssl.truststore.password": lambda v, o: {},  # a PEM truststore has no password
    "kafka.ssl.truststore.type": lambda v, o: {},  # read with the location
    "kafka.ssl.truststore.certificates": _same("ssl.ca.pem"),
    "kafka.ssl.keystore.location": _keystore,
    "kafka.ssl.keystore.password": _keystore_password,
    "kafka.ssl.keystore.type": lambda v, o: {},  # read with the location
    "kafka.ssl.keystore.certificate.chain": _same("ssl.certificate.pem"),
    "kafka.ssl.keystore.key": _same("ssl.key.pem"),
    "kafka.ssl.key.password": _same("ssl.key.password"),
    "kafka.ssl.endpoint.identification.algorithm": _endpoint_identification,
    "kafka.client.id": _same("client.id"),
}
_SECURITY = re.compile(r"^kafka\.(ssl|sasl|security)\.")
_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER")


def client_config(
    bootstrap_servers: str,
    kafka_options: Options,
    *,
    target_name: str = "dev",
) -> ClientConfig:
    """The librdkafka configuration for a target's ``bootstrap_servers`` and ``kafka.*`` options."""
    conf: dict[str, str] = {}
    for option, value in kafka_options.items():
        mapper = _OPTIONS.get(option)
        if mapper is not None:
            conf.update(mapper(value, kafka_options))
        elif _SECURITY.match(option):
            _refuse(
                option, "librdkafka has no equivalent of this Java client option", _HINT_UNMAPPED
            )
    mechanism = conf.get("sasl.mechanism")
    if mechanism == "OAUTHBEARER":
        _refuse(
            "kafka.sasl.mechanism",
            "OAUTHBEARER logins are configured through Java callback classes",
            "use PLAIN or SCRAM credentials (sasl_username, sasl_password) for the topic tools",
        )
    if mechanism is not None and mechanism not in _MECHANISMS:
        _refuse(
            "kafka.sasl.mechanism",
            f"librdkafka does not know {mechanism}",
            "use " + ", ".join(_MECHANISMS[:4]),
        )
    return ClientConfig(bootstrap_servers, conf, target_name)


_HINT_UNMAPPED = (
    "the topic tools support security.protocol, SASL PLAIN/SCRAM/GSSAPI credentials and PEM or "
    "PKCS12 stores; see docs/topics.md"
)


def from_target(target: t.Any, bootstrap_override: str | None = None) -> ClientConfig:
    """The client configuration of a ``sqlstream.project.config.Target``."""
    return client_config(
        bootstrap_override or target.bootstrap_servers,
        target.kafka_options,
        target_name=target.name,
    )
