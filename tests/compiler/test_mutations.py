"""Property: any mutation of a valid file compiles, or fails with sqlstream's own located errors.

Never a traceback: no sqlglot, Jinja or Python exception may escape the compiler.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlstream.compiler.facade import compile_project
from sqlstream.errors import UserErrors

TEMPLATE = Path(__file__).resolve().parents[2] / "sqlstream" / "project" / "templates" / "project"
VALID = (TEMPLATE / "queries" / "spend.sql").read_text() + "\n" + """
CREATE STREAM tagged (
    id STRING KEY,
    body STRING,
    trace STRING HEADER('trace-id'),
    hs ARRAY<STRUCT<key STRING, value BINARY>> HEADERS,
    ts TIMESTAMP METADATA FROM 'timestamp'
) FROM KAFKA (topic = 'tagged', on_error = 'dlq', dlq_topic = 'tagged.DLT');

INSERT INTO KAFKA TOPIC ('t-' || id) KEY (id, trace) PARTITION abs(hash(id)) % 3
    HEADERS ('trace-id' = trace) FORMAT json WITH (trigger = 'available_now')
SELECT id, body, trace FROM tagged WHERE body IS NOT NULL;
"""

TOKENS = [
    "(", ")", ",", ";", "'", "\"", "`", "{{", "}}", "{%", "%}", "KEY", "PARTITION", "HEADERS",
    "FORMAT", "WITH", "SELECT", "FROM", "GROUP BY", "WATERMARK", "KAFKA", "TOPIC", "STREAM",
    "window(", "INTERVAL", "x", "1", "'a'", "--", "/*", "*/", "=", "AS", "ORDER BY", "LIMIT 1",
    "DISTINCT", "JOIN", "\n", " ", "CREATE", "INSERT INTO", "HEADER(", "METADATA FROM",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = VALID
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if kind == "delete":
            n = draw(st.integers(1, 12))
            text = text[:pos] + text[pos + n :]
        elif kind == "insert":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
        else:
            n = draw(st.integers(1, 20))
            text = text[:pos] + text[pos : pos + n] + text[pos:]
    return text


@settings(max_examples=int(__import__("os").environ.get("SQLSTREAM_MUTATIONS", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated())
def test_mutations_raise_only_located_user_errors(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("proj")
    (root / "q.sql").write_text(text)
    try:
        compile_project([str(root / "q.sql")])
    except UserErrors as e:
        assert e.errors
        for err in e.errors:
            assert err.location is not None, err.message
            assert err.location.line >= 1 and err.location.col >= 1
            assert err.message
