"""What the project layer knows of the process it runs in: its environment and its directory.

``env_var()`` is the Jinja global of settings (profiles.yml, sqlstream.yml) and of query files;
``display_path()`` is how every message names a file. Both live here, in the first stage, so
that the compiler imports them from the project layer and never the other way round.

Nothing here logs or prints values: ``env_var()`` is how secrets reach a setting or a query.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

from sqlstream.errors import UserError

__all__ = ["MISSING", "display_path", "env_var"]


class _Missing:
    """The default of ``var()`` and ``env_var()`` when the caller gave none."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: t.Any = _Missing()


def below(path: str, folder: str) -> str | None:
    """``path`` relative to ``folder`` (both absolute and normalised, as ``os.path.abspath``
    gives them) when it is inside it, else None: what ``os.path.relpath`` gives then, without
    normalising both again (a compile asks it of every file, several times)."""
    prefix = folder if folder.endswith(os.sep) else folder + os.sep
    inside = path.startswith(prefix) and len(path) > len(prefix)
    return path[len(prefix) :] if inside else None


def display_path(path: Path | str) -> str:
    """The path as shown in messages: relative to the current directory when it is below it."""
    inside = below(os.path.abspath(path), os.getcwd())
    if inside is not None:
        return inside
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
    return str(path) if rel.startswith("..") else rel


def env_var(name: str, default: t.Any = MISSING) -> t.Any:
    """``{{ env_var('NAME', default) }}``: a variable of the process environment.

    Raises a ``UserError`` without a location; the caller locates it (the renderer at the line
    of the call, the settings loader at the value).
    """
    value = os.environ.get(str(name))
    if value is not None:
        return value
    if default is not MISSING:
        return default
    err = UserError(
        f"environment variable '{name}' is not set",
        hint=f"set it (export {name}=...) or give a default: env_var('{name}', 'value')",
    )
    err.jinja_call = ("env_var", str(name))  # type: ignore[attr-defined]
    raise err
