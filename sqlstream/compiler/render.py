"""Jinja rendering of query files, with errors that point at the line the user wrote.

A query file is rendered before it is parsed, in a sandboxed environment with strict undefined
names. Its globals are ``var()`` (project vars), ``env_var()`` (the process environment) and every
macro of the project's macro files. Every Jinja failure becomes a ``UserError`` located in the file
the user wrote (a query file or a macro file), never a traceback and never a position in rendered
text. The rendered text comes back as a ``SourceFile`` whose ``line_map`` leads every rendered line
back to the source line that produced it, so later stages can report positions the same way.

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

from sqlstream.compiler.source import SourceFile
from sqlstream.errors import Location, UserError
from sqlstream.project.env import MISSING, display_path, env_var

__all__ = [
    "make_environment",
    "render_file",
    "render_text",
]


# A file can only contain Jinja if it contains one of the three opening delimiters.
_JINJA_START = re.compile(r"\{[{%#]")
# Jinja counts lines on these, so the source lines of a file are split the same way.
_NEWLINE = re.compile(r"\r\n|\r|\n")
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")
_UNEXPECTED_TOKEN = re.compile(r"unexpected '([^']+)'")
_BUILTINS = ("var", "env_var")


class MacroEnvironment(SandboxedEnvironment):
    """The sandboxed environment of one run, with what error reporting needs to know."""

    project_vars: dict[str, t.Any]
    macro_names: dict[str, str]
    """Macro name -> the display path of the macro file that defines it."""
    sources: dict[str, str]
    """Display path -> text of every macro file, to quote its lines in errors."""


# --------------------------------------------------------------------------------------------
# Globals


def _make_var(project_vars: dict[str, t.Any]) -> t.Callable[..., t.Any]:
    def var(name: str, default: t.Any = MISSING) -> t.Any:
        """``{{ var('name', default) }}``: a project variable (sqlstream.yml ``vars:``, ``--vars``)."""
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
    project_vars: dict[str, t.Any], macro_files: t.Sequence[Path]
) -> SandboxedEnvironment:
    """The environment every query file of a run is rendered in.

    Each macro file is loaded as a template module; its macros become globals. Macro modules are
    created with the environment's globals as their live namespace, so a macro may call a macro
    of another file whatever order the files load in.
    """
    env = MacroEnvironment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.project_vars = dict(project_vars)
    env.macro_names = {}
    env.sources = {}
    env.globals["var"] = _make_var(env.project_vars)
    env.globals["env_var"] = env_var
    for path in macro_files:
        _load_macro_file(env, Path(path))
    return env


def _read(path: Path, shown: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read {shown}: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(
            f"{shown} is not valid UTF-8 (byte 0x{data[e.start]:02x})",
            Location(shown, line, 1),
            hint="save the file as UTF-8",
        ) from None
    # Universal newlines, as Jinja sees them: line numbers agree everywhere.
    return _NEWLINE.sub("\n", text)


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
    if not _JINJA_START.search(text):
        # No Jinja at all: the file is its own rendering (and compiling 500 of them is free).
        return SourceFile(path=display_path, text=text, rendered=text)
    try:
        code = env.compile(text, name=display_path, filename=display_path)
    except jinja2.TemplateSyntaxError as e:
        raise _syntax_error(e, display_path, text) from None
    template = env.template_class.from_code(env, code, env.make_globals(None))
    try:
        rendered = template.render()
    except Exception as e:
        raise _render_error(e, env, display_path, text) from e
    return SourceFile(
        path=display_path, text=text, rendered=rendered, line_map=line_map(text, rendered)
    )


def line_map(text: str, rendered: str) -> list[int]:
    """For each line of ``rendered`` (0-based), the 1-based line of ``text`` it came from.

    Lines Jinja left alone are matched exactly (``difflib.SequenceMatcher``) and map one to one.
    Inside a block that Jinja changed, each source line is read as a pattern (its Jinja tags match
    anything) and every rendered line goes to the source line whose pattern it matches most
    specifically, in order; lines no pattern explains (a multi-line macro output, a ``{% for %}``
    expansion) stay with the line before them, so they map to the line that produced them, and a
    block nothing explains maps to its first source line. One extra entry covers the end of text.
    """
    src = _NEWLINE.split(text)
    out = rendered.split("\n")
    if src == out:
        return list(range(1, len(out) + 2))
    result: list[int] = []
    matcher = difflib.SequenceMatcher(None, src, out, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            result.extend(range(i1 + 1, i2 + 1))
        elif tag == "replace":
            result.extend(_align_block(src, i1, i2, out[j1:j2]))
        elif tag == "insert":
            # Lines with no source counterpart come from the line before them.
            result.extend([max(1, i1)] * (j2 - j1))
    result.append(result[-1] if result else 1)
    return result


_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")
_ALIGN_LIMIT = 250_000  # source lines x rendered lines of one block; beyond it, the simple rule


def _line_pattern(line: str) -> tuple[re.Pattern[str] | None, int]:
    """A source line as a pattern over rendered lines, and how specific a match with it is.

    ``None`` means the line has no Jinja and must match exactly. Specificity is one plus the
    number of literal non-blank characters, so ``FROM {{ t }}`` beats a bare ``{{ m() }}``.
    """
    if not _JINJA_START.search(line):
        return None, 1 + len(line.replace(" ", "").replace("\t", ""))
    parts: list[str] = []
    pos = 0
    literal = 0
    for m in _TAG.finditer(line):
        chunk = line[pos : m.start()]
        literal += len(chunk.strip())
        parts.append(r"\s*".join(re.escape(w) for w in chunk.split()) if chunk.strip() else "")
        parts.append("" if m.group(0).startswith("{#") else ".*?")
        pos = m.end()
    rest = line[pos:]
    if _JINJA_START.search(rest):  # a tag that goes on to the next line
        parts.append(".*")
    else:
        literal += len(rest.strip())
        parts.append(r"\s*".join(re.escape(w) for w in rest.split()) if rest.strip() else "")
    return re.compile(r"\s*" + r"\s*".join(p for p in parts if p) + r"\s*"), 1 + literal


def _align_block(src: list[str], i1: int, i2: int, out: list[str]) -> list[int]:
    """Map the rendered lines ``out`` to source lines ``i1..i2-1`` (0-based), in order."""
    a, b = i2 - i1, len(out)
    if a * b > _ALIGN_LIMIT:
        return [i1 + 1] * b
    patterns = [_line_pattern(src[i]) for i in range(i1, i2)]

    def score(i: int, line: str) -> int:
        # Doubled, so that a real match always outweighs the +1 of moving on by one line.
        pattern, weight = patterns[i]
        if pattern is None:
            return 2 * weight if src[i1 + i] == line else 0
        return 2 * weight if pattern.fullmatch(line) else 0

    # best[i]: the best total for the lines so far with the last one mapped to source i.
    back: list[list[int]] = []
    best = [score(i, out[0]) for i in range(a)]
    for j in range(1, b):
        prefix_best, prefix_arg = -1, 0
        row, new = [0] * a, [0] * a
        for i in range(a):
            if best[i] > prefix_best:
                prefix_best, prefix_arg = best[i], i
            # Moving on by exactly one line wins a tie: ``{{ x }}`` / ``{{ y }}`` map 1:1.
            if i > 0 and best[i - 1] + 1 > prefix_best:
                row[i], new[i] = i - 1, best[i - 1] + 1 + score(i, out[j])
            else:
                row[i], new[i] = prefix_arg, prefix_best + score(i, out[j])
        back.append(row)
        best = new
    i = max(range(a), key=lambda k: (best[k], -k))
    mapped = [i]
    for row in reversed(back):
        i = row[i]
        mapped.append(i)
    mapped.reverse()
    return [i1 + 1 + i for i in mapped]


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


def _template_frames(exc: BaseException, files: t.Collection[str]) -> list[tuple[str, int]]:
    """The (file, line) of each template frame of the traceback, outermost first.

    Jinja rewrites the traceback of a rendering error so that each template frame carries the
    template's filename and line; we compiled every template with its display path as filename.
    """
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in files:
            frames.append((filename, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _render_error(exc: BaseException, env: SandboxedEnvironment, path: str, text: str) -> UserError:
    sources: dict[str, str] = dict(getattr(env, "sources", {}))
    sources[path] = text
    frames = _template_frames(exc, sources)
    file, line = frames[-1] if frames else (path, 1)
    file_text = sources[file]
    called_from = ""
    if file != path:
        outer = [f for f in frames if f[0] == path]
        if outer:
            called_from = f"called from {path}:{outer[-1][1]}"

    def hint_with_call(hint: str | None) -> str | None:
        parts = [p for p in (hint, called_from) if p]
        return "; ".join(parts) or None

    if isinstance(exc, UserError):
        if exc.location is not None:
            return exc
        call = getattr(exc, "jinja_call", None)
        loc = (
            _locate_call(file, file_text, line, call)
            if call
            else _locate_word(file, file_text, line, None)
        )
        return UserError(exc.message, loc, hint_with_call(exc.hint))

    if isinstance(exc, jinja2.UndefinedError):
        message = exc.message or "undefined value"
        m = _UNDEFINED_NAME.match(message)
        if m:
            name = m.group(1)
            loc = _locate_word(file, file_text, line, name)
            return UserError(
                f"undefined name '{name}'", loc, hint_with_call(_undefined_hint(env, name))
            )
        loc = _locate_word(file, file_text, line, None)
        return UserError(f"undefined value: {message}", loc, hint_with_call(None))

    if isinstance(exc, jinja2.TemplateSyntaxError):  # raised while rendering, e.g. by a filter
        return _syntax_error(exc, file, file_text)

    loc = _locate_word(file, file_text, line, None)
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return UserError(f"unsafe operation in template: {exc}", loc, hint_with_call(None))
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return UserError(f"error while rendering: {detail}", loc, hint_with_call(None))


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
