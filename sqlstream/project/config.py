"""The project a run works on: ``sqlstream.yml``, the chosen target of ``profiles.yml``, the files.

``load_project`` finds the project (or treats a lone ``.sql`` file as a bare project), reads its
settings and the connection settings of one target, and returns plain data. Every mistake in
either YAML file is a ``UserError`` located at the key or value in that file. Secret values
(passwords, the JAAS config) are collected in ``Target.secrets`` so that anything printed can
pass through ``Target.redact``; nothing here logs them.
"""

from __future__ import annotations

import difflib
import functools
import os
import typing as t
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from sqlstream.errors import Diagnostics, Location, UserError
from sqlstream.project import registry as registry_settings
from sqlstream.project import secrets as secret_policy
from sqlstream.project.defaults import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_CHECKPOINT_ROOT,
    DEFAULT_MASTER,
    DEFAULT_TARGET,
)
from sqlstream.project.env import display_path, env_var

__all__ = [
    "DefaultOption",
    "PROFILES_FILE",
    "PROJECT_FILE",
    "Project",
    "Target",
    "discover_files",
    "discover_macro_files",
    "find_project_root",
    "load_project",
]

PROJECT_FILE = "sqlstream.yml"
PROFILES_FILE = "profiles.yml"
PROFILES_DIR_ENV = "SQLSTREAM_PROFILES_DIR"
BARE_NAME = "sqlstream"

# sqlstream.yml keys; the dbt spelling first, as shown in did-you-mean hints.
_PROJECT_KEYS = (
    "name",
    "profile",
    "query-paths",
    "macro-paths",
    "test-paths",
    "vars",
    "defaults",
    "target",
    "query_paths",
    "macro_paths",
    "test_paths",
)
_DEFAULTS_KEYS = ("source", "sink")
"""``defaults:`` in sqlstream.yml: option values for every source and every sink."""
_PROFILE_KEYS = ("target", "outputs")
_SPARK_KEYS = ("master", "remote", "conf")

# A target's Kafka settings that map one to one onto a Spark Kafka client option.
_KAFKA_SETTINGS: dict[str, str] = {
    "security_protocol": "kafka.security.protocol",
    "sasl_mechanism": "kafka.sasl.mechanism",
    "ssl_truststore_location": "kafka.ssl.truststore.location",
    "ssl_truststore_password": "kafka.ssl.truststore.password",
    "ssl_truststore_type": "kafka.ssl.truststore.type",
    "ssl_keystore_location": "kafka.ssl.keystore.location",
    "ssl_keystore_password": "kafka.ssl.keystore.password",
    "ssl_keystore_type": "kafka.ssl.keystore.type",
    "ssl_key_password": "kafka.ssl.key.password",
}
_TARGET_KEYS = (
    "bootstrap_servers",
    *_KAFKA_SETTINGS,
    "sasl_username",
    "sasl_password",
    "kafka",
    "spark",
    "checkpoint_root",
    "schema_registry",
    "jdbc",
)
_JDBC_KEYS = ("user", "password")
_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


@dataclass(repr=False)
class Target:
    """The connection settings of one target of a profile (``dev``, ``prod``, ...)."""

    name: str = DEFAULT_TARGET
    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    kafka_options: dict[str, str] = field(default_factory=dict)
    """Spark ``kafka.*`` client options (security settings), given to every source and sink."""
    spark_master: str | None = DEFAULT_MASTER
    spark_remote: str | None = None
    """Spark Connect URL, ``sc://...``; when set, ``spark_master`` is None."""
    spark_conf: dict[str, str] = field(default_factory=dict)
    checkpoint_root: str = DEFAULT_CHECKPOINT_ROOT
    """As written in the profile; relative to the project root (see ``Project.checkpoint_dir``)."""
    secrets: frozenset[str] = frozenset()
    """Every secret value of the target, for ``redact``."""
    schema_registry: registry_settings.RegistrySettings | None = None
    """``schema_registry:``, for the ``*-confluent`` formats."""
    jdbc_options: dict[str, str] = field(default_factory=dict)
    """``jdbc: {user, password}``: the credentials of the project's JDBC tables."""

    def redact(self, text: str) -> str:
        """``text`` with every secret value of this target, as a whole token, replaced by
        ``****``."""
        return secret_policy.redact(text, self.secrets)

    def __repr__(self) -> str:
        # A Target printed by mistake (a debugger, a log line) must not show a password.
        body = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name != "secrets"
        )
        return self.redact(f"Target({body})")


@dataclass(frozen=True)
class DefaultOption:
    """One option of ``defaults.source`` or ``defaults.sink``, and where sqlstream.yml sets it.

    The project layer knows only that it is a single value; which options a source or a sink
    takes is the compiler's table (compiler/options.py), so the compiler checks the key and the
    value and reports a mistake here, at ``key_at`` or ``value_at``.
    """

    value: str
    key_at: Location | None
    value_at: Location | None


@dataclass
class Project:
    """A project as ``sqlstream.yml`` and the chosen target describe it."""

    name: str
    root: Path
    """The directory holding sqlstream.yml (a bare file's directory); absolute."""
    query_paths: list[Path] = field(default_factory=list)
    macro_paths: list[Path] = field(default_factory=list)
    test_paths: list[Path] = field(default_factory=list)
    """Where ``sqlstream test`` looks for ``*.yml`` test files (default ``tests``)."""
    vars: dict[str, t.Any] = field(default_factory=dict)
    target: Target = field(default_factory=Target)
    defaults: dict[str, dict[str, DefaultOption]] = field(default_factory=dict)
    """``defaults.source`` and ``defaults.sink`` of sqlstream.yml, by option name."""
    is_bare: bool = False
    config_path: Path | None = None
    profile: str = BARE_NAME
    profiles_path: Path | None = None
    """The profiles.yml the target came from; None when the defaults were used."""

    @property
    def checkpoint_dir(self) -> Path:
        """The target's checkpoint root, resolved against the project root."""
        return self.root / self.target.checkpoint_root


# --------------------------------------------------------------------------------------------
# YAML with positions


@dataclass
class YamlDoc:
    """A YAML file: its data and its node tree, so that every key and value has a position."""

    path: Path
    shown: str
    lines: list[str]
    node: yaml.Node | None
    data: t.Any

    def loc(self, node: yaml.Node | None, length: int | None = None) -> Location | None:
        if node is None:
            return Location(self.shown, 1, 1, self.lines[0] if self.lines else None)
        mark = node.start_mark
        src = self.lines[mark.line] if mark.line < len(self.lines) else None
        if length is None:
            end = node.end_mark
            length = end.column - mark.column if end.line == mark.line else 1
        return Location(self.shown, mark.line + 1, mark.column + 1, src, max(1, length))


def read_yaml(path: Path) -> YamlDoc:
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise UserError(f"cannot read {shown}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UserError(f"{shown} is not valid UTF-8", hint="save the file as UTF-8") from None
    lines = text.splitlines()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = None
        if mark is not None:
            src = lines[mark.line] if mark.line < len(lines) else None
            loc = Location(shown, mark.line + 1, mark.column + 1, src)
        problem = e.problem or e.context or "invalid YAML"
        raise UserError(f"invalid YAML: {problem}", loc, hint=_yaml_hint(problem)) from None
    except yaml.YAMLError as e:
        raise UserError(f"invalid YAML in {shown}: {e}") from None
    finally:
        loader.dispose()
    return YamlDoc(path, shown, lines, node, data)


QUOTE_HINT = (
    "quote a value that starts with '{{' or contains ': ', e.g. key: \"{{ env_var('X') }}\""
)
YAML_HINTS: tuple[tuple[str, str], ...] = (
    ("'\\t'", "YAML indents with spaces, not tabs: replace the tab with spaces"),
    ("{", QUOTE_HINT),
    ("unhashable key", QUOTE_HINT),  # an unquoted {{ ... }}: YAML reads a mapping as a key
    ("found character", QUOTE_HINT),
    ("expected <block end>", QUOTE_HINT),
)
"""A part of PyYAML's problem -> the hint shown with it, the first that matches."""


def _yaml_hint(problem: str) -> str:
    return next(
        (hint for part, hint in YAML_HINTS if part in problem),
        "check the indentation and the quoting on this line",
    )


def yaml_entry(node: yaml.Node | None, key: str) -> tuple[yaml.Node | None, yaml.Node | None]:
    """The key node and value node of ``key`` in a mapping node (None, None when not found)."""
    if isinstance(node, yaml.MappingNode):
        for knode, vnode in node.value:
            if isinstance(knode, yaml.ScalarNode) and knode.value == key:
                return knode, vnode
    return None, None


def _value_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    return yaml_entry(node, key)[1] or node


def _check_mapping(doc: YamlDoc, value: t.Any, node: yaml.Node | None, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{what} must be a mapping of keys to values", doc.loc(node))
    return value


def check_keys(
    doc: YamlDoc, data: dict, node: yaml.Node | None, allowed: t.Sequence[str], what: str
) -> None:
    """Unknown or repeated keys are mistakes: report them at the key, with a did-you-mean."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, yaml.Node] = {}
        for knode, _ in node.value:
            if isinstance(knode, yaml.ScalarNode) and knode.value != "<<":
                if knode.value in seen:
                    line = seen[knode.value].start_mark.line + 1
                    raise UserError(
                        f"key '{knode.value}' appears twice in {what}",
                        doc.loc(knode),
                        hint=f"it is first set on line {line}; keep one",
                    )
                seen[knode.value] = knode
    for key in data:
        if key in allowed:
            continue
        knode = yaml_entry(node, str(key))[0] or node
        close = difflib.get_close_matches(str(key), list(allowed), n=1, cutoff=0.6)
        hint = (
            f"did you mean '{close[0]}'?"
            if close
            else "valid keys: " + ", ".join(k for k in allowed)
        )
        raise UserError(f"unknown key '{key}' in {what}", doc.loc(knode), hint)


def _as_str(doc: YamlDoc, value: t.Any, node: yaml.Node | None, what: str) -> str:
    """A scalar setting as Spark and Kafka want it (``true``, not ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise UserError(f"{what} must be a single value", doc.loc(node))


# --------------------------------------------------------------------------------------------
# Jinja in YAML values


@functools.cache
def _config_env() -> t.Any:
    """The environment of Jinja in settings, made (and jinja2 imported) for the first setting
    that has a ``{``: most projects have none, and importing jinja2 is about a sixth of a cold
    ``validate``."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    env.globals["env_var"] = env_var
    return env


def _render_values(doc: YamlDoc, value: t.Any, node: yaml.Node | None) -> t.Any:
    """Render every string in ``value`` with ``env_var()``; errors point at the value."""
    if isinstance(value, str):
        if "{" not in value:
            return value
        import jinja2

        try:
            return _config_env().from_string(value).render()
        except UserError as e:
            raise UserError(e.message, doc.loc(node), e.hint) from None
        except jinja2.TemplateSyntaxError as e:
            raise UserError(
                f"Jinja syntax error: {e.message}",
                doc.loc(node),
                hint="Jinja in a setting looks like \"{{ env_var('NAME') }}\" (quoted)",
            ) from None
        except jinja2.UndefinedError as e:
            raise UserError(
                f"undefined in setting: {e.message}",
                doc.loc(node),
                hint="only env_var('NAME', default) is available in settings",
            ) from None
        except Exception as e:
            raise UserError(
                f"error while rendering a setting: {type(e).__name__}: {e}", doc.loc(node)
            ) from e
    if isinstance(value, dict):
        return _render_all(doc, value, node)
    if isinstance(value, list):
        items = node.value if isinstance(node, yaml.SequenceNode) else []
        return [
            _render_values(doc, v, items[i] if i < len(items) else node)
            for i, v in enumerate(value)
        ]
    return value


def _render_all(doc: YamlDoc, value: dict, node: yaml.Node | None) -> dict:
    """Every setting of a mapping rendered; every failure (each missing environment variable of
    a target, say) reported in one go rather than one per run."""
    out: dict = {}
    diags = Diagnostics()
    for k, v in value.items():
        with diags.collecting():
            out[k] = _render_values(doc, v, _value_node(node, str(k)))
    if len(diags.errors) == 1:
        raise diags.errors[0]
    diags.raise_if_any()
    return out


# --------------------------------------------------------------------------------------------
# Finding things


def find_project_root(paths: t.Sequence[Path] = ()) -> Path | None:
    """The nearest directory holding sqlstream.yml, walking up from the first path (or cwd)."""
    start = Path(paths[0]) if paths else Path.cwd()
    start = Path(os.path.abspath(start))
    if start.is_file() or not start.exists():
        start = start.parent
    for directory in (start, *start.parents):
        if (directory / PROJECT_FILE).is_file():
            return directory
    return None


def discover_files(project: Project, paths: t.Sequence[str | Path] = ()) -> list[Path]:
    """The query files of a run: under each given path, else under the project's query paths.

    A directory is searched recursively (hidden directories skipped), each in sorted order; a
    file given explicitly is taken as is. Every file appears once.
    """
    found: list[Path] = []
    if paths:
        for p in paths:
            path = Path(p)
            if not path.exists():
                raise UserError(
                    f"no such file or directory: {p}",
                    hint="pass .sql files or directories that hold them",
                )
            if path.is_file():
                if path.suffix != ".sql":
                    raise UserError(f"{p} is not a .sql file", hint="query files end in .sql")
                found.append(Path(os.path.abspath(path)))
            else:
                found.extend(_sql_files(path))
    else:
        for directory in project.query_paths:
            if directory.is_dir():
                found.extend(_sql_files(directory))
    return list(dict.fromkeys(found))


def discover_macro_files(project: Project) -> list[Path]:
    """Every ``.sql`` file under the project's macro paths, in sorted order."""
    files: list[Path] = []
    for directory in project.macro_paths:
        if directory.is_dir():
            files.extend(_sql_files(directory))
    return list(dict.fromkeys(files))


def _sql_files(directory: Path) -> list[Path]:
    directory = Path(os.path.abspath(directory))
    return sorted(
        p
        for p in directory.rglob("*.sql")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def _profiles_file(profiles_dir: Path | None, root: Path) -> Path | None:
    """profiles.yml: ``profiles_dir``, else $SQLSTREAM_PROFILES_DIR, else the root, else ~."""
    explicit = profiles_dir or os.environ.get(PROFILES_DIR_ENV) or None
    if explicit:
        path = Path(explicit).expanduser() / PROFILES_FILE
        if not path.is_file():
            source = "--profiles-dir" if profiles_dir else f"${PROFILES_DIR_ENV}"
            raise UserError(
                f"no {PROFILES_FILE} in {display_path(Path(explicit))} (given by {source})",
                hint=f"create {PROFILES_FILE} there or point {source} at the directory holding it",
            )
        return path
    for directory in (root, Path.home() / ".sqlstream"):
        if (directory / PROFILES_FILE).is_file():
            return directory / PROFILES_FILE
    return None


# --------------------------------------------------------------------------------------------
# Loading


def _missing_hint(path: Path) -> str:
    """A bare word is likely a query's or a stream's name (``sqlstream run spend_1``)."""
    if path.suffix or len(path.parts) > 1:
        return "a path is read from the current folder; `sqlstream ls` lists the project's files"
    return f"to pick a query or a stream by its name: --select {path}"


def load_project(
    paths: t.Sequence[str | Path] = (),
    target: str | None = None,
    vars_override: dict | str | None = None,
    profiles_dir: Path | None = None,
) -> Project:
    """Find and read the project of ``paths`` (or of the cwd) and the target to run against."""
    given = [Path(p) for p in paths]
    if given and not given[0].exists():
        raise UserError(f"no such file or directory: {paths[0]}", None, _missing_hint(given[0]))
    root = find_project_root(given)
    overrides = _parse_vars_override(vars_override)

    if root is None:
        if not given:
            raise UserError(
                f"no {PROJECT_FILE} found in this directory or any parent",
                hint="run `sqlstream init DIR` to create a project, or pass a .sql file",
            )
        first = Path(os.path.abspath(given[0]))
        bare_root = first if first.is_dir() else first.parent
        macros = bare_root / "macros"
        project = Project(
            name=BARE_NAME,
            root=bare_root,
            query_paths=[],
            macro_paths=[macros] if macros.is_dir() else [],
            vars=dict(overrides),
            is_bare=True,
            profile=BARE_NAME,
        )
        project.target, project.profiles_path = _load_target(
            project, target, None, profiles_dir, bare=True
        )
        return project

    config_path = root / PROJECT_FILE
    doc = read_yaml(config_path)
    data = _check_mapping(doc, doc.data, doc.node, PROJECT_FILE)
    check_keys(doc, data, doc.node, _PROJECT_KEYS, PROJECT_FILE)

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        where = doc.loc(yaml_entry(doc.node, "name")[1] or doc.node)
        raise UserError(
            f"{PROJECT_FILE} needs a project name" if name is None else "name must be a string",
            where,
            hint="add `name: my_project` at the top of the file",
        )
    profile = data.get("profile", name)
    if not isinstance(profile, str):
        raise UserError("profile must be a string", doc.loc(_value_node(doc.node, "profile")))
    default_target = data.get("target")
    if default_target is not None and not isinstance(default_target, str):
        raise UserError("target must be a string", doc.loc(_value_node(doc.node, "target")))

    query_paths = _paths_setting(doc, data, root, "query-paths", "query_paths", "queries")
    macro_paths = _paths_setting(doc, data, root, "macro-paths", "macro_paths", "macros")
    test_paths = _paths_setting(doc, data, root, "test-paths", "test_paths", "tests")

    vars_node = _value_node(doc.node, "vars")
    project_vars = _check_mapping(doc, data.get("vars"), vars_node, "vars")
    project_vars = _render_values(doc, project_vars, vars_node)
    project_vars.update(overrides)
    defaults = _defaults(doc, _value_node(doc.node, "defaults"), data.get("defaults"))

    project = Project(
        name=name,
        root=root,
        query_paths=query_paths,
        macro_paths=macro_paths,
        test_paths=test_paths,
        vars=project_vars,
        defaults=defaults,
        is_bare=False,
        config_path=config_path,
        profile=profile,
    )
    project.target, project.profiles_path = _load_target(
        project, target, default_target, profiles_dir, bare=False
    )
    return project


def _defaults(
    doc: YamlDoc, node: yaml.Node | None, value: t.Any
) -> dict[str, dict[str, DefaultOption]]:
    """``defaults:``: ``source`` and ``sink``, each a mapping of option names to single values."""
    data = _check_mapping(doc, value, node, "defaults")
    check_keys(doc, data, node, _DEFAULTS_KEYS, "defaults")
    result: dict[str, dict[str, DefaultOption]] = {}
    for kind, options in data.items():
        kind_node = _value_node(node, kind)
        what = f"defaults.{kind}"
        options = _check_mapping(doc, options, kind_node, what)
        check_keys(doc, options, kind_node, [str(k) for k in options], what)  # repeated keys
        result[kind] = {
            str(key): DefaultOption(
                _as_str(doc, option, _value_node(kind_node, str(key)), f"{what}.{key}"),
                doc.loc(yaml_entry(kind_node, str(key))[0] or kind_node),
                doc.loc(_value_node(kind_node, str(key))),
            )
            for key, option in options.items()
        }
    return result


def _parse_vars_override(value: dict | str | None) -> dict[str, t.Any]:
    hint = "pass a YAML mapping, e.g. --vars '{topic: orders, partitions: 4}'"
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if not value.strip():
        return {}
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise UserError(f"--vars is not valid YAML: {problem}", hint=hint) from None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise UserError("--vars must be a mapping of names to values", hint=hint)
    return parsed


def _paths_setting(
    doc: YamlDoc, data: dict, root: Path, dashed: str, underscored: str, default: str
) -> list[Path]:
    if dashed in data and underscored in data:
        knode = yaml_entry(doc.node, underscored)[0]
        raise UserError(
            f"both {dashed} and {underscored} are set", doc.loc(knode), hint=f"keep {dashed}"
        )
    key = dashed if dashed in data else underscored
    if key not in data:
        return [root / default]
    value = data[key]
    node = _value_node(doc.node, key)
    if isinstance(value, str):
        value, items = [value], [node]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = list(node.value) if isinstance(node, yaml.SequenceNode) else [node] * len(value)
    else:
        raise UserError(
            f"{key} must be a list of directories",
            doc.loc(node),
            hint=f'e.g. {dashed}: ["{default}"]',
        )
    result = []
    for entry, item_node in zip(value, items):
        path = root / entry
        if not path.is_dir():
            raise UserError(
                f"{key}: no directory '{entry}' in the project",
                doc.loc(item_node),
                hint="paths are relative to the directory holding sqlstream.yml",
            )
        result.append(path)
    return result


def _load_target(
    project: Project,
    requested: str | None,
    project_default: str | None,
    profiles_dir: Path | None,
    bare: bool,
) -> tuple[Target, Path | None]:
    path = _profiles_file(profiles_dir, project.root)
    if path is None:
        return _default_target(requested or project_default), None
    doc = read_yaml(path)
    profiles = _check_mapping(doc, doc.data, doc.node, PROFILES_FILE)
    if project.profile not in profiles:
        if bare:
            return _default_target(requested), path
        names = [str(k) for k in profiles]
        close = difflib.get_close_matches(project.profile, names, n=1)
        raise UserError(
            f"profile '{project.profile}' not found in {doc.shown}",
            doc.loc(doc.node),
            hint=(f"did you mean '{close[0]}'? " if close else "")
            + f"add a top-level '{project.profile}:' with its outputs"
            + (f"; profiles there: {', '.join(names)}" if names else ""),
        )
    knode, pnode = yaml_entry(doc.node, project.profile)
    profile = _check_mapping(doc, profiles[project.profile], pnode, f"profile '{project.profile}'")
    check_keys(doc, profile, pnode, _PROFILE_KEYS, f"profile '{project.profile}'")
    outputs_node = _value_node(pnode, "outputs")
    outputs = _check_mapping(doc, profile.get("outputs"), outputs_node, "outputs")
    if not outputs:
        raise UserError(
            f"profile '{project.profile}' has no outputs",
            doc.loc(knode),
            hint="add `outputs:` with one entry per target, e.g. `dev:`",
        )
    name = requested or project_default
    if name is None and "target" in profile:
        tnode = _value_node(pnode, "target")
        name = _as_str(doc, _render_values(doc, profile["target"], tnode), tnode, "target")
    if name is None:
        name = (
            DEFAULT_TARGET
            if DEFAULT_TARGET in outputs or len(outputs) != 1
            else next(iter(outputs))
        )
    if name not in outputs:
        available = ", ".join(str(k) for k in outputs)
        close = difflib.get_close_matches(name, [str(k) for k in outputs], n=1)
        raise UserError(
            f"unknown target '{name}' for profile '{project.profile}'",
            doc.loc(yaml_entry(outputs_node, name)[0] or outputs_node),
            hint=(f"did you mean '{close[0]}'? " if close else "")
            + f"available targets: {available}",
        )
    tnode = _value_node(outputs_node, name)
    raw = _check_mapping(doc, outputs[name], tnode, f"target '{name}'")
    check_keys(doc, raw, tnode, _TARGET_KEYS, f"target '{name}'")
    settings = _render_values(doc, raw, tnode)
    return _build_target(doc, name, settings, tnode), path


def _default_target(name: str | None) -> Target:
    if name is not None and name != DEFAULT_TARGET:
        raise UserError(
            f"unknown target '{name}': no {PROFILES_FILE} defines it",
            hint=f"create {PROFILES_FILE} in the project (or ~/.sqlstream/) with an output "
            f"'{name}', or drop --target to use the local defaults",
        )
    return Target(name=DEFAULT_TARGET)


def _build_target(doc: YamlDoc, name: str, s: dict[str, t.Any], node: yaml.Node | None) -> Target:
    """A target from its rendered settings, each part checked in turn (the first mistake stops)."""
    ts = _TargetSettings(doc, s, node)
    secrets: set[str] = set()
    options, protocol = _kafka_settings(ts, secrets)
    _sasl_options(ts, options, protocol, secrets)
    _extra_kafka_options(ts, options, secrets)

    bootstrap = ts.setting("bootstrap_servers")
    if bootstrap is None:
        bootstrap = DEFAULT_BOOTSTRAP
    elif not bootstrap.strip():
        raise UserError(
            "bootstrap_servers is empty",
            _loc(doc, ts.value_node("bootstrap_servers")),
            hint="host:port of one or more brokers, comma-separated",
        )

    master, remote, conf = _spark_settings(ts, name, secrets)

    checkpoint_root = ts.setting("checkpoint_root") or DEFAULT_CHECKPOINT_ROOT
    schema_registry = _schema_registry(ts, name, secrets)
    jdbc = _jdbc_settings(ts, secrets)

    return Target(
        name=name,
        bootstrap_servers=bootstrap,
        kafka_options=options,
        spark_master=master,
        spark_remote=remote,
        spark_conf=conf,
        checkpoint_root=checkpoint_root,
        secrets=frozenset(x for x in secrets if x),
        schema_registry=schema_registry,
        jdbc_options=jdbc,
    )


@dataclass(frozen=True)
class _TargetSettings:
    """A target's rendered settings with its YAML node, so that each mistake is located."""

    doc: YamlDoc
    values: dict[str, t.Any]
    node: yaml.Node | None

    def value_node(self, key: str) -> yaml.Node | None:
        return _value_node(self.node, key)

    def setting(self, key: str) -> str | None:
        if self.values.get(key) is None:
            return None
        return _as_str(self.doc, self.values[key], self.value_node(key), key)


def _kafka_settings(ts: _TargetSettings, secrets: set[str]) -> tuple[dict[str, str], str | None]:
    """The Kafka client options of the named settings, and the security protocol if set."""
    options: dict[str, str] = {}
    for key, option in _KAFKA_SETTINGS.items():
        value = ts.setting(key)
        if value is None:
            continue
        if key in ("security_protocol", "sasl_mechanism"):
            value = value.upper()
        if secret_policy.is_secret_name(option):
            secrets.add(value)
        options[option] = value

    protocol = options.get("kafka.security.protocol")
    if protocol is not None and protocol not in _SECURITY_PROTOCOLS:
        raise UserError(
            f"unknown security_protocol '{protocol}'",
            _loc(ts.doc, ts.value_node("security_protocol")),
            hint="one of " + ", ".join(_SECURITY_PROTOCOLS),
        )
    return options, protocol


def _sasl_options(
    ts: _TargetSettings, options: dict[str, str], protocol: str | None, secrets: set[str]
) -> None:
    """sasl_username and sasl_password, both or neither; both become a JAAS config."""
    username, password = ts.setting("sasl_username"), ts.setting("sasl_password")
    if password:
        secrets.add(password)
    if (username is None) != (password is None):
        missing, present = (
            ("sasl_password", "sasl_username")
            if password is None
            else ("sasl_username", "sasl_password")
        )
        raise UserError(
            f"{present} is set but {missing} is not",
            _loc(ts.doc, yaml_entry(ts.node, present)[0]),
            hint=f"set both, e.g. {missing}: \"{{{{ env_var('KAFKA_{missing[5:].upper()}') }}}}\"",
        )
    if username is not None and password is not None:
        _jaas_options(ts, options, protocol, username, password, secrets)


def _jaas_options(
    ts: _TargetSettings,
    options: dict[str, str],
    protocol: str | None,
    username: str,
    password: str,
    secrets: set[str],
) -> None:
    """The login module of the SASL mechanism, with the credentials; SASL_SSL unless said."""
    mechanism = options.setdefault("kafka.sasl.mechanism", "PLAIN")
    module = _LOGIN_MODULES.get(mechanism)
    if module is None:
        raise UserError(
            f"sasl_username/sasl_password do not work with sasl_mechanism {mechanism}",
            _loc(ts.doc, ts.value_node("sasl_mechanism")),
            hint="use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, or give kafka.sasl.jaas.config "
            "under kafka:",
        )
    if protocol is None:
        options["kafka.security.protocol"] = "SASL_SSL"
    elif not protocol.startswith("SASL_"):
        raise UserError(
            f"SASL credentials are set but security_protocol is {protocol}",
            _loc(ts.doc, ts.value_node("security_protocol")),
            hint="use SASL_SSL (or SASL_PLAINTEXT for a local broker)",
        )
    jaas = (
        f'{module} required username="{_jaas_quote(username)}" password="{_jaas_quote(password)}";'
    )
    options["kafka.sasl.jaas.config"] = jaas
    secrets.add(jaas)


def _extra_kafka_options(ts: _TargetSettings, options: dict[str, str], secrets: set[str]) -> None:
    """Client options given as they are under ``kafka:``; none may repeat a named setting."""
    doc = ts.doc
    kafka_node = ts.value_node("kafka")
    extra = _check_mapping(doc, ts.values.get("kafka"), kafka_node, "kafka")
    for key, value in extra.items():
        knode = yaml_entry(kafka_node, str(key))[0] or kafka_node
        if not str(key).startswith("kafka."):
            raise UserError(
                f"'{key}' under kafka: is not a Spark Kafka client option",
                _loc(doc, knode),
                hint=f"client options start with 'kafka.', e.g. 'kafka.{key}'",
            )
        if key == "kafka.bootstrap.servers":
            raise UserError(
                "set the brokers with bootstrap_servers, not under kafka:",
                _loc(doc, knode),
                hint="move the value to `bootstrap_servers:`",
            )
        if key in options:
            setting_name = next(
                (k for k, o in _KAFKA_SETTINGS.items() if o == key), "sasl_username/sasl_password"
            )
            raise UserError(
                f"{key} is set twice: under kafka: and by {setting_name}",
                _loc(doc, knode),
                hint="keep one of them",
            )
        text = _as_str(doc, value, _value_node(kafka_node, str(key)), str(key))
        if secret_policy.is_secret_name(str(key)):
            secrets.add(text)
        options[str(key)] = text


def _schema_registry(
    ts: _TargetSettings, name: str, secrets: set[str]
) -> registry_settings.RegistrySettings | None:
    """``schema_registry:`` with its url; username and password both or neither."""
    doc, node = ts.doc, ts.value_node("schema_registry")
    if ts.values.get("schema_registry") is None:
        return None
    raw = _check_mapping(doc, ts.values["schema_registry"], node, "schema_registry")
    check_keys(doc, raw, node, registry_settings.KEYS, f"schema_registry of target '{name}'")
    values = {k: _as_str(doc, v, _value_node(node, k), k) for k, v in raw.items() if v is not None}
    if not values.get("url", "").strip():
        raise UserError(
            f"schema_registry of target '{name}' has no url",
            _loc(doc, yaml_entry(ts.node, "schema_registry")[0]),
            hint="e.g. url: http://localhost:8081 (`sqlstream registry up` prints one)",
        )
    if ("username" in values) != ("password" in values):
        present = "username" if "username" in values else "password"
        raise UserError(
            f"schema_registry {present} is set but not the other",
            _loc(doc, yaml_entry(node, present)[0]),
            hint="set both, e.g. password: \"{{ env_var('REGISTRY_PASSWORD') }}\"",
        )
    auto = values.pop("auto_register", "false").lower()
    if auto not in ("true", "false"):
        raise UserError(
            f"schema_registry auto_register must be true or false, not '{auto}'",
            _loc(doc, _value_node(node, "auto_register")),
        )
    settings = registry_settings.from_mapping(values, auto_register=auto == "true")
    secrets.update(settings.secret_values())
    return settings


def _jdbc_settings(ts: _TargetSettings, secrets: set[str]) -> dict[str, str]:
    """``jdbc: {user: ..., password: ...}``: the password is a secret, like a SASL password."""
    doc, node = ts.doc, ts.value_node("jdbc")
    raw = _check_mapping(doc, ts.values.get("jdbc"), node, "jdbc")
    check_keys(doc, raw, node, _JDBC_KEYS, "jdbc settings")
    settings = {str(k): _as_str(doc, v, _value_node(node, str(k)), str(k)) for k, v in raw.items()}
    if settings.get("password"):
        secrets.add(settings["password"])
    return settings


def _spark_settings(
    ts: _TargetSettings, name: str, secrets: set[str]
) -> tuple[str | None, str | None, dict[str, str]]:
    """spark: master or remote (local by default), and conf."""
    doc = ts.doc
    spark_node = ts.value_node("spark")
    spark = _check_mapping(doc, ts.values.get("spark"), spark_node, "spark")
    check_keys(doc, spark, spark_node, _SPARK_KEYS, f"spark settings of target '{name}'")
    master = (
        _as_str(doc, spark["master"], _value_node(spark_node, "master"), "master")
        if spark.get("master") is not None
        else None
    )
    remote = (
        _as_str(doc, spark["remote"], _value_node(spark_node, "remote"), "remote")
        if spark.get("remote") is not None
        else None
    )
    if master and remote:
        raise UserError(
            "spark master and remote are both set",
            _loc(doc, yaml_entry(spark_node, "remote")[0]),
            hint="master runs Spark here (e.g. local[*]); remote is a Spark Connect server "
            "(sc://host:15002); keep one",
        )
    if remote is not None and not remote.startswith("sc://"):
        raise UserError(
            "spark remote must be a Spark Connect URL",
            _loc(doc, _value_node(spark_node, "remote")),
            hint="e.g. sc://localhost:15002",
        )
    if remote is not None:
        # Spark Connect URLs may carry a bearer token: sc://host:443/;token=...
        secrets.update(secret_policy.remote_secrets(remote))
    if master is None and remote is None:
        master = DEFAULT_MASTER
    return master, remote, _spark_conf(doc, spark, spark_node, secrets)


def _spark_conf(
    doc: YamlDoc, spark: dict, spark_node: yaml.Node | None, secrets: set[str]
) -> dict[str, str]:
    conf_node = _value_node(spark_node, "conf")
    conf_raw = _check_mapping(doc, spark.get("conf"), conf_node, "spark conf")
    conf: dict[str, str] = {}
    for key, value in conf_raw.items():
        text = _as_str(doc, value, _value_node(conf_node, str(key)), str(key))
        if secret_policy.is_secret_name(str(key)):
            secrets.add(text)
        conf[str(key)] = text
    return conf


def _loc(doc: YamlDoc, node: yaml.Node | None) -> Location | None:
    return doc.loc(node)


def _jaas_quote(value: str) -> str:
    """A value inside double quotes of a JAAS config (Kafka reads it with backslash escapes)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
