"""Golden bad inputs: each file under invalid/ must fail with exactly the errors it marks.

A marker is a comment line under the offending line:
    SELECT order_id, amountt FROM orders;
    --               ^ unknown column 'amountt'
The caret's column is the expected column; the text after it must appear in the message. For
column 1, write ``-- error at col 1: message``. Every error of the file is marked; no more, no less.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project
from sqlstream.errors import UserErrors

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(INVALID.glob("*.sql"))
CARET = re.compile(r"^--(\s*)\^\s?(.*)$")
EXPLICIT = re.compile(r"^-- error at col (\d+): (.*)$")


def expected_errors(path: Path) -> list[tuple[int, int, str]]:
    lines = path.read_text().splitlines()
    out = []
    for i, line in enumerate(lines):
        m = CARET.match(line)
        e = EXPLICIT.match(line)
        if not (m or e):
            continue
        target = i - 1
        while target >= 0 and (CARET.match(lines[target]) or EXPLICIT.match(lines[target])):
            target -= 1
        col = line.index("^") + 1 if m else int(e.group(1))  # type: ignore[union-attr]
        message = (m.group(2) if m else e.group(2)).strip()  # type: ignore[union-attr]
        out.append((target + 1, col, message))
    return out


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_invalid_input(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A bare file, outside any project: nothing but the file itself is read.
    (tmp_path / path.name).write_text(path.read_text())
    monkeypatch.chdir(tmp_path)
    expected = expected_errors(path)
    assert expected, f"{path.name} marks no error"
    with pytest.raises(UserErrors) as info:
        compile_project([path.name])
    got = [(e.location.line, e.location.col, e.message) for e in info.value.errors if e.location]
    unlocated = [e.message for e in info.value.errors if not e.location]
    assert not unlocated, f"errors without a location: {unlocated}"
    assert len(got) == len(expected), "\n".join(f"{ln}:{c}: {m}" for ln, c, m in got)
    for (line, col, fragment), (gl, gc, gm) in zip(sorted(expected), sorted(got)):
        assert (gl, gc) == (line, col), f"expected {line}:{col} ({fragment}), got {gl}:{gc}: {gm}"
        assert fragment in gm, f"expected '{fragment}' in '{gm}'"
    for e in info.value.errors:
        assert e.location is not None and e.location.path == path.name
        assert e.hint, f"no hint for: {e.message}"
