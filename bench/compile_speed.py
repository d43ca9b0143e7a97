"""Compile-path speed on both sqlglot builds, side by side: pure sqlglot and its compiled build.

Run: make bench-compile (or python bench/compile_speed.py [--python PATH ...]). Each ``--python``
is an interpreter with sqlglot installed (default: the Makefile's two venvs, ``.venv`` and
``.venv-sqlglotc``, those that exist, else this interpreter); this checkout's package is the
one imported (``PYTHONPATH``). Only the compile path runs (no JVM), so an interpreter without
pyspark is fine. Prints a table and writes it to docs/benchmarks.md (section "compile").

Workloads: a cold ``validate`` of one file; ``compile`` of 250 streams and 250 windowed sinks,
as 250 files of one of each and as 10 files of 50 of each (the difference is per-file cost);
``validate`` of a WHERE of 20,000 AND/OR terms; ``validate`` of a 5 MB file (refused by size).
Beside three of them, a reference row: the same work done by sqlglot alone (or the imports
alone), the floor under sqlstream's figure on the same interpreter.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from sqlstream.cli.main import GC_THRESHOLDS

ROOT = Path(__file__).resolve().parent.parent
VENVS = (".venv", ".venv-sqlglotc")
"""The Makefile's venvs (pure sqlglot; sqlglot with sqlglotc), relative to the checkout."""

CHAIN_TERMS = 20_000
BIG_BYTES = 5 * 1000 * 1000
WATERMARK = "ts - INTERVAL '1' MINUTE"
"""Every generated stream's watermark delay (the 250-file reference parses it too)."""

_BUILD = (
    "import importlib.metadata as m, platform, sqlglot, sqlglot.expressions.core as core\n"
    "try:\n    c = m.version('sqlglotc') if not core.__file__.endswith('.py') else ''\n"
    "except m.PackageNotFoundError:\n    c = ''\n"
    "print(c, sqlglot.__version__, platform.python_version(), sep='|')"
)


def stream(i: int) -> str:
    return (
        f"CREATE STREAM s{i} (\n    id STRING KEY,\n    amount DOUBLE,\n    ts TIMESTAMP,\n"
        f"    WATERMARK FOR ts AS {WATERMARK}\n) FROM KAFKA (topic = 't{i}');\n"
    )


def windowed_sink(i: int) -> str:
    return (
        f"INSERT INTO KAFKA TOPIC 'out{i}' KEY id\n"
        f"SELECT window.end AS window_end, id, sum(amount) AS total\n"
        f"FROM s{i} GROUP BY window(ts, '5 minutes'), id;\n"
    )


def _project(root: Path, files: dict[str, str]) -> Path:
    (root / "queries").mkdir(parents=True)
    (root / "sqlstream.yml").write_text(f"name: {root.name}\n")
    for name, text in files.items():
        (root / "queries" / name).write_text(text)
    return root


def generated_project(root: Path, files: int, pairs: int = 250) -> Path:
    """``pairs`` streams and as many windowed sinks (one reads each stream), in ``files`` files."""
    per = pairs // files
    return _project(
        root,
        {
            f"q{f}.sql": "\n".join(
                stream(i) + windowed_sink(i) for i in range(f * per, (f + 1) * per)
            )
            for f in range(files)
        },
    )


def chain_project(root: Path, terms: int = CHAIN_TERMS) -> Path:
    """One sink whose WHERE is ``terms`` comparisons joined by AND and OR."""
    parts = [f"amount <> {i}" if i % 2 else f"id <> 'x{i}'" for i in range(terms)]
    where = "".join(
        part + ("" if i == terms - 1 else (" OR " if i % 100 == 99 else " AND "))
        for i, part in enumerate(parts)
    )
    sink = f"INSERT INTO KAFKA TOPIC 'o' KEY id\nSELECT id, amount FROM s0\nWHERE {where};\n"
    return _project(root, {"chain.sql": stream(0) + sink})


def big_project(root: Path, size: int = BIG_BYTES) -> Path:
    """One file of ``size`` bytes: a sink with a WHERE that long, on lines of about 80 chars."""
    head = stream(0) + "INSERT INTO KAFKA TOPIC 'o' KEY id\nSELECT id FROM s0\nWHERE amount = 0"
    terms, i, length = [head], 1, len(head)
    while length < size:
        term = f"\n   OR amount = {i}" if i % 4 == 0 else f" OR amount = {i}"
        terms.append(term)
        length += len(term)
        i += 1
    return _project(root, {"big.sql": "".join(terms) + ";\n"})


# The references: what sqlglot alone costs for the same work, in a new process as the commands
# run (interpreter start, imports, work), so that a row of sqlstream's reads against its floor.

COLLECTOR = (f"import gc\ngc.set_threshold(*{GC_THRESHOLDS!r})\n", "gc.freeze()\n")
"""Before and after a reference's script: the collector as sqlstream's commands run it
(``sqlstream.cli.main``: its thresholds, and frozen before the exit, which then does not
collect the trees), so that the reference stays the floor under the row above it."""

FLOOR_IMPORTS = (
    "import click, yaml, jinja2, sqlglot\n"
    "import sqlglot.optimizer.qualify, sqlglot.optimizer.annotate_types\n"
    "sqlglot.Dialect.get_or_raise('spark')\n"
)
"""The third-party imports of a ``validate`` of the example (which has a macro file: jinja2)."""

FLOOR_QUERIES = """\
import sys
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

spark = sqlglot.Dialect.get_or_raise("spark")
types = {n: exp.DataType.build(k, dialect=spark) for n, k in
         (("id", "STRING"), ("amount", "DOUBLE"), ("ts", "TIMESTAMP"))}
queries = open(sys.argv[1]).read().split(";\\n")[:-1]
watermark = sys.argv[2]
schema = MappingSchema({f"s{i}": types for i in range(len(queries))}, dialect=spark)
for query in queries:
    tree = sqlglot.parse_one(query, dialect=spark)
    sqlglot.parse_one(watermark, dialect=spark)
    tree.sql(spark)
    annotate_types(qualify(tree, schema=schema, dialect=spark, validate_qualify_columns=True,
                           quote_identifiers=False, identify=False), schema=schema, dialect=spark)
"""
"""Per windowed sink: parse its query and its stream's watermark, write the query's Spark SQL,
qualify and type it; once each, no copy (sqlstream copies the query for qualify, and the
generator copies what it writes). The types and the schema are built once."""

FLOOR_PARSE = """\
import sys
import sqlglot

sqlglot.parse_one(open(sys.argv[1]).read(), dialect="spark")
"""
"""Tokenize and parse one query (``validate`` of the chain writes no Spark SQL)."""


def floor_queries(path: Path, pairs: int = 250) -> Path:
    """The 250-file project's queries (``windowed_sink``'s, from SELECT on) as stock sqlglot
    reads them: ``window(...)`` as a plain call and ``window.end`` as a plain column (the
    stock Spark parser refuses both)."""
    sinks = (windowed_sink(i) for i in range(pairs))
    queries = (sink[sink.index("SELECT") :].replace("\n", " ").strip() for sink in sinks)
    text = "".join(
        q.replace("window.end", "ts").replace("window(", "window_fn(") + "\n" for q in queries
    )
    path.write_text(text)
    return path


def floor_chain(path: Path, project: Path) -> Path:
    """The chain project's query, as it stands after ``INSERT INTO KAFKA TOPIC 'o' KEY id``."""
    text = (project / "queries" / "chain.sql").read_text()
    path.write_text(text[text.index("SELECT") :].rstrip().rstrip(";"))
    return path


@dataclass
class Case:
    what: str
    args: list[str]
    cwd: Path
    runs: int
    targets: dict[str, float]
    """Build ("pure", "sqlglotc") -> target seconds."""
    exit_code: int = 0
    script: str | None = None
    """A reference: this Python script (``python -c``, ``args`` its arguments), not sqlstream."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_env(pycache: Path) -> dict[str, str]:
    """The environment of a measured run: this checkout's package, with its bytecode cached.

    ``pip install`` compiles a package's bytecode, so an installed sqlstream never compiles its
    modules at start; a checkout run with ``PYTHONDONTWRITEBYTECODE`` set would, every time. The
    bytecode goes to ``pycache`` (``PYTHONPYCACHEPREFIX``), not into the checkout.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(pycache)}


def _command(python: str, case: Case) -> list[str]:
    before, after = COLLECTOR
    program = ["-c", before + case.script + after] if case.script else ["-m", "sqlstream.cli.main"]
    return [python, *program, *case.args]


def run_once(cmd: list[str], case: Case, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run, a new process."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=case.cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - c0
    flood = case.exit_code != 0 and len(proc.stdout) + len(proc.stderr) > 10_000
    if proc.returncode != case.exit_code or flood:
        raise SystemExit(
            f"{' '.join(cmd)} (in {case.cwd}) exited {proc.returncode}, expected"
            f" {case.exit_code}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return wall, cpu


Results = dict[tuple[str, str], tuple[list[float], list[float]]]


def timed(all_cases: list[Case], builds: list[tuple[str, str, str]], pycache: Path) -> Results:
    """Every case on every build, each after one run that is not counted (it writes the bytecode
    and ``target/``, as a first run does); then the counted runs in rounds, one run of each
    case and build a round, so that a change in the machine's speed while the bench runs (a
    shared VM's moves by a third) falls on every row alike, a row and its reference above all."""
    runs = [
        (case, python, _command(python, case), child_env(pycache / kind))
        for case in all_cases
        for python, kind, _ in builds
    ]
    for case, _, cmd, env in runs:
        subprocess.run(cmd, cwd=case.cwd, env=env, capture_output=True, check=False)
    results: Results = {(case.what, python): ([], []) for case, python, _, _ in runs}
    for round_ in range(max(case.runs for case in all_cases)):
        for case, python, cmd, env in runs:
            if round_ < case.runs:
                wall, cpu = run_once(cmd, case, env)
                results[case.what, python][0].append(wall)
                results[case.what, python][1].append(cpu)
    return results


def build_of(python: str) -> tuple[str, str]:
    """("pure" or "sqlglotc", a description with the versions) of an interpreter."""
    out = subprocess.run([python, "-c", _BUILD], capture_output=True, text=True, check=True)
    compiled, sqlglot, py = out.stdout.strip().split("|")
    if compiled:
        return "sqlglotc", f"sqlglot {sqlglot} with sqlglotc {compiled}, Python {py}"
    return "pure", f"sqlglot {sqlglot} (pure Python), Python {py}"


def default_pythons() -> list[str]:
    found = [ROOT / v / "bin" / "python" for v in VENVS]
    return [str(p) for p in found if p.exists()] or [sys.executable]


def cases(tmp: Path) -> list[Case]:
    p250 = generated_project(tmp / "files250", files=250)
    p10 = generated_project(tmp / "files10", files=10)
    chain = chain_project(tmp / "chain")
    big = big_project(tmp / "big")
    queries = floor_queries(tmp / "queries.sql")
    where = floor_chain(tmp / "chain.sql", chain)
    return [
        Case(
            "cold `validate queries/spend.sql`",
            ["validate", "queries/spend.sql"],
            ROOT,
            7,
            {"pure": 0.3, "sqlglotc": 0.3},
        ),
        Case("reference: its third-party imports alone", [], ROOT, 7, {}, script=FLOOR_IMPORTS),
        Case(
            "`compile`, 250 files of 1 stream + 1 windowed sink",
            ["compile"],
            p250,
            5,
            {"pure": 1.0, "sqlglotc": 0.5},
        ),
        Case("`compile`, the same 500 statements in 10 files", ["compile"], p10, 5, {}),
        Case(
            "reference: sqlglot alone, those 250 queries (parse, qualify, type, write)",
            [str(queries), WATERMARK],
            tmp,
            5,
            {},
            script=FLOOR_QUERIES,
        ),
        Case(
            f"`validate`, a WHERE of {CHAIN_TERMS:,} AND/OR terms",
            ["validate"],
            chain,
            3,
            {"pure": 2.0, "sqlglotc": 2.0},
        ),
        Case(
            "reference: sqlglot alone, that query (tokenize, parse)",
            [str(where)],
            tmp,
            3,
            {},
            script=FLOOR_PARSE,
        ),
        Case(
            f"`validate`, a {BIG_BYTES // 1_000_000} MB file (refused: over 1 MiB)",
            ["validate"],
            big,
            3,
            {"pure": 5.0, "sqlglotc": 5.0},
            exit_code=2,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--python", action="append", help="an interpreter to measure (repeatable)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave the docs")
    opts = parser.parse_args()
    builds = [(p, *build_of(p)) for p in opts.python or default_pythons()]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        all_cases = cases(Path(tmp))
        results = timed(all_cases, builds, Path(tmp) / "pycache")
    for case in all_cases:
        for python, kind, _ in builds:
            wall, cpu = results[case.what, python]
            print(
                f"{kind:8} {case.what}: median {statistics.median(wall):.3f} s"
                f" (min {min(wall):.3f} s, CPU {statistics.median(cpu):.3f} s,"
                f" {len(wall)} runs)"
            )
    load_after = os.getloadavg()[0]
    body = _table(all_cases, builds, results, load_before, load_after)
    print("\n" + body)
    if not opts.no_write:
        write_section("compile", "python bench/compile_speed.py", body)


def _table(
    all_cases: list[Case],
    builds: list[tuple[str, str, str]],
    results: Results,
    load_before: float,
    load_after: float,
) -> str:
    head = (
        "| what | " + " | ".join(f"{kind}: median (CPU) | target" for _, kind, _ in builds) + " |"
    )
    lines = [head, "| --- |" + " --- | --- |" * len(builds)]
    for case in all_cases:
        cells = []
        for python, kind, _ in builds:
            wall, cpu = results[case.what, python]
            target = case.targets.get(kind)
            cells.append(
                f"{statistics.median(wall):.3f} s ({statistics.median(cpu):.3f} s) | "
                + (f"< {target} s" if target is not None else "")
            )
        lines.append(f"| {case.what} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- {kind}: {desc}" for _, kind, desc in builds]
    lines.append(
        f"\nEach run is a new process (`python -m sqlstream.cli.main ...`: interpreter start,"
        " imports, work, exit) with the package's bytecode cached, as `pip install` leaves it,"
        " after one run that is not counted; the times are wall clock, start to exit, median of"
        f" {', '.join(sorted({str(c.runs) for c in all_cases}))} runs, and the CPU time is the"
        " process's user + system time. `compile` writes target/ (rendered SQL, one script per"
        " file, plan.json); a file already up to date is left as it is, so the counted runs"
        " (the project unchanged) compare and do not write. The counted runs go in rounds (one"
        " run of every row a round), so that a change in the machine's speed meets every row"
        " alike. A *reference* row is the same work done by sqlglot alone (`python -c`, the"
        " script in bench/compile_speed.py; for a cold `validate`, its third-party imports),"
        " measured the same way, with the collector set as sqlstream's commands set it (its"
        " thresholds, and frozen before the exit, so that the exit does not collect the trees):"
        " the floor under the row above it on that build; what is over"
        " it is what sqlstream adds (reading its statements, positions, checks, the plan, the"
        " scripts, the files)."
        f" The 1-minute load average was {load_before:.1f} before and"
        f" {load_after:.1f} after on {os.cpu_count()} cores: when it is above the core count,"
        " other work shared the CPU, the wall times are high, and the CPU time is the closer"
        " estimate of the wall time on an idle machine."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
