"""Reading a query file, and knowing without Jinja whether it needs Jinja.

A file with none of Jinja's three opening delimiters is its own rendering, so a project of such
files (and no macro files) is compiled without importing Jinja at all: importing jinja2 and its
sandbox is about a sixth of the instructions of a cold ``validate``. ``render`` renders the rest
and reads macro and included files through ``read_text`` too, so every file is read, limited and
refused the same way.
"""

from __future__ import annotations

import os
import re
import typing as t
from pathlib import Path

from sqlstream.compiler.source import SourceFile
from sqlstream.errors import Location, UserError

MAX_FILE_BYTES = 1 << 20
"""A query, macro or included file over 1 MiB, or a query that renders to more, is refused
before anything is parsed: it is generated or pasted, not written, and every later stage is
at least linear in it."""

SIZE_HINT = "split the file; a file of sqlstream is at most 1 MiB, before and after Jinja"

JINJA_START = re.compile(r"\{[{%#]")
"""A file can only contain Jinja if it contains one of the three opening delimiters."""

NEWLINE = re.compile(r"\r\n|\r|\n")
"""Jinja counts lines on these, so the source lines of a file are split the same way."""


def read_text(path: Path, shown: str) -> str:
    """The text of a file the user wrote, at most ``MAX_FILE_BYTES`` of UTF-8, newlines as
    ``\\n``."""
    try:
        with path.open("rb") as f:
            data = _read_limited(f)
    except OSError as e:
        raise UserError(f"cannot read {shown}: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise too_big(shown, data[:MAX_FILE_BYTES], "is larger than 1 MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(
            f"{shown} is not valid UTF-8 (byte 0x{data[e.start]:02x})",
            Location(shown, line, 1),
            hint="save the file as UTF-8",
        ) from None
    # Universal newlines, as Jinja sees them: line numbers agree everywhere.
    return NEWLINE.sub("\n", text)


def _read_limited(f: t.BinaryIO) -> bytes:
    """At most ``MAX_FILE_BYTES + 1`` bytes of ``f``, read in a buffer of the file's size:
    ``read(MAX_FILE_BYTES + 1)`` allocated a buffer of a MiB per file (a third of a
    millisecond each, 250 files a compile). A file that grows meanwhile, and one whose size
    the system does not know (a pipe: 0), are read on to the limit."""
    size = os.fstat(f.fileno()).st_size
    if not 0 < size <= MAX_FILE_BYTES:
        return f.read(MAX_FILE_BYTES + 1)
    data = f.read(size + 1)
    if len(data) > size:
        data += f.read(MAX_FILE_BYTES + 1 - len(data))
    return data


def too_big(shown: str, head: bytes, what: str) -> UserError:
    """The size error, located where the file passes the limit."""
    start = head.rfind(b"\n") + 1
    line = head.decode("utf-8", "replace").count("\n") + 1
    col = len(head[start:].decode("utf-8", "replace")) + 1
    quoted = head[start:].decode("utf-8", "replace")
    return UserError(f"{shown} {what}", Location(shown, line, col, quoted), SIZE_HINT)


def without_jinja(text: str, shown: str) -> SourceFile | None:
    """``text`` as its own rendering if it has no Jinja (refused if over the limit), else None:
    then it is Jinja's to render."""
    if len(text) > MAX_FILE_BYTES // 4 and len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise too_big(shown, text.encode("utf-8")[:MAX_FILE_BYTES], "is larger than 1 MiB")
    if JINJA_START.search(text):
        return None
    # No Jinja at all: the file is its own rendering (and compiling 500 of them is free).
    return SourceFile(path=shown, text=text, rendered=text)
