"""Compile-path speed: a cold `sqlstream validate` of one file, and `compile` of 500 statements.

Run: make bench-compile (or python bench/compile_speed.py). Prints the figures and writes them
to docs/benchmarks.md (section "compile").
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

ROOT = Path(__file__).resolve().parent.parent


def generated_project(root: Path, streams: int = 250) -> None:
    (root / "queries").mkdir(parents=True)
    (root / "sqlstream.yml").write_text("name: generated\n")
    parts = []
    for i in range(streams):
        parts.append(
            f"CREATE STREAM s{i} (\n    id STRING KEY,\n    amount DOUBLE,\n    ts TIMESTAMP,\n"
            f"    WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE\n) FROM KAFKA (topic = 't{i}');\n"
        )
        parts.append(
            f"INSERT INTO KAFKA TOPIC 'out{i}' KEY id\n"
            f"SELECT window.end AS window_end, id, sum(amount) AS total\n"
            f"FROM s{i} GROUP BY window(ts, '5 minutes'), id;\n"
        )
    for chunk in range(10):
        n = len(parts) // 10
        (root / "queries" / f"q{chunk}.sql").write_text("\n".join(parts[chunk * n : (chunk + 1) * n]))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system) of each run of ``cmd``, a new process each."""
    wall, cpu = [], []
    for _ in range(runs):
        c0 = _children_cpu()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
        wall.append(time.perf_counter() - t0)
        cpu.append(_children_cpu() - c0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return wall, cpu


def main() -> None:
    exe = str(Path(sys.executable).parent / "sqlstream")
    load_before = os.getloadavg()[0]
    validate = timed([exe, "validate", "queries/spend.sql"], ROOT, runs=7)
    with tempfile.TemporaryDirectory() as tmp:
        generated_project(Path(tmp))
        compile_ = timed([exe, "compile"], Path(tmp), runs=5)
    load_after = os.getloadavg()[0]
    rows = [
        ("`sqlstream validate queries/spend.sql` (cold CLI start to exit)", validate, 0.5),
        ("`sqlstream compile` of 500 statements (250 streams, 250 sinks)", compile_, 1.0),
    ]
    lines = [
        "| what | median | min | median CPU time | runs | target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for what, (xs, cpu), target in rows:
        lines.append(
            f"| {what} | {statistics.median(xs):.3f} s | {min(xs):.3f} s |"
            f" {statistics.median(cpu):.3f} s | {len(xs)} | < {target} s |"
        )
        print(
            f"{what}: median {statistics.median(xs):.3f} s (min {min(xs):.3f} s, {len(xs)} runs;"
            f" CPU {statistics.median(cpu):.3f} s)"
        )
    lines.append(
        f"\nEach run is a new process (interpreter start, imports, work, exit); the times are wall"
        " clock, start to exit, and the CPU time is the process's user + system time. The 1-minute"
        f" load average was {load_before:.1f} before and {load_after:.1f} after on {os.cpu_count()}"
        " cores: when it is above the core count, other work shared the CPU, the wall times are"
        " high, and the CPU time is the closer estimate of the wall time on an idle machine."
    )
    write_section("compile", "python bench/compile_speed.py", "\n".join(lines))


if __name__ == "__main__":
    main()
