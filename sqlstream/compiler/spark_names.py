"""What the pinned Spark knows by name: its built-in functions and its SQL types.

``validate`` refuses a call of a function Spark does not have and a type it does not know, with
no JVM, and suggests the closest name. The functions are read from ``spark_functions.txt``
(written from Spark's ``SHOW FUNCTIONS`` by ``tools/refresh_spark_functions.py``, so a new Spark
is one command away); the types are Spark's SQL type keywords, a short fixed list.
"""

from __future__ import annotations

import difflib
import functools
from importlib import resources

TYPES = (
    "BOOLEAN",
    "TINYINT",
    "BYTE",
    "SMALLINT",
    "SHORT",
    "INT",
    "INTEGER",
    "BIGINT",
    "LONG",
    "FLOAT",
    "REAL",
    "DOUBLE",
    "DECIMAL",
    "DEC",
    "NUMERIC",
    "STRING",
    "VARCHAR",
    "CHAR",
    "BINARY",
    "DATE",
    "TIMESTAMP",
    "TIMESTAMP_NTZ",
    "TIMESTAMP_LTZ",
    "INTERVAL",
    "ARRAY",
    "MAP",
    "STRUCT",
    "VARIANT",
    "VOID",
)
"""Spark SQL's type keywords (the Data Types page of the Spark SQL reference)."""


@functools.cache
def functions() -> frozenset[str]:
    """The built-in function names of the pinned Spark, lower case."""
    text = resources.files("sqlstream.compiler").joinpath("spark_functions.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def is_function(name: str) -> bool:
    return name.lower() in functions()


def closest(name: str, candidates: tuple[str, ...] | frozenset[str]) -> str | None:
    """The candidate nearest to ``name`` (case-insensitive), if one is near enough."""
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), sorted(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def function_hint(name: str) -> str:
    """The fix for a call of ``name``, which Spark does not have."""
    near = closest(name, functions())
    if near:
        return f"did you mean {near}?"
    return "see the list of Spark SQL's built-in functions (SHOW FUNCTIONS)"


def type_hint(word: str) -> str | None:
    """``did you mean DOUBLE?`` for ``DOUBEL``; None when no type is near."""
    near = closest(word, TYPES) if word else None
    return f"did you mean {near}?" if near else None
