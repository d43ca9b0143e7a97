"""Jinja rendering: globals, macros, errors located in the file the user wrote, the line map."""

from __future__ import annotations

import os
import time
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlstream.compiler.render import MAX_FILE_BYTES, make_environment, render_file, render_text
from sqlstream.errors import UserError

HANG = 20.0
"""Seconds after which a render counts as hung (the quadratic cases took 30 s to minutes); the
speed itself is measured by bench/compile_speed.py, not asserted."""


def render(text: str, vars: dict | None = None, macros: list[Path] = ()) -> str:  # type: ignore[assignment]
    return render_text(text, "q.sql", make_environment(vars or {}, macros)).rendered


def error_of(text: str, vars: dict | None = None, macros: list[Path] = ()) -> UserError:  # type: ignore[assignment]
    with pytest.raises(UserError) as info:
        render_text(text, "q.sql", make_environment(vars or {}, macros))
    return info.value


def where(err: UserError) -> str:
    assert err.location is not None
    return str(err.location)


@pytest.fixture
def macro_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "macros").mkdir()
    return tmp_path / "macros"


# --- globals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, vars, expected",
    [
        ("FROM {{ var('topic', 'orders') }}", {}, "FROM orders"),
        ("FROM {{ var('topic', 'orders') }}", {"topic": "payments"}, "FROM payments"),
        ("FROM {{ var('topic') }}", {"topic": "payments"}, "FROM payments"),
        ("LIMIT {{ var('n') * 2 }}", {"n": 21}, "LIMIT 42"),
        ("{{ var('cfg').topic }}", {"cfg": {"topic": "t"}}, "t"),
        ("SELECT 1\n", {}, "SELECT 1\n"),
    ],
)
def test_var(text: str, vars: dict, expected: str) -> None:
    assert render(text, vars) == expected


def test_missing_var_is_located_at_the_call() -> None:
    err = error_of("SELECT *\nFROM {{ var('topik') }}\n", {"topic": "x"})
    assert err.message == "undefined variable 'topik'"
    assert where(err) == "q.sql:2:9"
    assert err.location and err.location.source_line == "FROM {{ var('topik') }}"
    assert "vars:" in (err.hint or "") and "--vars" in (err.hint or "")
    assert "did you mean 'topic'" in (err.hint or "")


def test_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQLSTREAM_TEST_TOPIC", "orders")
    monkeypatch.delenv("SQLSTREAM_TEST_MISSING", raising=False)
    assert render("FROM {{ env_var('SQLSTREAM_TEST_TOPIC') }}") == "FROM orders"
    assert render("FROM {{ env_var('SQLSTREAM_TEST_MISSING', 'x') }}") == "FROM x"
    err = error_of("SELECT 1\n\nFROM {{ env_var('SQLSTREAM_TEST_MISSING') }}")
    assert "SQLSTREAM_TEST_MISSING" in err.message
    assert where(err) == "q.sql:3:9"
    assert "export SQLSTREAM_TEST_MISSING" in (err.hint or "")


def test_no_jinja_renders_to_itself_with_identity_map() -> None:
    text = "SELECT a,\n  b\nFROM t WHERE j = '{\"a\": 1}'\n"
    sf = render_text(text, "q.sql", make_environment({}, []))
    assert sf.rendered == text
    assert sf.line_map[:3] == [1, 2, 3]


def test_sandbox_refuses_unsafe_access() -> None:
    err = error_of("SELECT 1\n{{ ''.__class__.__mro__ }}")
    assert "unsafe" in err.message
    assert where(err) == "q.sql:2:1"


# --- macros ------------------------------------------------------------------------------------


def test_macros_from_macro_files(macro_dir: Path) -> None:
    (macro_dir / "cols.sql").write_text(
        "{% macro cols(p) %}{{ p }}.a, {{ p }}.b{% endmacro %}\n"
        "{% macro cents(c) %}CAST({{ c }} * 100 AS BIGINT){% endmacro %}\n"
    )
    # A macro may call a macro of a file loaded before or after it.
    (macro_dir / "a_uses_b.sql").write_text("{% macro both() %}{{ cols('x') }}{% endmacro %}")
    env = make_environment({}, sorted(macro_dir.glob("*.sql")))
    sf = render_text("SELECT {{ cols('o') }}, {{ cents('amount') }}, {{ both() }}", "q.sql", env)
    assert sf.rendered == "SELECT o.a, o.b, CAST(amount * 100 AS BIGINT), x.a, x.b"


def test_macro_call_block(macro_dir: Path) -> None:
    (macro_dir / "m.sql").write_text("{% macro wrap() %}({{ caller() }}){% endmacro %}")
    env = make_environment({}, [macro_dir / "m.sql"])
    assert render_text("{% call wrap() %}x{% endcall %}", "q.sql", env).rendered == "(x)"


def test_syntax_error_in_macro_file_is_located_there(macro_dir: Path) -> None:
    (macro_dir / "bad.sql").write_text(
        "-- helpers\n\n{% macro m() %}\n  {{ 1 + }}\n{% endmacro %}\n"
    )
    with pytest.raises(UserError) as info:
        make_environment({}, [macro_dir / "bad.sql"])
    assert where(info.value) == str(Path("macros", "bad.sql")) + ":4:3"


def test_error_inside_a_macro_is_located_in_the_macro_file(macro_dir: Path) -> None:
    (macro_dir / "m.sql").write_text(
        "{% macro topic() %}\n{{ var('prefix') }}.orders\n{% endmacro %}\n"
        "{% macro boom() %}{{ 1 / 0 }}{% endmacro %}\n"
    )
    env = make_environment({}, [macro_dir / "m.sql"])
    with pytest.raises(UserError) as info:
        render_text("SELECT *\nFROM {{ topic() }}", "q.sql", env)
    err = info.value
    assert err.message == "undefined variable 'prefix'"
    assert where(err) == str(Path("macros", "m.sql")) + ":2:4"
    assert "called from q.sql:2" in (err.hint or "")
    with pytest.raises(UserError) as info:
        render_text("SELECT\n\n  {{ boom() }}", "q.sql", env)
    assert "ZeroDivisionError" in info.value.message
    assert where(info.value) == str(Path("macros", "m.sql")) + ":4:1"
    assert "called from q.sql:3" in (info.value.hint or "")


def test_duplicate_macro_names(macro_dir: Path) -> None:
    (macro_dir / "a.sql").write_text("{% macro m() %}1{% endmacro %}")
    (macro_dir / "b.sql").write_text("\n{% macro m() %}2{% endmacro %}")
    with pytest.raises(UserError) as info:
        make_environment({}, [macro_dir / "a.sql", macro_dir / "b.sql"])
    assert where(info.value) == str(Path("macros", "b.sql")) + ":2:10"
    assert "a.sql" in (info.value.hint or "")


def test_render_file(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_bytes(b"SELECT {{ var('x') }}\r\nFROM t\r\n")
    sf = render_file(path, "queries/q.sql", make_environment({"x": 1}, []))
    assert sf.path == "queries/q.sql"
    assert sf.rendered == "SELECT 1\nFROM t\n"


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, location, in_message",
    [
        ("SELECT 1\n  FROM {{ t }\n", "q.sql:2:13", "unexpected '}'"),
        ("SELECT 1\n\n  {% if x %}\nFROM t", "q.sql:3:3", "end of template"),
        ("SELECT\n  {% endfor %}", "q.sql:2:3", "endfor"),
        ("SELECT {{ a | nosuchfilter }}", "q.sql:1:8", "nosuchfilter"),
    ],
)
def test_syntax_errors(text: str, location: str, in_message: str) -> None:
    err = error_of(text)
    assert where(err) == location
    assert in_message in err.message
    assert err.hint


def test_undefined_name_is_located_where_it_is_used() -> None:
    err = error_of("SELECT a,\n       b\nFROM {{ topic }}\n", {"topic": "orders"})
    assert err.message == "undefined name 'topic'"
    assert where(err) == "q.sql:3:9"
    assert err.location and err.location.length == len("topic")
    assert "var('topic')" in (err.hint or "")


def test_undefined_name_hint_suggests_a_macro(macro_dir: Path) -> None:
    (macro_dir / "m.sql").write_text("{% macro to_cents(c) %}{{ c }}{% endmacro %}")
    err = error_of("SELECT\n  {{ to_cent('x') }}", macros=[macro_dir / "m.sql"])
    assert where(err) == "q.sql:2:6"
    assert "did you mean 'to_cents'" in (err.hint or "")
    assert "to_cents" in (err.hint or "")


def test_undefined_inside_a_for_loop_points_at_the_body_line() -> None:
    err = error_of("SELECT\n{% for c in ['a', 'b'] %}\n  {{ c }}{{ sep }}\n{% endfor %}\n")
    assert where(err) == "q.sql:3:13"


def test_error_message_is_never_a_traceback() -> None:
    err = error_of("SELECT {{ [1][5] }}")
    assert "Traceback" not in err.format()
    assert where(err).startswith("q.sql:1:")


# --- line map ----------------------------------------------------------------------------------

QUERY = """\
SELECT
  {{ cols('o') }}
FROM {{ var('topic') }} o
{% if var('filter', false) %}
WHERE o.amount > 0
{% endif %}
{% for i in range(3) %}
  , o.c{{ i }}
{% endfor %}
GROUP BY bad_col, o.id
"""


def test_line_map_after_macro_if_and_for(macro_dir: Path) -> None:
    (macro_dir / "cols.sql").write_text(
        "{% macro cols(p) %}\n  {{ p }}.a,\n  {{ p }}.b,\n  {{ p }}.c\n{%- endmacro %}\n"
    )
    env = make_environment({"topic": "orders"}, [macro_dir / "cols.sql"])
    sf = render_text(QUERY, "q.sql", env)
    rendered = sf.rendered.split("\n")
    assert len(rendered) > len(QUERY.split("\n"))  # the macro and the loop added lines

    loc = sf.locate(sf.rendered.index("bad_col"), len("bad_col"))
    assert (loc.line, loc.col) == (10, 10)
    assert loc.source_line == "GROUP BY bad_col, o.id"
    loc = sf.locate(sf.rendered.index("o.id"), 4)
    assert (loc.line, loc.col) == (10, 19)

    def source_line_of(text: str) -> int:
        return sf.line_map[next(i for i, line in enumerate(rendered) if text in line)]

    assert source_line_of("o.b,") == 2  # a multi-line macro output: the line of the call
    assert source_line_of("FROM orders o") == 3
    assert source_line_of("o.c2") == 8  # a loop expansion: the body line that produced it
    assert "WHERE" not in sf.rendered  # the if removed its lines


@pytest.mark.parametrize(
    "text, rendered, expected",
    [
        ("a\n{{ 'b' }}\n", "a\nb\n", [1, 2, 3, 3]),
        # every line substituted in place: one to one
        ("{{ 1 }}\n{{ 2 }}\nc", "1\n2\nc", [1, 2, 3, 3]),
        # an if that removes lines
        ("a\n{% if false %}\nb\n{% endif %}\nc", "a\n\nc", [1, 2, 5, 5]),
        # a value with newlines: its lines stay with the line that wrote it
        ("a\n{{ 'x\\ny' }}\nz", "a\nx\ny\nz", [1, 2, 2, 3, 3]),
        # a loop: every expansion maps to the body line
        (
            "{% for i in [1, 2] %}\n  c{{ i }}\n{% endfor %}\nz",
            "\n  c1\n\n  c2\n\nz",
            [1, 2, 3, 2, 3, 4, 4],
        ),
        # a comment across lines: the line after it is where it is
        ("{# one\ntwo #}x\ny", "x\ny", [2, 3, 3]),
        # a captured block keeps its text (and maps to the line of its use)
        ("{% set b %}\nq\n{% endset %}{{ b | trim }}\nz", "q\nz", [3, 4, 4]),
    ],
)
def test_line_map_table(text: str, rendered: str, expected: list[int]) -> None:
    sf = render_text(text, "q.sql", make_environment({}, []))
    assert (sf.rendered, sf.line_map) == (rendered, expected)


LINES = ["a", "", "{{ x }}", "{% if y %}", "{% endif %}", "{% for i in [1, 2] %}", "{% endfor %}",
         "  , c{{ i }}", "{# c #}", "{{ 'p\\nq' }}"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=14))
def test_line_map_is_total_and_in_range(src: list[str]) -> None:
    text = "\n".join(src)
    try:
        sf = render_text(text, "q.sql", make_environment({}, []))
    except UserError:  # an unbalanced if or for: a located error, tested elsewhere
        return
    assert len(sf.line_map) == len(sf.rendered.split("\n")) + 1
    assert all(1 <= n <= len(text.split("\n")) + 1 for n in sf.line_map)
    assert all(a <= b for a, b in zip(sf.line_map, sf.line_map[1:]) if "for" not in text)


def test_rendering_500_statements_is_fast() -> None:
    env = make_environment({"topic": "orders"}, [])
    plain = "".join(f"CREATE STREAM s{i} AS SELECT a, b FROM t{i};\n" for i in range(10))
    jinja = "".join(
        f"CREATE STREAM j{i} AS SELECT a FROM {{{{ var('topic') }}}}_{i};\n" for i in range(10)
    )
    start = time.perf_counter()
    for n in range(25):
        render_text(plain, f"p{n}.sql", env)
        render_text(jinja, f"j{n}.sql", env)
    assert time.perf_counter() - start < HANG  # a hang guard; speed: bench/compile_speed.py


# --- include and import from macros/ -----------------------------------------------------------


def env_with(macro_dir: Path) -> t.Any:
    return make_environment({}, [], [macro_dir])


def test_include_and_import_load_files_of_macros(macro_dir: Path) -> None:
    (macro_dir / "common").mkdir()
    (macro_dir / "common" / "select.sql").write_text("SELECT a, b\n")
    (macro_dir / "cols.sql").write_text("{% macro cols(p) %}{{ p }}.a, {{ p }}.b{% endmacro %}")
    env = env_with(macro_dir)
    cases = {
        "{% include 'common/select.sql' %}FROM t": "SELECT a, b\nFROM t",
        "{% import 'cols.sql' as c %}SELECT {{ c.cols('o') }}": "SELECT o.a, o.b",
        "{% from 'cols.sql' import cols %}SELECT {{ cols('x') }}": "SELECT x.a, x.b",
    }
    for text, expected in cases.items():
        assert render_text(text, "q.sql", env).rendered == expected


def test_an_included_file_maps_to_the_line_that_included_it(macro_dir: Path) -> None:
    (macro_dir / "two.sql").write_text("x\ny\n")
    sf = render_text("a\n{% include 'two.sql' %}z\nw", "q.sql", env_with(macro_dir))
    assert sf.rendered == "a\nx\ny\nz\nw"
    assert sf.line_map == [1, 2, 2, 2, 3, 3]


INCLUDE_ERRORS = [
    # (included file, query, expected location, message part, hint part)
    ("SELECT\n  {{ nope }}\n", "SELECT 1\n{% include 'inc.sql' %}",
     "macros/inc.sql:2:6", "undefined name 'nope'", "included from q.sql:2"),
    ("SELECT\n  {{ 1 + }}\n", "\n\n{% include 'inc.sql' %}",
     "macros/inc.sql:2:3", "Jinja syntax error", "included from q.sql:3"),
    ("{% macro m() %}{{ 1 / 0 }}{% endmacro %}", "{% import 'inc.sql' as i %}\n{{ i.m() }}",
     "macros/inc.sql:1:1", "ZeroDivisionError", "called from q.sql:2"),
    ("", "SELECT\n  {% include 'missing.sql' %}",
     "q.sql:2:15", "template 'missing.sql' not found in macros/", "path under macros/"),
    ("", "{% include '../secret.sql' %}", "q.sql:1:13", "is outside macros/",
     "only files of macros/"),
    ("", "{% include '/etc/passwd' %}", "q.sql:1:13", "is outside macros/",
     "only files of macros/"),
    ("", "{% from '../x.sql' import m %}", "q.sql:1:10", "is outside macros/",
     "only files of macros/"),
    ("", "SELECT 1\n  {% extends 'base.sql' %}", "q.sql:2:6", "{% extends %} is not supported",
     "{% include 'file.sql' %}"),
]  # fmt: skip


@pytest.mark.parametrize("included, query, location, message, hint", INCLUDE_ERRORS)
def test_include_errors(
    macro_dir: Path, included: str, query: str, location: str, message: str, hint: str
) -> None:
    (macro_dir / "inc.sql").write_text(included)
    (macro_dir.parent / "secret.sql").write_text("SELECT 'secret'")
    with pytest.raises(UserError) as info:
        render_text(query, "q.sql", env_with(macro_dir))
    err = info.value
    assert where(err) == location.replace("/", os.sep, 1)
    assert message in err.message
    assert hint in (err.hint or "")
    assert "secret" not in err.format().replace("secret.sql", "")


def test_a_link_out_of_macros_is_refused(macro_dir: Path) -> None:
    (macro_dir.parent / "outside.sql").write_text("SELECT 'outside'")
    (macro_dir / "link.sql").symlink_to(macro_dir.parent / "outside.sql")
    err = error_of("{% include 'link.sql' %}", macros=[])  # no macro folders at all
    assert "not found" in err.message
    with pytest.raises(UserError) as info:
        render_text("{% include 'link.sql' %}", "q.sql", env_with(macro_dir))
    assert "outside macros/" in info.value.message
    assert where(info.value) == "q.sql:1:13"


# --- what Jinja cannot survive: located errors, never a crash -----------------------------------

NESTING = [
    ("if", "{% if true %}" * 2000 + "x" + "{% endif %}" * 2000),
    ("for", "{% for i in [1] %}" * 30 + "x" + "{% endfor %}" * 30),
    ("macro", "{% macro m() %}" * 100 + "{% endmacro %}" * 100),
    ("filter", "{% filter upper %}" * 400 + "{% endfilter %}" * 400),
    ("parentheses", "{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}"),
    ("lists", "{{ " + "[" * 2000 + "1" + "]" * 2000 + " }}"),
    ("dicts", "{{ " + "{'a': " * 500 + "1" + "}" * 500 + " }}"),
    ("calls", "{{ " + "f(" * 500 + "1" + ")" * 500 + " }}"),
    ("not", "{{ " + "not " * 3000 + "1 }}"),
    ("minus", "{{ " + "-" * 3000 + "1 }}"),
    ("attributes", "{{ x" + ".a" * 500 + " }}"),
    ("items", "{{ x" + "[0]" * 500 + " }}"),
    ("filters", "{{ 'a'" + " | lower" * 500 + " }}"),
    ("and", "{{ 1" + " and 1" * 3000 + " }}"),
    ("conditionals", "{{ 1" + " if 1 else 2" * 3000 + " }}"),
    ("elif", "{% if a %}" + "{% elif a %}" * 3000 + "{% endif %}"),
]


@pytest.mark.parametrize("what, text", NESTING, ids=[n[0] for n in NESTING])
def test_deep_nesting_is_a_located_error(what: str, text: str) -> None:
    err = error_of("SELECT 1\n" + text)
    assert err.message.startswith("Jinja nested too deeply"), err.message
    assert where(err).startswith("q.sql:2:")
    assert err.hint


def test_nesting_within_the_limits_renders() -> None:
    text = "{% if true %}" * 15 + "{{ " + "(" * 40 + "1" + ")" * 40 + " }}" + "{% endif %}" * 15
    assert render(text) == "1"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "{% macro m() %}{{ m() }}{% endmacro %}\n{{ m() }}",
            "macros call one another without end",
        ),
        ("SELECT {{ 'x' * 10 ** 8 }}", "the result of * would be too large"),
        ("SELECT {{ 9 ** 99999 }}", "the result of ** would be too large"),
        ("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", "renders to more than 1 MiB"),
        ("{{ 'SELECT 1\n' * 30000 }}\n{{ x" + " ~ x" * 200 + " }}", "more than 100 operators"),
        ("SELECT 1;\n" * 20 + "{{ 1 }} " * 8000, "more than 20000 tokens"),
    ],
)
def test_runaway_templates_are_located_errors(text: str, message: str) -> None:
    start = time.perf_counter()
    err = error_of(text)
    assert message in err.message
    assert err.location is not None and err.location.path == "q.sql"
    assert time.perf_counter() - start < HANG  # a hang guard; speed: bench/compile_speed.py


def test_a_file_over_1_mib_is_refused_where_it_passes_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.sql"
    line = "SELECT a, b, c FROM t WHERE x = 1;\n"
    path.write_text(line * (5_000_000 // len(line)))
    start = time.perf_counter()
    with pytest.raises(UserError) as info:
        render_file(path, "big.sql", make_environment({}, []))
    assert time.perf_counter() - start < HANG  # a hang guard; speed: bench/compile_speed.py
    err = info.value
    assert err.message == "big.sql is larger than 1 MiB"
    assert err.location and err.location.line == MAX_FILE_BYTES // len(line) + 1
    assert err.location.col == MAX_FILE_BYTES % len(line) + 1
    assert len(err.format()) < 600
    with pytest.raises(UserError) as info:
        render_text(path.read_text(), "big.sql", make_environment({}, []))
    assert info.value.message == "big.sql is larger than 1 MiB"


def test_a_one_line_file_of_1_mib_renders_fast() -> None:
    text = "SELECT " + "a, " * (MAX_FILE_BYTES // 3 - 10) + "{{ 1 }}"
    start = time.perf_counter()
    sf = render_text(text, "q.sql", make_environment({}, []))
    loc = sf.locate(len(sf.rendered) - 1)
    assert time.perf_counter() - start < HANG  # a hang guard; speed: bench/compile_speed.py
    assert (loc.line, loc.col) == (1, len(text) - 3)
