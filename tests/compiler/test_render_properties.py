"""Property: whatever a query file holds, rendering ends in a result or a located UserError.

Random mixes of Jinja tags, deep nesting of every kind, includes and imports (good, missing,
outside macros/, broken), undefined names, unterminated tags, long lines and the characters the
renderer marks lines with. Never a RecursionError, never an internal error, never a message of
more than a screen.
"""

from __future__ import annotations

import tempfile
import typing as t
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlstream.compiler.render import make_environment, render_text
from sqlstream.errors import UserError

MACROS = Path(tempfile.mkdtemp(prefix="sqlstream-render-")) / "macros"
MACROS.mkdir()
(MACROS / "cols.sql").write_text("{% macro cols(p) %}\n  {{ p }}.a,\n  {{ p }}.b\n{% endmacro %}\n")
(MACROS / "broken.sql").write_text("SELECT\n  {{ 1 + }}\n")
(MACROS / "undefined.sql").write_text("SELECT {{ nope }}\n")
(MACROS / "loop.sql").write_text("{% include 'loop.sql' %}")
(MACROS / "select.sql").write_text("SELECT a\n")
ENV = make_environment({"topic": "orders", "n": 3}, [MACROS / "cols.sql"], [MACROS])

OPENERS = [
    "{% if true %}",
    "{% if var('n') > 2 %}",
    "{% for i in range(3) %}",
    "{% with a = 1 %}",
    "{% filter upper %}",
    "{% set b %}",
    "{% macro m(x) %}",
    "{% call cols('c') %}",
]
CLOSERS = [
    "{% endif %}",
    "{% endfor %}",
    "{% endwith %}",
    "{% endfilter %}",
    "{% endset %}",
    "{% endmacro %}",
    "{% endcall %}",
    "{% else %}",
    "{% elif false %}",
]
FRAGMENTS = OPENERS + CLOSERS + [
    "SELECT a, b", "FROM {{ var('topic') }}", "{{ cols('o') }}", "{{ undefined_name }}",
    "{{ var('missing') }}", "{{ env_var('SQLSTREAM_SURELY_UNSET') }}", "{{ 1 / 0 }}",
    "{% include 'select.sql' %}", "{% include 'broken.sql' %}", "{% include 'undefined.sql' %}",
    "{% include 'loop.sql' %}", "{% include 'missing.sql' %}", "{% include '../x.sql' %}",
    "{% import 'cols.sql' as c %}{{ c.cols('p') }}", "{% from 'broken.sql' import x %}",
    "{% extends 'select.sql' %}", "{{ unterminated", "{% if", "{# open comment", "}}", "%}",
    "{% raw %}{{ x }}{% endraw %}", "{{ 'x' * 10 ** 7 }}", "{{ ''.__class__ }}", "\t", "\ue000",
    "{% set x = [1, 2] %}{{ x[5] }}", "{{ a.b.c }}", "{{ 1 | nosuchfilter }}", "\n", "\n\n",
]  # fmt: skip


@st.composite
def nested(draw: st.DrawFn) -> str:
    """One construct nested or chained to a random depth, up to several thousand."""
    depth = draw(st.integers(1, 3000))
    kind = draw(st.sampled_from(["if", "paren", "list", "not", "attr", "filter", "plus", "elif"]))
    build: dict[str, t.Callable[[int], str]] = {
        "if": lambda n: "{% if true %}" * n + "x" + "{% endif %}" * n,
        "paren": lambda n: "{{ " + "(" * n + "1" + ")" * n + " }}",
        "list": lambda n: "{{ " + "[" * n + "1" + "]" * n + " }}",
        "not": lambda n: "{{ " + "not " * n + "1 }}",
        "attr": lambda n: "{{ cols" + ".a" * n + " }}",
        "filter": lambda n: "{{ 'a'" + " | lower" * n + " }}",
        "plus": lambda n: "{{ 1" + " + 1" * n + " }}",
        "elif": lambda n: "{% if false %}" + "{% elif false %}" * n + "{% endif %}",
    }
    return build[kind](depth)


long_lines = st.builds(lambda piece, n: piece * n, st.sampled_from(["a, ", "{{ 1 }}, "]),
                       st.integers(1, 20_000))  # fmt: skip
pieces = st.one_of(st.sampled_from(FRAGMENTS), nested(), long_lines)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pieces, max_size=12), st.sampled_from(["", "\n", " "]))
def test_rendering_ends_in_a_result_or_a_located_error(parts: list[str], sep: str) -> None:
    text = sep.join(parts)
    try:
        sf = render_text(text, "q.sql", ENV)
    except UserError as e:
        assert e.location is not None, e.format()
        assert e.location.path == "q.sql" or e.location.path.endswith(".sql")
        assert e.location.line >= 1 and e.location.col >= 1
        assert len(e.format()) < 1500, e.format()[:300]
        return
    assert len(sf.line_map) == len(sf.rendered.split("\n")) + 1
    assert "\ue001" not in sf.rendered or "\ue001" in text
