"""How an error is shown: the location, the quoted line, the caret, the hint.

Each case is the message as the user sees it; a long line is cut to a window around the caret.
"""

from __future__ import annotations

import pytest

from sqlstream.errors import SHOWN_LINE, Location, UserError, format_diagnostic

LONG = "".join(f"c{i:03d}, " for i in range(200))  # 1,200 characters
AT = LONG.index("c100")  # 0-based

CASES = [
    (
        "short line, as it always was",
        Location("q.sql", 3, 8, "SELECT a FROM t", 1),
        """\
q.sql:3:8: error: boom
   3 | SELECT a FROM t
     |        ^""",
    ),
    (
        "a caret with a length",
        Location("q.sql", 1, 10, "SELECT a FROM t", 4),
        """\
q.sql:1:10: error: boom
   1 | SELECT a FROM t
     |          ^~~~""",
    ),
    (
        "a tab counts as one column",
        Location("q.sql", 2, 3, "\t\tbad", 3),
        """\
q.sql:2:3: error: boom
   2 |   bad
     |   ^~~""",
    ),
    (
        "a long line cut on both sides, the caret under the right word",
        Location("q.sql", 1, AT + 1, LONG, 4),
        "q.sql:1:{}: error: boom\n   1 | ...{}...\n     | {}^~~~".format(
            AT + 1,
            LONG[AT - SHOWN_LINE // 3 : AT - SHOWN_LINE // 3 + SHOWN_LINE],
            " " * (3 + SHOWN_LINE // 3),
        ),
    ),
    (
        "a long line with the caret near its start: cut on the right only",
        Location("q.sql", 1, 6, LONG, 4),
        "q.sql:1:6: error: boom\n   1 | {}...\n     |      ^~~~".format(LONG[:SHOWN_LINE]),
    ),
    (
        "a long line with the caret at its end: cut on the left only",
        Location("q.sql", 1, len(LONG) - 4, LONG, 4),
        "q.sql:1:{}: error: boom\n   1 | ...{}\n     | {}^~~~".format(
            len(LONG) - 4, LONG[-SHOWN_LINE:], " " * (3 + SHOWN_LINE - 5)
        ),
    ),
    (
        "a caret longer than the window is cut at the window",
        Location("q.sql", 1, 1, "x" * 1000, 1000),
        "q.sql:1:1: error: boom\n   1 | {}...\n     | ^{}".format(
            "x" * SHOWN_LINE, "~" * (SHOWN_LINE - 1)
        ),
    ),
    (
        "no source line: the location only",
        Location("q.sql", 4, 2),
        "q.sql:4:2: error: boom",
    ),
]


@pytest.mark.parametrize("what, location, expected", CASES, ids=[c[0] for c in CASES])
def test_format_diagnostic(what: str, location: Location, expected: str) -> None:
    assert format_diagnostic("boom", location, None) == expected


def test_caret_stays_under_its_character_in_a_5mb_line() -> None:
    line = "a" * 5_000_000 + "BAD" + "b" * 5_000_000
    out = UserError("boom", Location("q.sql", 1, 5_000_001, line, 3), "a hint").format()
    assert len(out) < 2 * SHOWN_LINE + 100
    quoted, caret = out.split("\n")[1:3]
    start = caret.index("^")
    assert quoted[start : start + 3] == "BAD"
    assert caret[start:] == "^~~"
    assert out.endswith("hint: a hint")
