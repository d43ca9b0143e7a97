"""sqlstream.spark.jars without Maven or a network: a fake ``mvn`` stands in for the real one."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from sqlstream.errors import RunFailure
from sqlstream.spark import jars

FAKE_MVN = """\
#!{python}
# A stand-in for mvn: records its arguments and lays out jars as copy-dependencies does with
# -Dmdep.useRepositoryLayout=true.
import json, os, sys
from pathlib import Path
log = Path(os.environ["FAKE_MVN_LOG"])
log.write_text(log.read_text() + json.dumps(sys.argv[1:]) + "\\n" if log.exists() \
else json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_MVN_FAIL"):
    print("[ERROR] Failed to collect dependencies: could not resolve org.example:nope:1")
    sys.exit(1)
out = Path(next(a for a in sys.argv if a.startswith("-DoutputDirectory=")).split("=", 1)[1])
for gav in os.environ["FAKE_MVN_JARS"].split(","):
    g, a, v = gav.split(":")
    d = out.joinpath(*g.split("."), a, v)
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{{a}}-{{v}}.jar").write_bytes(b"PK")
"""


@pytest.fixture
def fake_mvn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "bin" / "mvn"
    script.parent.mkdir()
    script.write_text(FAKE_MVN.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "mvn.log"
    monkeypatch.setenv("SQLSTREAM_MVN", str(script))
    monkeypatch.setenv("FAKE_MVN_LOG", str(log))
    monkeypatch.setenv("SQLSTREAM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(
        "FAKE_MVN_JARS",
        "org.example:thing:1.0,org.scala-lang:scala-library:2.13.15,org.apache.kafka:kafka-clients:3.9.2",
    )
    return log


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"SQLSTREAM_CACHE": "/c/sq", "XDG_CACHE_HOME": "/x"}, Path("/c/sq")),
        ({"XDG_CACHE_HOME": "/x"}, Path("/x/sqlstream")),
        ({}, Path.home() / ".cache" / "sqlstream"),
    ],
)
def test_cache_dir(env: dict[str, str], expected: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("SQLSTREAM_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert jars.cache_dir() == expected


def test_resolve_fetches_once_then_never_runs_mvn(fake_mvn: Path, tmp_path: Path) -> None:
    coords = ["org.example:thing:1.0"]
    got = jars.resolve(coords, "demo")

    directory = tmp_path / "cache" / "jars" / "demo"
    assert sorted(p.name for p in got) == [
        "kafka-clients-3.9.2.jar",
        "scala-library-2.13.15.jar",
        "thing-1.0.jar",
    ]
    assert all(p.parent == directory and p.is_file() for p in got)
    marker = json.loads((directory / jars.MARKER).read_text())
    assert marker["coordinates"] == coords
    (call,) = _calls(fake_mvn)
    assert "-B" in call and "-DincludeScope=runtime" in call
    assert any(a.endswith(":copy-dependencies") for a in call)

    assert jars.resolve(coords, "demo") == got
    assert len(_calls(fake_mvn)) == 1  # cached: mvn not launched again


def test_resolve_again_when_coordinates_change(fake_mvn: Path) -> None:
    jars.resolve(["org.example:thing:1.0"], "demo")
    jars.resolve(["org.example:thing:1.0", "org.example:other:2"], "demo")
    assert len(_calls(fake_mvn)) == 2


def test_resolve_skips_artifacts_already_on_the_classpath(fake_mvn: Path, tmp_path: Path) -> None:
    provided = tmp_path / "pyspark-jars"
    provided.mkdir()
    (provided / "scala-library-2.13.16.jar").write_bytes(b"PK")  # another version: still skipped
    (provided / "spark-sql-kafka-0-10_2.13-4.2.0.jar").write_bytes(b"PK")

    got = jars.resolve(["org.example:thing:1.0"], "demo", skip_present_in=provided)

    assert sorted(p.name for p in got) == ["kafka-clients-3.9.2.jar", "thing-1.0.jar"]
    marker = json.loads((got[0].parent / jars.MARKER).read_text())
    assert marker["skipped"] == ["scala-library-2.13.15.jar"]


def test_mvn_failure_names_the_command_and_shows_its_output(
    fake_mvn: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MVN_FAIL", "1")
    with pytest.raises(RunFailure) as e:
        jars.resolve(["org.example:nope:1"], "demo")
    message = str(e.value)
    assert "Maven failed (exit 1)" in message
    assert "copy-dependencies" in message and "-DincludeScope=runtime" in message
    assert "could not resolve org.example:nope:1" in message
    assert jars.cached(["org.example:nope:1"], "demo") is None


def test_missing_mvn_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQLSTREAM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SQLSTREAM_MVN", str(tmp_path / "no-such-mvn"))
    with pytest.raises(RunFailure, match="Maven"):
        jars.resolve(["org.example:thing:1.0"], "demo")


def test_spark_jars_conf_falls_back_to_packages_without_mvn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQLSTREAM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SQLSTREAM_MVN", str(tmp_path / "no-such-mvn"))
    monkeypatch.setattr(jars, "PROTOBUF_JAR", tmp_path / "not-built.jar")
    assert jars.spark_jars_conf("4.2.0", avro=True) == {
        "spark.jars.packages": "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0,"
        "org.apache.spark:spark-avro_2.13:4.2.0"
    }


def test_spark_jars_conf_uses_cached_jars(
    fake_mvn: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jars, "PROTOBUF_JAR", tmp_path / "not-built.jar")
    got = jars.resolve(jars.spark_kafka_coordinates("4.2.0"), "spark-4.2.0")
    conf = jars.spark_jars_conf("4.2.0")
    assert conf == {"spark.jars": ",".join(str(p) for p in got)}


def test_sqlstreams_own_jar_goes_on_spark_jars_once_built(
    fake_mvn: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = tmp_path / "sqlstream-protobuf.jar"
    built.write_bytes(b"PK")
    monkeypatch.setattr(jars, "PROTOBUF_JAR", built)
    got = jars.resolve(jars.spark_kafka_coordinates("4.2.0"), "spark-4.2.0")
    assert jars.spark_jars_conf("4.2.0")["spark.jars"].split(",") == [
        *(str(p) for p in got),
        str(built),
    ]
    monkeypatch.setenv("SQLSTREAM_MVN", str(tmp_path / "no-such-mvn"))
    monkeypatch.setenv("SQLSTREAM_CACHE", str(tmp_path / "empty-cache"))
    assert jars.spark_jars_conf("4.2.0")["spark.jars"] == str(built)  # beside the packages


def test_broker_coordinates_bind_slf4j_1_to_log4j2() -> None:
    coords = jars.kafka_broker_coordinates("4.1.1")
    assert coords[0] == "org.apache.kafka:kafka_2.13:4.1.1"
    assert any(":log4j-slf4j-impl:" in c for c in coords)


@pytest.mark.parametrize("bad", ["a:b", "a:b:c:d", "a::c"])
def test_bad_coordinates(bad: str) -> None:
    with pytest.raises(ValueError):
        jars.resolve([bad], "x")


def test_importing_jars_does_not_import_pyspark() -> None:
    import subprocess

    code = "import sys, sqlstream.spark.jars; print('pyspark' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(jars.__file__).parents[1])},
    ).stdout
    assert out.strip() == "False"
