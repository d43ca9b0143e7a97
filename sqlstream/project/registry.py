"""A target's ``schema_registry:``: where the ``*-confluent`` formats find their schemas.

Plain data, read by ``config`` from the profile and used by the layers that talk to the
registry (``sqlstream.kafka.registry``); the compiler never does, it reads the lock file.
The password is a secret under the one policy of ``project.secrets``: ``config`` adds it (and
the ``user:password`` pair Confluent's client sends) to the target's secret values.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

KEYS = (
    "url",
    "username",
    "password",
    "ssl_ca_location",
    "ssl_certificate_location",
    "ssl_key_location",
    "auto_register",
)
"""What ``schema_registry:`` accepts."""


@dataclass(frozen=True, repr=False)
class RegistrySettings:
    """Where the Schema Registry is and how to reach it (the secrets are not shown)."""

    url: str
    """The registry's REST API (Confluent's, or a compatible one such as Apicurio's
    ``.../apis/ccompat/v7``)."""
    username: str | None = None
    password: str | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    auto_register: bool = False
    """Register a sink's schema when the subject lacks it (a sink's ``auto_register`` wins)."""

    def client_config(self) -> dict[str, str]:
        """The configuration of confluent-kafka's ``SchemaRegistryClient``."""
        config = {"url": self.url}
        if self.username is not None:
            config["basic.auth.user.info"] = f"{self.username}:{self.password or ''}"
        for key, name in (
            ("ssl.ca.location", self.ssl_ca_location),
            ("ssl.certificate.location", self.ssl_certificate_location),
            ("ssl.key.location", self.ssl_key_location),
        ):
            if name:
                config[key] = name
        return config

    def secret_values(self) -> set[str]:
        """What ``redact`` must hide: the password, the pair sent for it, one inside the URL."""
        found = {v for v in (self.password,) if v}
        if self.password:
            found.add(f"{self.username}:{self.password}")
        url_password = urlsplit(self.url).password
        if url_password:
            found.add(url_password)
        return found

    def __repr__(self) -> str:
        return f"RegistrySettings(url={self.url!r}, username={self.username!r}, password=****)"


def from_mapping(values: t.Mapping[str, str | None], auto_register: bool) -> RegistrySettings:
    """Settings from ``schema_registry:``'s rendered, checked values."""
    return RegistrySettings(
        url=str(values["url"]),
        username=values.get("username"),
        password=values.get("password"),
        ssl_ca_location=values.get("ssl_ca_location"),
        ssl_certificate_location=values.get("ssl_certificate_location"),
        ssl_key_location=values.get("ssl_key_location"),
        auto_register=auto_register,
    )
