"""Jinja rendering of query files, with errors that point at the line the user wrote.

A query file is rendered before it is parsed, in a sandboxed environment with strict undefined
names. Its globals are ``var()`` (project vars), ``env_var()`` (the process environment) and every
macro of the project's macro files; ``{% include %}`` and ``{% import %}`` load files of the macro
folders. Every Jinja failure becomes a ``UserError`` located in the file the user wrote (a query
file, a macro file, an included file), never a traceback and never a position in rendered text:
that includes what Jinja itself cannot survive (a RecursionError, a MemoryError), which a guard on
its tokens mostly refuses before it starts (``jinja_input``). The rendered text comes back as a
``SourceFile`` whose ``line_map`` leads every rendered line back to the source line that produced
it, so later stages can report positions the same way.

Nothing here logs or prints values: ``env_var()`` is how secrets reach a query.
"""

from __future__ import annotations

import difflib
import re
import typing as t
from pathlib import Path

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from sqlstream.compiler import jinja_input, reading
from sqlstream.compiler.jinja_input import MARK_END, MARK_START, MacroLoader, Refused, TokenGuard
from sqlstream.compiler.source import SourceFile
from sqlstream.errors import Location, UserError
from sqlstream.project.env import MISSING, display_path, env_var

__all__ = [
    "MAX_FILE_BYTES",
    "make_environment",
    "render_file",
    "render_text",
]

# The limits, the reading and the test for Jinja are ``reading``'s (a compile without Jinja
# imports no jinja2); these names are this module's since before.
MAX_FILE_BYTES = reading.MAX_FILE_BYTES
_SIZE_HINT = reading.SIZE_HINT
_JINJA_START = reading.JINJA_START
_NEWLINE = reading.NEWLINE
_read = reading.read_text
_too_big = reading.too_big
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")
_UNEXPECTED_TOKEN = re.compile(r"unexpected '([^']+)'")
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_BUILTINS = ("var", "env_var")


class MacroEnvironment(SandboxedEnvironment):
    """The sandboxed environment of one run, with what error reporting needs to know."""

    project_vars: dict[str, t.Any]
    macro_names: dict[str, str]
    """Macro name -> the display path of the macro file that defines it."""
    sources: dict[str, str]
    """Display path -> text of every macro or included file, to quote its lines in errors."""
    marking: str | None = None
    """The query file being compiled, whose text the token guard marks with its line numbers."""

    # A sandbox stops a template reading what it should not; these stop it from allocating
    # gigabytes (``'x' * 10**10``) or computing for ever (``9 ** 9 ** 9``) on the way.
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: t.Any, operator: str, left: t.Any, right: t.Any) -> t.Any:
        if operator == "*" and _repeat_size(left, right) > MAX_FILE_BYTES:
            raise jinja2.exceptions.SecurityError("the result of * would be too large")
        if operator == "**" and _big_power(left, right):
            raise jinja2.exceptions.SecurityError("the result of ** would be too large")
        return super().call_binop(context, operator, left, right)


def _repeat_size(left: t.Any, right: t.Any) -> int:
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
            return len(seq) * n
    return 0


def _big_power(base: t.Any, exponent: t.Any) -> bool:
    numbers = isinstance(base, int) and isinstance(exponent, int)
    return numbers and abs(base) > 1 and exponent > 4096


# --------------------------------------------------------------------------------------------
# Globals


def _make_var(project_vars: dict[str, t.Any]) -> t.Callable[..., t.Any]:
    def var(name: str, default: t.Any = MISSING) -> t.Any:
        """``{{ var('name', default) }}``: a project variable (sqlstream.yml ``vars:``,
        ``--vars``)."""
        if name in project_vars:
            return project_vars[name]
        if default is not MISSING:
            return default
        hint = f"define it under vars: in sqlstream.yml or pass --vars '{{{name}: ...}}'"
        close = difflib.get_close_matches(str(name), [str(k) for k in project_vars], n=1)
        if close:
            hint = f"did you mean '{close[0]}'? or {hint}"
        err = UserError(f"undefined variable '{name}'", hint=hint)
        err.jinja_call = ("var", str(name))  # type: ignore[attr-defined]
        raise err

    return var


# --------------------------------------------------------------------------------------------
# The environment


def make_environment(
    project_vars: dict[str, t.Any],
    macro_files: t.Sequence[Path],
    macro_dirs: t.Sequence[Path] = (),
) -> SandboxedEnvironment:
    """The environment every query file of a run is rendered in.

    Each macro file is loaded as a template module; its macros become globals. Macro modules are
    created with the environment's globals as their live namespace, so a macro may call a macro
    of another file whatever order the files load in. ``macro_dirs`` are the folders that
    ``{% include %}`` and ``{% import %}`` load from.
    """
    env = MacroEnvironment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        extensions=[TokenGuard],
    )
    env.project_vars = dict(project_vars)
    env.macro_names = {}
    env.sources = {}
    env.loader = MacroLoader(macro_dirs, lambda path, shown: _read(Path(path), shown), env.sources)
    env.globals["var"] = _make_var(env.project_vars)
    env.globals["env_var"] = env_var
    for path in macro_files:
        _load_macro_file(env, Path(path))
    return env


def _load_macro_file(env: MacroEnvironment, path: Path) -> None:
    shown = display_path(path)
    text = _read(path, shown)
    env.sources[shown] = text
    try:
        ast = env.parse(text, name=shown, filename=shown)
    except jinja2.TemplateSyntaxError as e:
        raise _syntax_error(e, shown, text) from None
    for node in ast.body:
        if not isinstance(node, nodes.Macro):
            continue
        where = _locate_word(shown, text, node.lineno, node.name)
        if node.name in _BUILTINS:
            raise UserError(
                f"macro '{node.name}' would hide the built-in {node.name}()",
                where,
                hint="give the macro another name",
            )
        if node.name in env.macro_names:
            raise UserError(
                f"macro '{node.name}' is defined twice",
                where,
                hint=f"it is also defined in {env.macro_names[node.name]}; rename one of them",
            )
        env.macro_names[node.name] = shown
    try:
        code = env.compile(ast, name=shown, filename=shown)
    except jinja2.TemplateSyntaxError as e:  # e.g. an unknown filter, found while compiling
        raise _syntax_error(e, shown, text) from None
    template = env.template_class.from_code(env, code, env.make_globals(None))
    try:
        module = template.make_module(vars=env.globals, shared=True)  # type: ignore[arg-type]
    except Exception as e:
        raise _render_error(e, env, shown, text) from e
    for name, file in env.macro_names.items():
        if file == shown:
            env.globals[name] = getattr(module, name)


# --------------------------------------------------------------------------------------------
# Rendering


def render_file(path: Path, display_path: str, env: SandboxedEnvironment) -> SourceFile:
    """Render the query file at ``path``; ``display_path`` is how messages name it."""
    return render_text(_read(Path(path), display_path), display_path, env)


def render_text(text: str, display_path: str, env: SandboxedEnvironment) -> SourceFile:
    """Render ``text`` as the file ``display_path``."""
    plain = reading.without_jinja(text, display_path)
    if plain is not None:
        return plain
    marks = MARK_START not in text and MARK_END not in text
    template = _compile(text, display_path, env, marks)
    try:
        marked = _generate(template, display_path, text)
    except Exception as e:  # a RecursionError or a MemoryError too: located, never a crash
        raise _render_error(e, env, display_path, text) from None
    rendered, line_map = jinja_input.unmark(marked)
    if not marks:  # the file uses our marks' characters itself: lines one to one
        line_map = list(range(1, rendered.count("\n") + 3))
    if len(rendered) > MAX_FILE_BYTES:
        last = SourceFile(display_path, text, rendered, line_map).locate(MAX_FILE_BYTES)
        raise UserError(f"{display_path} renders to more than 1 MiB", last, _SIZE_HINT)
    return SourceFile(path=display_path, text=text, rendered=rendered, line_map=line_map)


def _compile(text: str, path: str, env: SandboxedEnvironment, marks: bool) -> jinja2.Template:
    """The template of a query file, its literal text marked with its line numbers."""
    env.marking = path if marks else None  # type: ignore[attr-defined]
    try:
        code = env.compile(text, name=path, filename=path)
    except jinja2.TemplateSyntaxError as e:
        raise _syntax_error(e, path, text) from None
    except Exception as e:  # Jinja's or Python's compiler gave up: RecursionError, SyntaxError
        raise _compile_error(e, path, text) from None
    finally:
        env.marking = None  # type: ignore[attr-defined]
    return env.template_class.from_code(env, code, env.make_globals(None))


def _generate(template: jinja2.Template, path: str, text: str) -> str:
    """Render, but stop as soon as the output passes the limit (a loop can make gigabytes)."""
    chunks: list[str] = []
    size = 0
    for chunk in template.generate():
        chunks.append(chunk)
        # At most this much of the chunk is marks: the exact check is on the unmarked text.
        size += len(chunk) - jinja_input.MAX_MARK * chunk.count(MARK_START)
        if size > MAX_FILE_BYTES:
            line = jinja_input.last_line("".join(chunks[-100:])) or 1
            where = _locate_word(path, text, line, None)
            raise UserError(f"{path} renders to more than 1 MiB", where, _SIZE_HINT)
    return "".join(chunks)


# --------------------------------------------------------------------------------------------
# Errors


def _lines(text: str) -> list[str]:
    return _NEWLINE.split(text)


def _source_line(text: str, line: int) -> str | None:
    lines = _lines(text)
    return lines[line - 1] if 1 <= line <= len(lines) else None


def _first_jinja_col(line: str | None) -> int:
    if not line:
        return 1
    m = _JINJA_START.search(line)
    if m:
        return m.start() + 1
    return len(line) - len(line.lstrip()) + 1


def _locate_word(path: str, text: str, line: int, word: str | None) -> Location:
    """``word`` on ``line``, else the first Jinja tag on it."""
    src = _source_line(text, line)
    if src is not None and word:
        m = re.search(rf"(?<![\w.]){re.escape(word)}(?!\w)", src) or re.search(re.escape(word), src)
        if m:
            return Location(path, line, m.start() + 1, src, len(word))
    return Location(path, line, _first_jinja_col(src), src, 1)


def _syntax_error(e: jinja2.TemplateSyntaxError, path: str, text: str) -> UserError:
    line = e.lineno or 1
    if isinstance(e, Refused):  # the token guard's refusals say what to point at, and why
        return UserError(e.message or "", _locate_word(path, text, line, e.word), e.hint)
    src = _source_line(text, line)
    message = e.message or "invalid Jinja syntax"
    token = _UNEXPECTED_TOKEN.search(message)
    if token and src is not None and token.group(1) in src:
        col = src.index(token.group(1)) + 1
        loc = Location(path, line, col, src, len(token.group(1)))
    else:
        loc = Location(path, line, _first_jinja_col(src), src, 2)
    if "end of template" in message:
        hint = "close every {% if %}, {% for %} and {% macro %} with its {% end... %} tag"
    else:
        hint = (
            "Jinja syntax is {{ expression }}, {% statement %} and {# comment #}; "
            "write a literal '{{' in SQL as {{ '{{' }}"
        )
    return UserError(f"Jinja syntax error: {message}", loc, hint)


def _compile_error(exc: BaseException, path: str, text: str) -> UserError:
    """Jinja's or Python's compiler died on what the token guard let through.

    There is no line in the exception; the longest tag of the file is the likeliest culprit.
    """
    longest = max(_TAG.finditer(text), key=lambda m: len(m.group(0)), default=None)
    line = text.count("\n", 0, longest.start()) + 1 if longest else 1
    detail = type(exc).__name__
    return UserError(
        f"Jinja nested too deeply: the template is too complex to compile ({detail})",
        _locate_word(path, text, line, None),
        "split it: move a part into a macro of macros/, or compute it with {% set %} first",
    )


class _Frame(t.NamedTuple):
    file: str
    line: int
    top_level: bool
    """The frame runs a template's top level (an include), not a macro."""


def _template_frames(exc: BaseException, files: t.Collection[str]) -> list[_Frame]:
    """The template frames of the traceback, outermost first.

    Jinja rewrites the traceback of a rendering error so that each template frame carries the
    template's filename and line (and calls the frame of a top level "top-level template
    code"); we compiled every template with its display path as filename.
    """
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename in files:
            top = code.co_name == "top-level template code"
            frames.append(_Frame(code.co_filename, tb.tb_lineno, top))
        tb = tb.tb_next
    return frames


class _Where(t.NamedTuple):
    """Where a rendering error happened: the file and line, and how the query got there."""

    file: str
    text: str
    line: int
    via: str

    def hint(self, hint: str | None) -> str | None:
        return "; ".join(p for p in (hint, self.via) if p) or None

    def at(self, word: str | None = None) -> Location:
        return _locate_word(self.file, self.text, self.line, word)


def _where(exc: BaseException, sources: dict[str, str], path: str) -> _Where:
    frames = _template_frames(exc, sources)
    inner = frames[-1] if frames else _Frame(path, 1, True)
    loading = isinstance(exc, jinja2.TemplateSyntaxError) and exc.filename in sources
    if loading:  # a syntax error in an included file: found when the include loads it
        syntax = t.cast(jinja2.TemplateSyntaxError, exc)
        inner = _Frame(str(syntax.filename), syntax.lineno or 1, True)
    via = ""
    if inner.file != path:
        outer = [f for f in frames if f.file == path]
        first_inner = next((f for f in frames if f.file == inner.file), inner)
        how = "included from" if loading or first_inner.top_level else "called from"
        if outer:
            via = f"{how} {path}:{outer[-1].line}"
    return _Where(inner.file, sources[inner.file], inner.line, via)


def _render_error(exc: BaseException, env: SandboxedEnvironment, path: str, text: str) -> UserError:
    sources: dict[str, str] = dict(getattr(env, "sources", {}))
    sources[path] = text
    where = _where(exc, sources, path)
    if isinstance(exc, UserError):
        return _located_user_error(exc, where)
    if isinstance(exc, jinja2.UndefinedError):
        return _undefined_error(exc, env, where)
    if isinstance(exc, jinja2.TemplateSyntaxError):  # an included file, or raised by a filter
        err = _syntax_error(exc, where.file, where.text)
        return UserError(err.message, err.location, where.hint(err.hint))
    for kind, message, hint in _RENDER_FAILURES:
        if isinstance(exc, kind):
            return UserError(message.format(exc=exc), where.at(), where.hint(hint))
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return UserError(f"error while rendering: {detail}", where.at(), where.hint(None))


_RENDER_FAILURES: list[tuple[type[BaseException], str, str | None]] = [
    (jinja2.exceptions.SecurityError, "unsafe operation in template: {exc}", None),
    (
        RecursionError,
        "Jinja nested too deeply: macros call one another without end",
        "a macro that calls itself needs a condition that stops it",
    ),
    (MemoryError, "out of memory while rendering", _SIZE_HINT),
]
"""What a failure of rendering means to the user, by the exception's type."""


def _located_user_error(exc: UserError, where: _Where) -> UserError:
    if exc.location is not None:
        return exc
    call = getattr(exc, "jinja_call", None)
    if call:
        loc = _locate_call(where.file, where.text, where.line, call)
    else:
        loc = where.at(getattr(exc, "jinja_word", None))
    return UserError(exc.message, loc, where.hint(exc.hint))


def _undefined_error(
    exc: jinja2.UndefinedError, env: SandboxedEnvironment, where: _Where
) -> UserError:
    message = exc.message or "undefined value"
    m = _UNDEFINED_NAME.match(message)
    if m:
        name = m.group(1)
        hint = where.hint(_undefined_hint(env, name))
        return UserError(f"undefined name '{name}'", where.at(name), hint)
    return UserError(f"undefined value: {message}", where.at(), where.hint(None))


def _locate_call(path: str, text: str, line: int, call: tuple[str, str]) -> Location:
    """The ``var('name'...)`` / ``env_var('NAME'...)`` call on ``line``."""
    func, arg = call
    src = _source_line(text, line)
    if src is not None:
        for pattern in (
            rf"(?<![\w.]){func}\s*\(\s*['\"]{re.escape(arg)}['\"][^)]*\)?",
            rf"(?<![\w.]){func}\s*\(",
        ):
            m = re.search(pattern, src)
            if m:
                return Location(path, line, m.start() + 1, src, len(m.group(0)))
    return _locate_word(path, text, line, None)


def _undefined_hint(env: SandboxedEnvironment, name: str) -> str:
    project_vars = [str(k) for k in getattr(env, "project_vars", {})]
    macros = sorted(getattr(env, "macro_names", {}))
    if name in project_vars:
        return f"'{name}' is a project var: write {{{{ var('{name}') }}}}"
    parts = []
    close = difflib.get_close_matches(name, macros + list(_BUILTINS), n=1)
    close_var = difflib.get_close_matches(name, project_vars, n=1)
    if close:
        parts.append(f"did you mean '{close[0]}'?")
    elif close_var:
        parts.append(f"did you mean var('{close_var[0]}')?")
    parts.append("available macros: " + (_short_list(macros) if macros else "none"))
    if project_vars:
        parts.append("vars (use var('name')): " + _short_list(sorted(project_vars)))
    return "; ".join(parts)


def _short_list(names: t.Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
