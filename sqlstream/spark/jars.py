"""Java artifacts sqlstream needs at run time, fetched once into a local cache.

Two sets of jars are needed: Spark's Kafka connector (``spark-sql-kafka-0-10``, plus
``spark-avro`` for Avro), which must match pyspark's version exactly, and the Apache Kafka broker
that ``sqlstream.local.broker`` starts for the demo and the tests.

Both are resolved with Maven (``mvn dependency:copy-dependencies`` on a throwaway pom) rather than
with Spark's own ``spark.jars.packages``: Maven honours the user's ``~/.m2/settings.xml`` (mirrors,
proxies, credentials), which Spark's Ivy resolution ignores, so it works behind a corporate
repository manager. Once a set is complete a marker file lists its jars, and from then on
``resolve`` neither downloads anything nor launches Maven.

Fallback when ``mvn`` is absent: ``spark_jars_conf`` returns ``spark.jars.packages`` coordinates
instead, and Spark resolves them itself through Ivy. That works on a laptop that reaches Maven
Central directly; it does not see Maven mirrors. The broker has no such fallback: without Maven
(or a filled cache) ``localkafka`` cannot start, and says so.

Environment:

- ``SQLSTREAM_CACHE``: the cache root (default ``$XDG_CACHE_HOME/sqlstream`` or
  ``~/.cache/sqlstream``).
- ``SQLSTREAM_MVN``: the Maven executable (default ``mvn`` on ``PATH``), e.g. a project's ``mvnw``.
- ``SQLSTREAM_MVN_ARGS``: extra arguments for Maven, shell-split, e.g. ``-s ci-settings.xml``.

Layout::

    <cache>/jars/<name>/             one directory per set, e.g. kafka-4.1.1, spark-4.2.0-avro
        <artifactId>-<version>.jar    flat, as Spark and Kafka name their own jars
        sqlstream-jars.json           the marker: coordinates, jars, skipped; written last
    <cache>/jars/<name>.lock          serialises concurrent resolutions of one set
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path
from xml.sax.saxutils import escape

from sqlstream.errors import RunFailure

SCALA_BINARY_VERSION = "2.13"
KAFKA_VERSION = "4.1.1"
"""The Apache Kafka broker version ``localkafka`` runs (4.x: KRaft only, needs Java 17+)."""
LOG4J_VERSION = "2.24.3"
"""log4j2 binding for the broker's slf4j logging; Kafka 4.x ships log4j2 itself."""
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
"""Pinned so the result does not depend on which plugin version Maven's prefix lookup picks."""

MARKER = "sqlstream-jars.json"
_MVN_TIMEOUT = 1800.0
_TAIL_LINES = 40


def cache_dir() -> Path:
    """The root of sqlstream's download cache."""
    if os.environ.get("SQLSTREAM_CACHE"):
        return Path(os.environ["SQLSTREAM_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "sqlstream"
    return Path.home() / ".cache" / "sqlstream"


def jars_dir(name: str) -> Path:
    """Where the jar set ``name`` lives (whether or not it is complete yet)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"invalid jar set name {name!r}")
    return cache_dir() / "jars" / name


def cached(coordinates: t.Sequence[str], name: str) -> list[Path] | None:
    """The jars of a complete set resolved from exactly these coordinates, else None."""
    directory = jars_dir(name)
    try:
        marker = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if marker.get("coordinates") != list(coordinates):
        return None
    jars = [directory / j for j in marker.get("jars", [])]
    if not jars or not all(j.is_file() for j in jars):
        return None
    return jars


def resolve(
    coordinates: list[str],
    name: str,
    *,
    skip_present_in: Path | None = None,
) -> list[Path]:
    """Make sure the jars of ``coordinates`` and their runtime dependencies are cached.

    Returns their paths in ``cache_dir()/jars/<name>/``. When the set is already complete,
    nothing is downloaded and Maven is not started.

    ``skip_present_in``: a directory of jars already on the classpath (pyspark's ``jars/``);
    an artifact with a jar of the same artifactId there, at whatever version, is left out, so
    the classpath never holds two copies of a library.
    """
    for c in coordinates:
        _parse_coordinate(c)
    jars = cached(coordinates, name)
    if jars is not None:
        return jars
    directory = jars_dir(name)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _locked(directory.parent / f"{name}.lock"):
        jars = cached(coordinates, name)  # another process may have finished meanwhile
        if jars is not None:
            return jars
        return _fetch(coordinates, directory, skip_present_in)


def spark_kafka_coordinates(spark_version: str, avro: bool = False) -> list[str]:
    """Maven coordinates of Spark's Kafka connector (and Avro support) for a Spark version."""
    coords = [f"org.apache.spark:spark-sql-kafka-0-10_{SCALA_BINARY_VERSION}:{spark_version}"]
    if avro:
        coords.append(f"org.apache.spark:spark-avro_{SCALA_BINARY_VERSION}:{spark_version}")
    return coords


def spark_kafka_jars(spark_version: str, avro: bool = False) -> list[Path]:
    """Spark's Kafka connector jars (and spark-avro), minus what pyspark already ships."""
    name = f"spark-{spark_version}" + ("-avro" if avro else "")
    return resolve(
        spark_kafka_coordinates(spark_version, avro), name, skip_present_in=_pyspark_jars_dir()
    )


def kafka_broker_coordinates(version: str = KAFKA_VERSION) -> list[str]:
    """The Apache Kafka broker and a log4j2 binding for its slf4j logging."""
    return [
        f"org.apache.kafka:kafka_{SCALA_BINARY_VERSION}:{version}",
        # Kafka 4.x is built on slf4j-api 1.7, so the binding is log4j-slf4j-impl (the slf4j 1.x
        # one, as Kafka's own distribution ships), not log4j-slf4j2-impl, which slf4j 1.7 would
        # not find. Named directly so Maven's nearest-wins mediation keeps one version of each.
        f"org.apache.logging.log4j:log4j-slf4j-impl:{LOG4J_VERSION}",
        f"org.apache.logging.log4j:log4j-core:{LOG4J_VERSION}",
    ]


def kafka_broker_jars(version: str = KAFKA_VERSION) -> list[Path]:
    """The classpath of a Kafka broker (``kafka.Kafka``) of this version."""
    return resolve(kafka_broker_coordinates(version), f"kafka-{version}")


PROTOBUF_JAR = Path(__file__).with_name("jvm") / "sqlstream-protobuf.jar"
"""sqlstream's own JVM functions (``jvm/``, built by ``make setup``): protobuf-confluent."""


def own_jars() -> list[Path]:
    """sqlstream's own jars, when built: on every session's ``spark.jars`` (one small file, its
    protobuf shaded), so that a run that registers their functions finds them, on a cluster's
    executors too."""
    return [PROTOBUF_JAR] if PROTOBUF_JAR.is_file() else []


def mvn_available() -> bool:
    return _mvn_executable() is not None


def spark_jars_conf(spark_version: str, avro: bool = False) -> dict[str, str]:
    """The Spark conf that puts the Kafka connector on the classpath.

    ``spark.jars`` with cached jars when they are cached or Maven can fetch them; otherwise
    ``spark.jars.packages`` so that Spark's Ivy fetches them from Maven Central itself.
    """
    coords = spark_kafka_coordinates(spark_version, avro)
    name = f"spark-{spark_version}" + ("-avro" if avro else "")
    jars = cached(coords, name)
    if jars is None and mvn_available():
        jars = spark_kafka_jars(spark_version, avro)
    own = {"spark.jars": ",".join(str(j) for j in own_jars())} if own_jars() else {}
    if jars is None:
        return {"spark.jars.packages": ",".join(coords), **own}
    return {"spark.jars": ",".join(str(j) for j in [*jars, *own_jars()])}


def resolve_archive(coordinate: str, name: str) -> Path:
    """One artifact that is not a jar (``group:artifact:version:type:classifier``, e.g. a
    distribution's tar.gz), fetched once with Maven's ``dependency:copy`` into
    ``cache_dir()/jars/<name>/`` and returned from there ever after (the marker says it is whole).
    Its dependencies are not fetched: such an archive carries them."""
    group, artifact, version, type_, classifier = coordinate.split(":")
    directory = jars_dir(name)
    filename = f"{artifact}-{version}-{classifier}.{type_}"
    if (directory / MARKER).is_file() and (directory / filename).is_file():
        return directory / filename
    mvn = _mvn_executable()
    if mvn is None:
        raise RunFailure(
            f"Maven (mvn) is needed to download {coordinate} into {directory}, but it is not on "
            "PATH.\nhint: install Maven (e.g. `apt-get install maven`), or set SQLSTREAM_MVN"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _locked(directory.parent / f"{name}.lock"):
        if not (directory / MARKER).is_file():
            _copy_artifact(mvn, coordinate, directory)
    return directory / filename


def _copy_artifact(mvn: str, coordinate: str, directory: Path) -> None:
    new = directory.with_name(directory.name + ".new")
    shutil.rmtree(new, ignore_errors=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        *shlex.split(os.environ.get("SQLSTREAM_MVN_ARGS", "")),
        f"{DEPENDENCY_PLUGIN}:copy",
        f"-Dartifact={coordinate}",
        f"-DoutputDirectory={new}",
    ]
    try:
        proc = subprocess.run(
            cmd,
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_MVN_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RunFailure(f"cannot run Maven for {coordinate}: {e}") from None
    if proc.returncode != 0:
        raise RunFailure(
            f"Maven failed (exit {proc.returncode}) fetching {coordinate}.\n"
            f"command: {shlex.join(cmd)}\n{_tail(proc.stdout + proc.stderr)}\n"
            "hint: check network access to Maven Central or the mirrors in ~/.m2/settings.xml"
        )
    shutil.rmtree(directory, ignore_errors=True)
    new.rename(directory)
    (directory / MARKER).write_text(json.dumps({"coordinates": [coordinate]}) + "\n")


def with_packages(conf: dict[str, str], coordinates: t.Sequence[str]) -> dict[str, str]:
    """``conf`` (of ``spark_jars_conf``) with the jars of ``coordinates`` too (a JDBC driver),
    each set cached under its own name; by ``spark.jars.packages`` when Maven is missing."""
    if not coordinates:
        return conf
    out = dict(conf)
    if "spark.jars.packages" in out or not mvn_available():
        packages = [p for p in out.get("spark.jars.packages", "").split(",") if p]
        out["spark.jars.packages"] = ",".join([*packages, *coordinates])
        return out
    paths = [
        str(j) for c in coordinates for j in resolve([c], c.replace(":", "-").replace(".", "_"))
    ]
    out["spark.jars"] = ",".join(p for p in [out.get("spark.jars", ""), *paths] if p)
    return out


# --- internals -------------------------------------------------------------------------------


def _parse_coordinate(coordinate: str) -> tuple[str, str, str]:
    parts = coordinate.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"expected groupId:artifactId:version, got {coordinate!r}")
    return parts[0], parts[1], parts[2]


def _pyspark_jars_dir() -> Path | None:
    try:
        import pyspark  # imported here: the compiler must not need pyspark
    except ImportError:
        return None
    path = Path(pyspark.__file__).parent / "jars"
    return path if path.is_dir() else None


def _mvn_executable() -> str | None:
    configured = os.environ.get("SQLSTREAM_MVN")
    if configured:
        return shutil.which(configured) or (configured if Path(configured).is_file() else None)
    return shutil.which("mvn")


def _pom(coordinates: t.Sequence[str]) -> str:
    deps = []
    for c in coordinates:
        g, a, v = (escape(p) for p in _parse_coordinate(c))
        deps.append(
            f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
            f"<version>{v}</version></dependency>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<project>\n"
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>sqlstream.local</groupId>\n"
        "  <artifactId>sqlstream-jars</artifactId>\n"
        "  <version>0</version>\n"
        "  <packaging>pom</packaging>\n"
        "  <dependencies>\n" + "\n".join(deps) + "\n  </dependencies>\n"
        "</project>\n"
    )


Artifact = tuple[str, str, str, Path]
"""groupId, artifactId, version, path of the jar in the staging repository layout."""


def _fetch(coordinates: list[str], directory: Path, skip_present_in: Path | None) -> list[Path]:
    mvn = _mvn_executable()
    if mvn is None:
        raise RunFailure(
            "Maven (mvn) is needed to download "
            + ", ".join(coordinates)
            + f" into {directory}, but it is not on PATH.\n"
            "hint: install Maven (e.g. `apt-get install maven`, `brew install maven`), or set "
            "SQLSTREAM_MVN to a Maven executable"
        )
    with tempfile.TemporaryDirectory(prefix="sqlstream-mvn-") as tmp:
        artifacts = _resolve(mvn, coordinates, Path(tmp))
        return _install(coordinates, artifacts, directory, skip_present_in)


def _resolve(mvn: str, coordinates: list[str], work: Path) -> list[Artifact]:
    """Let Maven copy ``coordinates`` and their runtime dependencies under ``work``."""
    (work / "pom.xml").write_text(_pom(coordinates))
    staging = work / "out"
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(work / "pom.xml"),
        *shlex.split(os.environ.get("SQLSTREAM_MVN_ARGS", "")),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        "-Dmdep.useRepositoryLayout=true",
        f"-DoutputDirectory={staging}",
    ]
    try:
        proc = subprocess.run(
            cmd,
            check=False,
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=_MVN_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        raise RunFailure(
            f"Maven did not finish within {_MVN_TIMEOUT:.0f}s.\n"
            f"command: {shlex.join(cmd)}\n{_tail(_text(e.output))}"
        ) from None
    except OSError as e:
        raise RunFailure(f"cannot run Maven: {e}\ncommand: {shlex.join(cmd)}") from None
    if proc.returncode != 0:
        raise RunFailure(
            f"Maven failed (exit {proc.returncode}) resolving {', '.join(coordinates)}.\n"
            f"command: {shlex.join(cmd)}\n{_tail(proc.stdout)}\n"
            "hint: check network access to Maven Central or the mirrors in "
            "~/.m2/settings.xml; SQLSTREAM_MVN_ARGS passes extra arguments to Maven"
        )
    artifacts = _artifacts(staging)
    if not artifacts:
        raise RunFailure(
            f"Maven resolved no jars for {', '.join(coordinates)}.\n"
            f"command: {shlex.join(cmd)}\n{_tail(proc.stdout)}"
        )
    return artifacts


def _install(
    coordinates: list[str],
    artifacts: list[Artifact],
    directory: Path,
    skip_present_in: Path | None,
) -> list[Path]:
    """Put the resolved jars (less those already in ``skip_present_in``) in ``directory``.

    Replace the directory as a whole; the marker goes in last, so a set without a marker is
    never mistaken for a complete one.
    """
    present = _artifact_ids(skip_present_in) if skip_present_in else set()
    keep = [a for a in artifacts if a[1] not in present]
    skipped = [a[3].name for a in artifacts if a[1] in present]
    names = _flat_names(keep)
    new = directory.with_name(directory.name + ".new")
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    for artifact, flat in zip(keep, names):
        shutil.copy2(artifact[3], new / flat)
    shutil.rmtree(directory, ignore_errors=True)
    new.rename(directory)
    marker = {"coordinates": list(coordinates), "jars": names, "skipped": skipped}
    tmp_marker = directory / (MARKER + ".tmp")
    tmp_marker.write_text(json.dumps(marker, indent=2) + "\n")
    tmp_marker.replace(directory / MARKER)
    return [directory / n for n in names]


def _artifacts(staging: Path) -> list[Artifact]:
    """Identify each jar from its repository-layout path: group/dirs/artifact/version/file."""
    found: list[Artifact] = []
    for jar in sorted(staging.rglob("*.jar")):
        rel = jar.relative_to(staging).parts
        if len(rel) < 4:
            continue
        artifact, version = rel[-3], rel[-2]
        group = ".".join(rel[:-3])
        found.append((group, artifact, version, jar))
    return found


def _flat_names(artifacts: list[Artifact]) -> list[str]:
    names = [a[3].name for a in artifacts]
    dupes = {n for n in names if names.count(n) > 1}
    return [f"{a[0]}.{n}" if n in dupes else n for a, n in zip(artifacts, names)]


_VERSION_START = re.compile(r"-\d")


def _artifact_ids(directory: Path) -> set[str]:
    """artifactIds of jars named ``<artifactId>-<version>[-classifier].jar`` in a directory.

    An artifactId may itself hold ``-<digit>`` (``spark-sql-kafka-0-10_2.13``), so every
    prefix ending before a ``-<digit>`` is a candidate; a false candidate only matters if a
    real artifactId equals it, which is harmless for what we compare against.
    """
    ids: set[str] = set()
    for jar in directory.glob("*.jar"):
        stem = jar.name[: -len(".jar")]
        for m in _VERSION_START.finditer(stem):
            ids.add(stem[: m.start()])
    return ids


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _text(output: str | bytes | None) -> str:
    if output is None:
        return ""
    return output.decode(errors="replace") if isinstance(output, bytes) else output


@contextlib.contextmanager
def _locked(path: Path) -> t.Iterator[None]:
    if sys.platform == "win32":  # pragma: no cover - no flock; concurrent fetches are rare
        yield
        return
    import fcntl

    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _main(argv: list[str]) -> int:
    """``python -m sqlstream.spark.jars [SPARK_VERSION]``: fetch every jar set now (for a
    Makefile/CI)."""
    if argv:
        spark_version = argv[0]
    else:
        import pyspark

        spark_version = pyspark.__version__
    try:
        broker = kafka_broker_jars()
        spark = spark_kafka_jars(spark_version, avro=True)
    except RunFailure as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"kafka broker {KAFKA_VERSION}: {len(broker)} jars in {broker[0].parent}")
    print(f"spark {spark_version} kafka+avro connector: {len(spark)} jars in {spark[0].parent}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1:]))
