"""Project discovery, sqlstream.yml, profiles.yml and targets; no JVM."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sqlstream.compiler.render import make_environment, render_file
from sqlstream.errors import UserError
from sqlstream.project.config import (
    Target,
    discover_files,
    discover_macro_files,
    find_project_root,
    load_project,
)
from sqlstream.project.connection import Connection

pytestmark = pytest.mark.usefixtures("clean_machine")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty directory (HOME and the environment: tests/compiler/conftest.py)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write(
        root / "sqlstream.yml",
        """
        name: shop
        vars:
          topic: orders
          partitions: 4
        defaults:
          source: {starting_offsets: earliest}
        """,
    )
    write(root / "queries" / "spend.sql", "SELECT 1\n")
    write(root / "queries" / "sub" / "b.sql", "SELECT 2\n")
    write(root / "queries" / ".hidden" / "x.sql", "SELECT 3\n")
    write(root / "queries" / "notes.md", "not a query\n")
    write(root / "macros" / "m.sql", "{% macro t() %}{{ var('topic') }}{% endmacro %}\n")
    return root


def error(**kwargs: object) -> UserError:
    with pytest.raises(UserError) as info:
        load_project(**kwargs)  # type: ignore[arg-type]
    return info.value


def at(err: UserError) -> tuple[str, int, int]:
    assert err.location is not None
    return Path(err.location.path).name, err.location.line, err.location.col


# --- discovery ---------------------------------------------------------------------------------


def test_project_from_a_subdirectory(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "queries" / "sub")
    assert find_project_root([]) == project.resolve()
    p = load_project()
    assert p.name == "shop" and not p.is_bare
    assert p.root == project.resolve()
    assert p.config_path == project.resolve() / "sqlstream.yml"
    assert p.query_paths == [p.root / "queries"]
    assert p.macro_paths == [p.root / "macros"]
    assert p.vars == {"topic": "orders", "partitions": 4}
    assert {k: {o: d.value for o, d in v.items()} for k, v in p.defaults.items()} == {
        "source": {"starting_offsets": "earliest"}
    }
    # no profiles.yml anywhere: local defaults
    assert p.target.name == "dev"
    assert p.target.bootstrap_servers == "localhost:9092"
    assert p.target.spark_master == "local[*]" and p.target.spark_remote is None
    assert p.target.checkpoint_root == ".sqlstream/checkpoints"
    assert p.checkpoint_dir == p.root / ".sqlstream" / "checkpoints"


def test_project_from_a_file_path(project: Path) -> None:
    p = load_project([project / "queries" / "sub" / "b.sql"])
    assert p.root == project.resolve()


def test_discover_files(project: Path) -> None:
    p = load_project([project])
    root = p.root
    assert discover_files(p) == [root / "queries" / "spend.sql", root / "queries" / "sub" / "b.sql"]
    assert discover_files(p, [project / "queries" / "sub"]) == [root / "queries" / "sub" / "b.sql"]
    # a file and the directory holding it: each file once
    both = discover_files(p, [project / "queries" / "spend.sql", project / "queries"])
    assert both == [root / "queries" / "spend.sql", root / "queries" / "sub" / "b.sql"]
    assert discover_macro_files(p) == [root / "macros" / "m.sql"]
    with pytest.raises(UserError, match="no such file"):
        discover_files(p, [project / "queries" / "nope.sql"])
    with pytest.raises(UserError, match="not a .sql file"):
        discover_files(p, [project / "queries" / "notes.md"])


def test_bare_file(tmp_path: Path) -> None:
    q = write(tmp_path / "loose" / "one.sql", "SELECT {{ var('x', 1) }}\n")
    p = load_project([q], vars_override="{x: 2}")
    assert p.is_bare and p.name == "sqlstream" and p.config_path is None
    assert p.root == q.parent.resolve()
    assert p.query_paths == [] and p.macro_paths == []
    assert p.vars == {"x": 2}
    assert p.target.bootstrap_servers == "localhost:9092"
    assert discover_files(p, [q]) == [q.resolve()]
    write(tmp_path / "loose" / "macros" / "m.sql", "")
    assert load_project([q]).macro_paths == [q.parent.resolve() / "macros"]


def test_no_project_and_no_paths() -> None:
    err = error()
    assert "sqlstream.yml" in err.message
    assert "sqlstream init" in (err.hint or "")


def test_missing_path() -> None:
    err = error(paths=["nope.sql"])
    assert "no such file" in err.message
    assert "sqlstream ls" in (err.hint or "")


def test_a_name_given_as_a_path_is_pointed_at_select() -> None:
    err = error(paths=["spend_1"])  # `sqlstream run spend_1`: a query's name
    assert err.message == "no such file or directory: spend_1"
    assert err.hint == "to pick a query or a stream by its name: --select spend_1"


# --- sqlstream.yml -----------------------------------------------------------------------------


def test_vars_override(project: Path) -> None:
    p = load_project([project], vars_override="{topic: payments, extra: [1, 2]}")
    assert p.vars == {"topic": "payments", "partitions": 4, "extra": [1, 2]}
    p = load_project([project], vars_override='{"topic": "json"}')
    assert p.vars["topic"] == "json"
    p = load_project([project], vars_override={"partitions": 8})
    assert p.vars["partitions"] == 8
    assert "--vars" in error(paths=[project], vars_override="[1, 2]").message
    assert "--vars" in error(paths=[project], vars_override="{a: [").message


def test_vars_and_macros_reach_the_query(project: Path) -> None:
    p = load_project([project], vars_override="{topic: payments}")
    env = make_environment(p.vars, discover_macro_files(p))
    write(project / "queries" / "t.sql", "FROM {{ t() }}_{{ var('partitions') }}\n")
    assert render_file(project / "queries" / "t.sql", "t.sql", env).rendered == "FROM payments_4\n"


def test_vars_render_env_var(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        project / "sqlstream.yml",
        """
        name: shop
        vars:
          topic: "{{ env_var('SHOP_TOPIC', 'orders') }}"
          nested: {list: ["{{ env_var('SHOP_TOPIC') }}"]}
        """,
    )
    monkeypatch.setenv("SHOP_TOPIC", "payments")
    assert load_project([project]).vars == {"topic": "payments", "nested": {"list": ["payments"]}}
    monkeypatch.delenv("SHOP_TOPIC")
    err = error(paths=[project])
    assert "SHOP_TOPIC" in err.message
    assert at(err) == ("sqlstream.yml", 4, 19)


def test_unknown_key_with_did_you_mean_and_position(project: Path) -> None:
    write(project / "sqlstream.yml", "name: shop\nquery-path: [queries]\n")
    err = error(paths=[project])
    assert err.message == "unknown key 'query-path' in sqlstream.yml"
    assert at(err) == ("sqlstream.yml", 2, 1)
    assert err.location and err.location.source_line == "query-path: [queries]"
    assert "did you mean 'query-paths'" in (err.hint or "")


def test_query_paths_both_spellings(project: Path) -> None:
    write(
        project / "sqlstream.yml", "name: shop\nquery_paths: [queries/sub]\nmacro-paths: macros\n"
    )
    p = load_project([project])
    assert p.query_paths == [p.root / "queries" / "sub"]
    assert p.macro_paths == [p.root / "macros"]
    write(project / "sqlstream.yml", "name: shop\nquery-paths:\n  - queries\n  - nowhere\n")
    err = error(paths=[project])
    assert "nowhere" in err.message
    assert at(err) == ("sqlstream.yml", 4, 5)


def test_name_is_required(project: Path) -> None:
    write(project / "sqlstream.yml", "vars: {a: 1}\n")
    assert "name" in error(paths=[project]).message


def test_yaml_syntax_error_is_located(project: Path) -> None:
    write(project / "sqlstream.yml", "name: shop\nvars:\n  a: [1, 2\n  b: 3\n")
    err = error(paths=[project])
    assert err.message.startswith("invalid YAML")
    assert err.location is not None and err.location.path.endswith("sqlstream.yml")
    assert err.location.line == 4


@pytest.mark.parametrize(
    ("text", "line", "hint"),
    [
        ("name: shop\n\tvars: {}\n", 2, "not tabs"),
        ("name: shop\nvars:\n  a: {{ env_var('A') }}\n", 3, "quote a value"),
        ("name: shop\nvars: [1,\n", 3, "check the indentation"),
    ],
)
def test_yaml_syntax_error_hint_fits_the_problem(
    project: Path, text: str, line: int, hint: str
) -> None:
    write(project / "sqlstream.yml", text)
    err = error(paths=[project])
    assert err.message.startswith("invalid YAML")
    assert err.location is not None and err.location.line == line
    assert err.hint is not None and hint in err.hint


def test_duplicate_key(project: Path) -> None:
    write(project / "sqlstream.yml", "name: shop\nvars: {}\nname: other\n")
    err = error(paths=[project])
    assert "twice" in err.message and at(err) == ("sqlstream.yml", 3, 1)


# --- profiles.yml ------------------------------------------------------------------------------

PROFILES = """
shop:
  target: dev
  outputs:
    dev:
      bootstrap_servers: localhost:19092
      spark: {master: "local[2]", conf: {spark.sql.shuffle.partitions: 4, spark.ui.enabled: false}}
      checkpoint_root: checkpoints/dev
    prod:
      bootstrap_servers: "{{ env_var('KAFKA_BOOTSTRAP') }}"
      security_protocol: SASL_SSL
      sasl_mechanism: PLAIN
      sasl_username: "{{ env_var('KAFKA_USER') }}"
      sasl_password: "{{ env_var('KAFKA_PASSWORD') }}"
      kafka:
        "kafka.client.id": shop
        "kafka.request.timeout.ms": 30000
    scram:
      bootstrap_servers: broker:9093
      sasl_mechanism: scram-sha-512
      sasl_username: u
      sasl_password: 'p"w'
      ssl_truststore_location: certs/truststore.jks
      ssl_truststore_password: trustme
    connect:
      spark: {remote: "sc://spark:15002"}
"""


@pytest.fixture
def prod_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "broker-1:9092,broker-2:9092")
    monkeypatch.setenv("KAFKA_USER", "svc-shop")
    monkeypatch.setenv("KAFKA_PASSWORD", "s3cr3t-Pa55")


def test_default_target_from_profile(project: Path) -> None:
    write(project / "profiles.yml", PROFILES)
    p = load_project([project])
    t = p.target
    assert p.profiles_path == (project / "profiles.yml").resolve()
    assert t.name == "dev" and t.bootstrap_servers == "localhost:19092"
    assert t.spark_master == "local[2]"
    assert t.spark_conf == {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"}
    assert t.checkpoint_root == "checkpoints/dev" and t.kafka_options == {}
    assert t.secrets == frozenset()


def test_sasl_plain_builds_jaas_config(project: Path, prod_env: None) -> None:
    write(project / "profiles.yml", PROFILES)
    t = load_project([project], target="prod").target
    assert t.name == "prod"
    assert t.bootstrap_servers == "broker-1:9092,broker-2:9092"
    assert t.kafka_options == {
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": "PLAIN",
        "kafka.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule "
        'required username="svc-shop" password="s3cr3t-Pa55";',
        "kafka.client.id": "shop",
        "kafka.request.timeout.ms": "30000",
    }
    assert "s3cr3t-Pa55" in t.secrets


def test_sasl_scram_and_truststore(project: Path) -> None:
    write(project / "profiles.yml", PROFILES)
    t = load_project([project], target="scram").target
    assert t.kafka_options["kafka.sasl.mechanism"] == "SCRAM-SHA-512"
    assert t.kafka_options["kafka.security.protocol"] == "SASL_SSL"  # implied by the credentials
    assert t.kafka_options["kafka.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule "
        'required username="u" password="p\\"w";'
    )
    assert t.kafka_options["kafka.ssl.truststore.location"] == "certs/truststore.jks"
    assert t.kafka_options["kafka.ssl.truststore.password"] == "trustme"
    assert {'p"w', "trustme"} <= t.secrets


def test_redact_hides_every_secret(project: Path, prod_env: None) -> None:
    write(project / "profiles.yml", PROFILES)
    t = load_project([project], target="prod").target
    text = f"options: {t.kafka_options} and password s3cr3t-Pa55"
    redacted = t.redact(text)
    assert "s3cr3t-Pa55" not in redacted and "****" in redacted
    assert "svc-shop" not in redacted  # inside the JAAS config, which is a secret as a whole
    assert "s3cr3t-Pa55" not in repr(t)
    assert Target().redact("nothing to hide") == "nothing to hide"


def test_spark_connect_target(project: Path) -> None:
    write(project / "profiles.yml", PROFILES)
    t = load_project([project], target="connect").target
    assert t.spark_remote == "sc://spark:15002" and t.spark_master is None


def test_unknown_target_lists_available(project: Path) -> None:
    write(project / "profiles.yml", PROFILES)
    err = error(paths=[project], target="prd")
    assert "unknown target 'prd'" in err.message
    assert "dev, prod, scram, connect" in (err.hint or "")
    assert "did you mean 'prod'" in (err.hint or "")
    # without a profiles.yml only the local default exists
    (project / "profiles.yml").unlink()
    assert "unknown target 'prod'" in error(paths=[project], target="prod").message


def test_target_from_sqlstream_yml(project: Path) -> None:
    write(project / "profiles.yml", PROFILES)
    (project / "sqlstream.yml").write_text("name: shop\ntarget: scram\n")
    assert load_project([project]).target.name == "scram"
    assert load_project([project], target="dev").target.name == "dev"  # --target wins


def test_unknown_target_key_with_did_you_mean(project: Path) -> None:
    write(
        project / "profiles.yml",
        """
        shop:
          outputs:
            dev:
              bootstrap_server: localhost:9092
        """,
    )
    err = error(paths=[project])
    assert err.message == "unknown key 'bootstrap_server' in target 'dev'"
    assert at(err) == ("profiles.yml", 4, 7)
    assert "did you mean 'bootstrap_servers'" in (err.hint or "")


def test_missing_env_var_in_profile_names_variable_and_line(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "profiles.yml", PROFILES)
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "b:9092")
    monkeypatch.setenv("KAFKA_USER", "u")
    monkeypatch.delenv("KAFKA_PASSWORD", raising=False)
    err = error(paths=[project], target="prod")
    assert "KAFKA_PASSWORD" in err.message
    assert at(err) == ("profiles.yml", 13, 22)
    # only the chosen target is rendered: dev works without the prod variables
    assert load_project([project]).target.name == "dev"


def test_profile_name_and_missing_profile(project: Path) -> None:
    write(project / "profiles.yml", "other:\n  outputs: {dev: {}}\n")
    err = error(paths=[project])
    assert "profile 'shop' not found" in err.message
    (project / "sqlstream.yml").write_text("name: shop\nprofile: other\n")
    assert load_project([project]).target.name == "dev"


def test_profiles_lookup_order(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def profiles(where: Path, servers: str) -> Path:
        write(
            where / "profiles.yml",
            f"shop:\n  outputs:\n    dev: {{bootstrap_servers: '{servers}'}}\n",
        )
        return where

    def servers(**kwargs: object) -> str:
        return load_project([project], **kwargs).target.bootstrap_servers  # type: ignore[arg-type]

    profiles(Path.home() / ".sqlstream", "home:1")
    assert servers() == "home:1"
    profiles(project, "root:1")
    assert servers() == "root:1"
    monkeypatch.setenv("SQLSTREAM_PROFILES_DIR", str(profiles(tmp_path / "envdir", "env:1")))
    assert servers() == "env:1"
    assert servers(profiles_dir=profiles(tmp_path / "argdir", "arg:1")) == "arg:1"
    # a directory given explicitly must hold a profiles.yml
    with pytest.raises(UserError, match="no profiles.yml"):
        load_project([project], profiles_dir=tmp_path / "empty")


@pytest.mark.parametrize(
    "target, message",
    [
        ("dev:\n      sasl_username: u", "sasl_username is set but sasl_password is not"),
        (
            "dev:\n      security_protocol: PLAINTEXT\n"
            "      sasl_username: u\n      sasl_password: p",
            "security_protocol is PLAINTEXT",
        ),
        ("dev:\n      security_protocol: TLS", "unknown security_protocol"),
        ("dev:\n      kafka: {client.id: x}", "not a Spark Kafka client option"),
        ("dev:\n      spark: {master: 'local', remote: 'sc://x'}", "both set"),
        ("dev:\n      spark: {mastr: 'local'}", "unknown key 'mastr'"),
    ],
)
def test_bad_targets(project: Path, target: str, message: str) -> None:
    write(project / "profiles.yml", "shop:\n  outputs:\n    " + target + "\n")
    err = error(paths=[project])
    assert message in err.message
    assert err.location is not None and err.location.path.endswith("profiles.yml")


def test_redaction_hides_whole_values_only(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-character and a common-word password: hidden wherever they stand alone, and the
    text around them untouched (substring replacement printed ``Dou****leType``)."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "broker:9092")
    monkeypatch.setenv("KAFKA_USER", "svc")
    monkeypatch.setenv("KAFKA_PASSWORD", "b")
    profiles = PROFILES.replace(
        "      kafka:\n", "      ssl_truststore_password: admin\n      kafka:\n"
    )
    write(project / "profiles.yml", profiles)
    t = load_project([project], target="prod").target
    jaas = t.kafka_options["kafka.sasl.jaas.config"]
    text = (
        "Project [amount#1: DoubleType], SubqueryAlias orders, "
        "administrator admin_user b2b e.g. b.\n"
        f"Map(kafka.sasl.jaas.config -> {jaas}, kafka.ssl.truststore.password -> admin)\n"
        "login failed: password b, 'admin'"
    )
    assert t.redact(text) == (
        "Project [amount#1: DoubleType], SubqueryAlias orders, "
        "administrator admin_user b2b e.g. ****.\n"
        "Map(kafka.sasl.jaas.config -> ****, kafka.ssl.truststore.password -> ****)\n"
        "login failed: password ****, '****'"
    )
    conn = Connection.from_target(t)
    assert conn.redact(text) == t.redact(text)
    assert conn.secret_options == {"kafka.sasl.jaas.config", "kafka.ssl.truststore.password"}
    for shown in (repr(t), repr(conn)):
        assert 'password="b"' not in shown and "admin'" not in shown
