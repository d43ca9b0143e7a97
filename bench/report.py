"""Writes one section of docs/benchmarks.md, keeping the others."""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\nMeasured by the scripts in bench/ (`make bench`); each section says the "
    "command that produced it. Tests never assert timings.\n"
)


def write_section(name: str, command: str, body: str) -> None:
    text = DOC.read_text() if DOC.exists() else HEADER
    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    section = (
        f"<!-- section:{name} -->\n## {name}\n\n`{command}`, {time.strftime('%Y-%m-%d')}, {machine}\n\n"
        f"{body}\n<!-- end:{name} -->\n"
    )
    pattern = re.compile(rf"<!-- section:{name} -->.*?<!-- end:{name} -->\n", re.DOTALL)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
