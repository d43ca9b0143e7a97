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


def machine() -> str:
    """The machine, as a benchmark reader needs it: OS, CPU model, cores, memory, Python."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = " " + line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.system()} {platform.machine()}{cpu}, {os.cpu_count()} cores{mem},"
        f" Python {platform.python_version()}"
    )


def write_section(name: str, command: str, body: str) -> None:
    text = DOC.read_text() if DOC.exists() else HEADER
    section = (
        f"<!-- section:{name} -->\n## {name}\n\n"
        f"`{command}`, {time.strftime('%Y-%m-%d')}, {machine()}\n\n"
        f"{body}\n<!-- end:{name} -->\n"
    )
    pattern = re.compile(rf"<!-- section:{name} -->.*?<!-- end:{name} -->\n", re.DOTALL)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip("\n") + "\n\n" + section
    )
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
