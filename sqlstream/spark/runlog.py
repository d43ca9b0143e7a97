"""The run's log file: where Spark's log lines, JSON and Java stacks go instead of the terminal.

Spark writes to the process's standard error from two places: the JVM (log4j, the launcher's
"WARNING: Using incubator modules", "Setting default log level") and PySpark's own Python loggers
(a JSON line with the whole Java stack for every failed ``spark.sql``). ``captured`` points file
descriptor 2 at the log file while a run starts and runs: the JVM, started inside, inherits it
for good, and the Python loggers write to it too. The terminal keeps sqlstream's own lines
(stdout) and its one-line error, printed after the block has put descriptor 2 back.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import typing as t
from pathlib import Path

LOG_DIR = Path(".sqlstream") / "logs"
"""Under the project's root."""


def new_path(root: Path) -> Path:
    """``<root>/.sqlstream/logs/run-<time>.log``, its folder made."""
    folder = root / LOG_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / time.strftime("run-%Y%m%d-%H%M%S.log")


@contextlib.contextmanager
def captured(path: Path) -> t.Iterator[None]:
    """Standard error (descriptor 2, so child processes too) appended to ``path`` in the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
