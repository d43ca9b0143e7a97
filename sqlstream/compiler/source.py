"""A query file as the user wrote it and as Jinja rendered it, with the map between the two.

Every position the parser or the planner reports is an offset into the *rendered* text; this
module turns it into a line and column of the file the user wrote, so that an error never points
at text the user cannot see.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass, field

from sqlstream.errors import Location

_NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass
class SourceFile:
    """One file of the project as read: what the user wrote, and what Jinja rendered of it."""

    path: str
    """The path as shown in messages (relative to the current directory when possible)."""
    text: str
    """What the user wrote."""
    rendered: str
    """The text after Jinja rendering: what is parsed."""
    line_map: list[int] = field(default_factory=list)
    """``line_map[i]`` is the 1-based source line that rendered line ``i`` (0-based) came from."""

    def __post_init__(self) -> None:
        # Split on newlines only (not on the form feeds and separators that ``splitlines`` also
        # takes), as Jinja and the offsets of the rendered text count lines.
        self._rendered_lines = self.rendered.split("\n")
        self._rendered_line_starts = _line_starts(self._rendered_lines)
        self._source_lines = _NEWLINE.split(self.text)
        if not self.line_map:
            self.line_map = list(range(1, len(self._rendered_lines) + 2))

    @classmethod
    def plain(cls, path: str, text: str) -> SourceFile:
        """A file that needs no rendering (or a snippet in a test)."""
        return cls(path=path, text=text, rendered=text)

    def source_line(self, line: int) -> str | None:
        if 1 <= line <= len(self._source_lines):
            return self._source_lines[line - 1]
        return None

    def locate(self, offset: int, length: int = 1) -> Location:
        """The location in the user's file of ``rendered[offset:offset+length]``."""
        offset = max(0, min(offset, len(self.rendered)))
        idx = bisect.bisect_right(self._rendered_line_starts, offset) - 1
        r_col = offset - self._rendered_line_starts[idx] + 1
        src_line_no = self.line_map[min(idx, len(self.line_map) - 1)] if self.line_map else idx + 1
        src_line = self.source_line(src_line_no)
        r_line = self._rendered_lines[idx] if idx < len(self._rendered_lines) else ""
        if src_line is None:
            return Location(self.path, src_line_no, r_col, None, max(1, length))
        if src_line == r_line:
            col = r_col
        else:
            # The line was changed by Jinja: find the same text in what the user wrote, or
            # point at the start of the line that produced it.
            needle = self.rendered[offset : offset + max(1, length)].strip()
            pos = src_line.find(needle) if needle else -1
            if pos >= 0:
                col = pos + 1
            else:
                col = len(src_line) - len(src_line.lstrip()) + 1
                length = max(1, len(src_line.strip()))
        return Location(self.path, src_line_no, col, src_line, max(1, length))


def _line_starts(lines: list[str]) -> list[int]:
    """The offset of each line's first character (a file of 5 MB takes milliseconds)."""
    return list(itertools.accumulate((len(line) + 1 for line in lines[:-1]), initial=0))
