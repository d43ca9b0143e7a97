"""What Jinja reads: the templates it may load, and every template's tokens before it parses them.

Two guards and one mark, all on Jinja's public extension and loader API:

- ``MacroLoader``: ``{% include %}``, ``{% import %}`` and ``{% from ... import %}`` load files of
  the project's macro folders, and nothing outside them.
- ``TokenGuard`` refuses, at the tag that does it, what Jinja's recursive parser and compiler
  (and Python's compiler of the code Jinja generates) would die on with a RecursionError or a
  SyntaxError: blocks nested too deeply, brackets nested too deeply, one expression of hundreds
  of operators. It refuses ``{% extends %}`` too (see docs/language.md).
- ``TokenGuard`` also marks the literal text of the query file being rendered: after every
  newline it writes the number of the source line that follows, in characters of Unicode's
  private use area. The rendered text then says itself which line each of its lines came from
  (``unmark``): exact, and linear, where guessing by diffing was neither.
"""

from __future__ import annotations

import os
import re
import typing as t

import jinja2
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.loaders import split_template_path

from sqlstream.errors import UserError
from sqlstream.project.env import display_path

MAX_BLOCK_DEPTH = 15
"""Jinja blocks inside blocks. Python allows 20 nested loops in a function and 100 levels of
indentation; the code Jinja generates for a block uses one or more of each."""
MAX_BRACKET_DEPTH = 40
"""Parentheses, brackets and braces inside one another in one tag: Jinja's parser recurses about
twenty frames a level, and dies near 100."""
MAX_OPERATORS = 100
"""Operators, filters, attribute and item lookups in one tag: Jinja builds a chain of them as a
tree as deep as it is long, and compiles it recursively (``a.b.c...`` dies near 200)."""
MAX_TOKENS = 20_000
"""Jinja tokens in one file (``{{ var('t') }}`` is six): Jinja compiles about 20,000 a second,
so a file of more would take longer to render than a whole project should take to compile."""
MAX_ELIFS = 200
"""``{% elif %}`` of one ``{% if %}``: each is an ``if`` nested in the one before it."""

# Tags whose body is rendered where it stands, so that its text can carry line marks.
_OPENERS = frozenset({"for", "if", "with", "block", "autoescape"})
# Tags whose body becomes a value (a macro, a call block, a captured {% set %}, a filtered
# block): Jinja code may look at that value, so its text must stay as the user wrote it.
_CAPTURING = frozenset({"macro", "call", "filter", "set"})
_ENDS = {f"end{name}": name for name in _OPENERS | _CAPTURING}
_OPERATORS = frozenset(
    {
        "add", "sub", "mul", "div", "floordiv", "mod", "pow", "tilde", "pipe", "dot",
        "eq", "ne", "lt", "lteq", "gt", "gteq", "lbracket",
    }
)  # fmt: skip
_WORD_OPERATORS = frozenset({"and", "or", "not", "if", "is", "in"})
_OPEN_BRACKETS = frozenset({"lparen", "lbracket", "lbrace"})
_CLOSE_BRACKETS = frozenset({"rparen", "rbracket", "rbrace"})

MARK_START, MARK_END = "\ue000", "\ue001"
_MARK = re.compile(f"{MARK_START}([0-9]+){MARK_END}")
MAX_MARK = 2 + 7
"""The longest mark: a file of at most 1 MiB has fewer than ten million lines."""


class Refused(jinja2.TemplateSyntaxError):
    """A template the guard will not hand to Jinja's parser; ``word`` is what to point at."""

    def __init__(
        self, message: str, lineno: int, stream: TokenStream, word: str, hint: str
    ) -> None:
        super().__init__(message, lineno, stream.name, stream.filename)
        self.word = word
        self.hint = hint


def _mark(line: int) -> str:
    return f"{MARK_START}{line}{MARK_END}"


def mark_data(value: str, lineno: int) -> str:
    """``value``, literal text that starts on source line ``lineno``, with its line marks."""
    parts = value.split("\n")
    marked = [_mark(lineno) + parts[0]]
    marked.extend(_mark(lineno + k) + part for k, part in enumerate(parts[1:], 1))
    return "\n".join(marked)


def unmark(marked: str) -> tuple[str, list[int]]:
    """The rendered text without its marks, and for each of its lines the source line.

    A line takes the first mark on it; a line with none (a line that a macro, an include or a
    value with a newline began) stays with the line before it, the line of the call. One extra
    entry covers the end of the text, as ``SourceFile.line_map`` wants.
    """
    lines = marked.split("\n")
    line_map: list[int] = []
    current = 1
    for i, line in enumerate(lines):
        if MARK_START in line:
            m = _MARK.search(line)
            if m:
                current = int(m.group(1))
            lines[i] = _MARK.sub("", line)
        line_map.append(current)
    line_map.append(current)
    return "\n".join(lines), line_map


def last_line(marked: str) -> int | None:
    """The source line of the last mark in ``marked``, if it has one."""
    at = marked.rfind(MARK_START)
    m = _MARK.match(marked, at) if at >= 0 else None
    return int(m.group(1)) if m else None


class TokenGuard(Extension):
    """Checks (and, for the query file being rendered, marks) every template's tokens."""

    def filter_stream(self, stream: TokenStream) -> t.Iterable[Token]:
        marking = stream.name is not None and stream.name == getattr(
            self.environment, "marking", None
        )
        return _Guard(stream, marking).tokens()


class _Guard:
    """The walk over one template's tokens: the open blocks, and the tag being read."""

    def __init__(self, stream: TokenStream, marking: bool) -> None:
        self.stream = stream
        self.marking = marking
        self.blocks: list[str] = []
        self.elifs: list[int] = []
        self.capturing = 0
        self.count = 0

    def tokens(self) -> t.Iterator[Token]:
        tag: list[Token] = []
        for token in self.stream:
            if token.type in ("block_begin", "variable_begin"):
                tag = [token]
            elif tag:
                tag.append(token)
                if token.type in ("block_end", "variable_end"):
                    self._check_tag(tag)
                    yield from tag
                    tag = []
            elif token.type == "data" and self.marking and not self.capturing:
                yield Token(token.lineno, "data", mark_data(token.value, token.lineno))
            else:
                yield token
        yield from tag  # an unterminated tag: Jinja's parser reports it

    def _check_tag(self, tag: list[Token]) -> None:
        self.count += len(tag)
        if self.count > MAX_TOKENS:
            raise Refused(
                f"too much Jinja in one file: more than {MAX_TOKENS} tokens",
                tag[0].lineno,
                self.stream,
                "",
                "write the repeated part once, in a {% for %} loop or a macro, or split the file",
            )
        self._check_expression(tag)
        if tag[0].type == "block_begin" and len(tag) > 1 and tag[1].type == "name":
            self._check_statement(tag[1], tag)

    def _check_statement(self, name: Token, tag: list[Token]) -> None:
        word = name.value
        if word == "extends":
            raise Refused(
                "{% extends %} is not supported",
                name.lineno,
                self.stream,
                "extends",
                "put the shared SQL in a macro of macros/ and call it, or "
                "{% include 'file.sql' %} a file of macros/",
            )
        if word == "set" and any(tok.type == "assign" for tok in tag):
            return  # {% set x = ... %}: a statement, not a block
        if word in _OPENERS or word in _CAPTURING:
            self._open(word, name)
        elif word in _ENDS and self.blocks and self.blocks[-1] == _ENDS[word]:
            self._close()
        elif word == "elif" and self.elifs:
            self.elifs[-1] += 1
            if self.elifs[-1] > MAX_ELIFS:
                self._refuse(name, f"more than {MAX_ELIFS} {{% elif %}} in one {{% if %}}")

    def _open(self, word: str, name: Token) -> None:
        self.blocks.append(word)
        self.elifs.append(0)
        self.capturing += word in _CAPTURING
        if len(self.blocks) > MAX_BLOCK_DEPTH:
            self._refuse(name, f"more than {MAX_BLOCK_DEPTH} levels of Jinja blocks")

    def _close(self) -> None:
        self.capturing -= self.blocks.pop() in _CAPTURING
        self.elifs.pop()

    def _check_expression(self, tag: list[Token]) -> None:
        depth = operators = 0
        for token in tag:
            if token.type in _OPEN_BRACKETS:
                depth += 1
                if depth > MAX_BRACKET_DEPTH:
                    self._refuse(token, f"more than {MAX_BRACKET_DEPTH} levels of brackets")
            elif token.type in _CLOSE_BRACKETS:
                depth -= 1
            if token.type in _OPERATORS or (
                token.type == "name" and token.value in _WORD_OPERATORS
            ):
                operators += 1
                if operators > MAX_OPERATORS:
                    self._refuse(token, f"more than {MAX_OPERATORS} operators in one tag")

    def _refuse(self, token: Token, what: str) -> t.NoReturn:
        word = str(token.value) if token.type == "name" else _SYMBOLS.get(token.type, "")
        raise Refused(
            f"Jinja nested too deeply: {what}",
            token.lineno,
            self.stream,
            word,
            "split it: move a part into a macro of macros/, or compute it with {% set %} first",
        )


_SYMBOLS = {
    "lparen": "(", "lbracket": "[", "lbrace": "{", "add": "+", "sub": "-", "mul": "*",
    "div": "/", "floordiv": "//", "mod": "%", "pow": "**", "tilde": "~", "pipe": "|",
    "dot": ".", "eq": "==", "ne": "!=", "lt": "<", "lteq": "<=", "gt": ">", "gteq": ">=",
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Loading templates from macros/


class MacroLoader(jinja2.FileSystemLoader):
    """``{% include %}`` and ``{% import %}`` of files under the project's macro folders.

    Names are paths relative to a macro folder (``'common/filters.sql'``). A name that would leave
    the folder (absolute, ``..``, a symlink out of it) is refused, as is a file over the size limit
    or not UTF-8. ``read`` is how the renderer reads a file (the same checks as a query file);
    every file loaded is recorded in ``sources`` under its display path, so that an error in it
    is quoted from it.
    """

    def __init__(
        self,
        folders: t.Sequence[os.PathLike[str] | str],
        read: t.Callable[[str, str], str],
        sources: dict[str, str],
    ) -> None:
        super().__init__([os.path.abspath(f) for f in folders])
        self.read = read
        self.sources = sources

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, t.Callable[[], bool]]:
        self._check_name(template)
        filename = self._find(template)
        self._check_inside(template, filename)
        shown = display_path(filename)
        text = self.read(filename, shown)
        self.sources[shown] = text
        mtime = os.path.getmtime(filename)
        return text, shown, lambda: os.path.isfile(filename) and os.path.getmtime(filename) == mtime

    def _folders(self) -> str:
        if not self.searchpath:
            return "the project (it has no macros/ folder)"
        return ", ".join(display_path(p) + os.sep for p in self.searchpath)

    def _check_name(self, template: str) -> None:
        pieces = template.replace("\\", "/").split("/")
        if template.startswith(("/", "\\")) or ".." in pieces or re.match(r"^[A-Za-z]:", template):
            raise _loader_error(
                f"template '{template}' is outside macros/",
                template,
                "include and import only files of macros/, named by their path there",
            )

    def _check_inside(self, template: str, filename: str) -> None:
        real = os.path.realpath(filename)
        for root in self.searchpath:
            if os.path.commonpath([real, os.path.realpath(root)]) == os.path.realpath(root):
                return
        raise _loader_error(
            f"template '{template}' is outside macros/ (a link to {display_path(real)})",
            template,
            "include and import only files of macros/, named by their path there",
        )

    def _find(self, template: str) -> str:
        pieces = split_template_path(template)
        for root in self.searchpath:
            path = os.path.join(root, *pieces)
            if os.path.isfile(path):
                return path
        raise _loader_error(
            f"template '{template}' not found in {self._folders()}",
            template,
            "include and import name a file by its path under macros/, e.g. 'filters.sql'",
        )


def _loader_error(message: str, template: str, hint: str) -> UserError:
    err = UserError(message, hint=hint)
    err.jinja_word = template  # type: ignore[attr-defined]
    return err
