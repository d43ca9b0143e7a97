"""Spark's reason for a failure, without the Java stack: what a user can act on."""

from __future__ import annotations

import re
import typing as t

_STACK_LINE = re.compile(r"^\s*(at |\.\.\. \d+ more|Caused by: |JVM stacktrace:|Traceback )")
_PLAN_LINE = re.compile(r"^\s*([+:|~']|!|\+-|:-)")
_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\]")


def reason(exc: BaseException | t.Any, max_lines: int = 6) -> str:
    """The meaningful part of a Spark error: the innermost ``[ERROR_CLASS] message``, no stack."""
    text = _message(exc)
    text = text.split("=== Streaming Query ===")[0]
    lines = [ln.rstrip() for ln in text.splitlines()]
    lines = [
        ln for ln in lines
        if ln.strip() and not _STACK_LINE.match(ln) and not _PLAN_LINE.match(ln)
    ]
    # Spark nests: "Job aborted ... : org.apache.spark.SparkException: [X] ... : [USER_RAISED...]".
    # The last error class on a line is the cause the user can act on.
    picked: list[str] = []
    for ln in lines:
        ln = re.sub(r"\b(?:[a-z][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error): ", "", ln)
        # Spark Connect's exceptions read "(ERROR_CLASS) message": the local form is "[...]".
        ln = re.sub(r"^\(([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\) ", r"[\1] ", ln)
        matches = list(_ERROR_CLASS.finditer(ln))
        if len(matches) > 1:
            ln = ln[matches[-1].start():]
        picked.append(ln.strip())
        if len(picked) >= max_lines:
            break
    return "\n".join(dict.fromkeys(picked)) or type(exc).__name__


def _message(exc: t.Any) -> str:
    """The Java message of a PySpark or py4j exception, without PySpark's appended JVM stack."""
    candidates: list[t.Callable[[], t.Any]] = [
        lambda: getattr(exc, "_desc", None),  # CapturedException: the Java message
        lambda: exc.java_exception.getMessage(),  # Py4JJavaError
        lambda: exc.getMessage(),
        lambda: str(exc),
    ]
    for get in candidates:
        try:
            text = get()
        except Exception:  # noqa: BLE001, S112 - not that kind of exception
            continue
        if isinstance(text, str) and text.strip():
            return text.split("\n\nJVM stacktrace:")[0]
    return ""
