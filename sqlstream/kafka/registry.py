"""The schemas of the ``*-confluent`` formats from a live Schema Registry, recorded in the lock.

``RegistrySchemas`` is the ``compiler.schemas.Schemas`` that ``sqlstream run`` compiles with:
it asks the target's registry (Confluent's REST API, through confluent-kafka's client) for every
version of each subject a source reads, looks a sink's schema up under its subject and registers
it when ``auto_register`` says so, and writes everything it found to the project's
``schemas.lock.json``, so that a later ``compile`` or ``validate`` shows, offline, what this run
did. A registry that does not answer stops the run before anything starts, in seconds, with the
address and the cause.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

from sqlstream.compiler.schemas import (
    DEFAULT_SCHEMA_TYPE,
    LockedSchemas,
    SchemaProblem,
    Schemas,
    Version,
    field_differences,
    matching_id,
    not_registered,
    read_lock,
    write_lock,
    wrong_type,
)
from sqlstream.errors import RunFailure
from sqlstream.project.registry import RegistrySettings

_TIMEOUT_S = 5
_SUBJECT_NOT_FOUND = 40401
_SCHEMA_NOT_FOUND = 40403
_INCOMPATIBLE = 409


class RegistrySchemas:
    """Schemas asked of a registry, kept in ``lock_path`` (other subjects there are kept)."""

    def __init__(self, settings: RegistrySettings, lock_path: Path) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        config = {**settings.client_config(), "timeout": _TIMEOUT_S, "max.retries": 1}
        self.settings = settings
        self.lock_path = lock_path
        self.client = SchemaRegistryClient(config)
        self._found: dict[str, list[Version]] = {}
        self.failure: RunFailure | None = None
        self._unreachable: SchemaProblem | None = None

    def versions(self, subject: str) -> list[Version]:
        if subject not in self._found:
            self._found[subject] = self._fetch(subject)
            self._save()
        if not self._found[subject]:
            raise SchemaProblem(
                f"subject '{subject}' is not in the schema registry at {self.settings.url}",
                "produce to the topic with a registry serializer first, register the schema, "
                "or set subject = '...'",
            )
        return self._found[subject]

    def writer_id(
        self,
        subject: str,
        schema: str,
        auto_register: bool | None,
        schema_type: str = DEFAULT_SCHEMA_TYPE,
    ) -> int:
        from confluent_kafka.schema_registry import Schema

        versions = self._fetch(subject)
        found = matching_id(versions, schema, schema_type)
        if found is not None:
            self._found[subject] = versions
            self._save()
            return found
        if not (self.settings.auto_register if auto_register is None else auto_register):
            raise not_registered(subject, schema, versions, schema_type)
        if versions and versions[-1].schema_type != schema_type:
            raise wrong_type(subject, versions[-1], schema_type)
        try:
            schema_id = int(
                self._call(self.client.register_schema, subject, Schema(schema, schema_type))
            )
        except _registry_error() as e:
            if getattr(e, "http_status_code", None) != _INCOMPATIBLE:
                raise SchemaProblem(f"the registry refuses the sink's schema: {e}") from None
            latest = versions[-1].schema if versions else "{}"
            raise SchemaProblem(
                f"the registry refuses the sink's schema under subject '{subject}': incompatible "
                f"with its latest "
                f"({field_differences(_json(latest), _json(schema), schema_type)})",
                "change the SELECT to a compatible schema, or the subject's compatibility level",
            ) from None
        self._found[subject] = self._fetch(subject)
        self._save()
        return schema_id

    def _fetch(self, subject: str) -> list[Version]:
        """Every version of ``subject``, oldest first; empty when the subject does not exist."""
        try:
            numbers = self._call(self.client.get_versions, subject)
        except _registry_error() as e:
            if getattr(e, "error_code", None) == _SUBJECT_NOT_FOUND:
                return []
            raise SchemaProblem(f"the schema registry refused subject '{subject}': {e}") from None
        found = []
        for number in sorted(numbers):
            registered = self._call(self.client.get_version, subject, number)
            schema = registered.schema
            found.append(
                Version(
                    int(number),
                    int(registered.schema_id or 0),
                    (schema.schema_str if schema else "") or "",
                    (schema.schema_type if schema else None) or DEFAULT_SCHEMA_TYPE,
                )
            )
        return found

    def _call(self, method: t.Callable[..., t.Any], *args: t.Any) -> t.Any:
        """A client call. A registry that cannot be reached is asked once: that call and every
        later one raise the same ``SchemaProblem`` (each stream's error, or a warning outside
        the selection), and ``failure`` holds the one-line ``RunFailure`` the compile raises
        when the selection needs the registry."""
        if self._unreachable is not None:
            raise self._unreachable
        try:
            return method(*args)
        except _registry_error():
            raise
        except Exception as e:  # the HTTP client's own errors: refused, timed out, TLS
            cause = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            message = f"cannot reach the schema registry at {self.settings.url}: {cause}"
            self.failure = RunFailure(f"{message}\nhint: {_UNREACHABLE_HINT}")
            self._unreachable = SchemaProblem(message, _UNREACHABLE_HINT)
            raise self._unreachable from None

    def _save(self) -> None:
        try:
            locked = read_lock(self.lock_path)
        except SchemaProblem:
            locked = {}
        locked.update(self._found)
        write_lock(self.lock_path, {s: v for s, v in locked.items() if v})


def _registry_error() -> type[Exception]:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    return SchemaRegistryError


def _json(text: str) -> t.Any:
    """A schema as ``field_differences`` takes it: parsed JSON, or the text (``.proto``)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


_UNREACHABLE_HINT = (
    "is it running (`sqlstream registry up` starts one)? check the target's schema_registry url"
)


def schemas_for(lock_path: Path, settings: RegistrySettings | None) -> Schemas:
    """The registry's schemas when the target names a registry, else the lock file's."""
    if settings is None:
        return LockedSchemas(lock_path)
    return RegistrySchemas(settings, lock_path)
