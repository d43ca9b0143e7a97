"""Protobuf schemas as the compiler knows them, and the ``protobuf-confluent`` codec.

A registry holds a Protobuf schema either as ``.proto`` text (what Confluent's registry answers,
and what a Java producer registers) or as a base64 ``FileDescriptorProto`` (what confluent-kafka's
Python serializer registers, and what Apicurio keeps as it was given). Both become one model here:
``FileDescriptorProto`` as plain dicts (``FILE`` below gives its field numbers, a table, so the
same walk reads and writes the binary form). From the model come a stream's columns (Spark types)
and the descriptor bytes handed to the JVM functions of ``jvm/`` (``sqlstream.protobuf.Decode``,
``Encode``), which build a ``DynamicMessage`` with protobuf-java: Spark has no Protobuf support
that Maven Central serves (spark-protobuf is not there), so the decoding is the project's own.

No protobuf library is needed to compile: the compiler runs without one (and without a JVM).
What is refused, with the field it is about: imports (other files, the well-known types), groups,
recursive messages, proto2 extensions.
"""

from __future__ import annotations

import base64
import binascii
import re
import typing as t

from sqlstream.compiler import codecs

# --- the model: FileDescriptorProto as dicts, its field numbers in tables ------------------------

Table = dict[int, tuple[str, str, bool]]
"""field number -> (name, kind, repeated); kind is ``str``, ``int``, ``bool`` or a table's name."""

TABLES: dict[str, Table] = {
    "file": {
        1: ("name", "str", False),
        2: ("package", "str", False),
        3: ("dependency", "str", True),
        4: ("message_type", "message", True),
        5: ("enum_type", "enum", True),
        12: ("syntax", "str", False),
    },
    "message": {
        1: ("name", "str", False),
        2: ("field", "field", True),
        3: ("nested_type", "message", True),
        4: ("enum_type", "enum", True),
        6: ("extension", "field", True),
        7: ("options", "message_options", False),
        8: ("oneof_decl", "oneof", True),
    },
    "field": {
        1: ("name", "str", False),
        2: ("extendee", "str", False),
        3: ("number", "int", False),
        4: ("label", "int", False),
        5: ("type", "int", False),
        6: ("type_name", "str", False),
        9: ("oneof_index", "int", False),
        17: ("proto3_optional", "bool", False),
    },
    "enum": {1: ("name", "str", False), 2: ("value", "enum_value", True)},
    "enum_value": {1: ("name", "str", False), 2: ("number", "int", False)},
    "message_options": {7: ("map_entry", "bool", False)},
    "oneof": {1: ("name", "str", False)},
}

LABEL_OPTIONAL, LABEL_REPEATED = 1, 3
TYPE_GROUP, TYPE_MESSAGE, TYPE_ENUM = 10, 11, 14

SCALARS: dict[str, tuple[int, str]] = {
    "double": (1, "DOUBLE"),
    "float": (2, "FLOAT"),
    "int64": (3, "BIGINT"),
    "uint64": (4, "DECIMAL(20,0)"),
    "int32": (5, "INT"),
    "fixed64": (6, "DECIMAL(20,0)"),
    "fixed32": (7, "BIGINT"),
    "bool": (8, "BOOLEAN"),
    "string": (9, "STRING"),
    "bytes": (12, "BINARY"),
    "uint32": (13, "BIGINT"),
    "sfixed32": (15, "INT"),
    "sfixed64": (16, "BIGINT"),
    "sint32": (17, "INT"),
    "sint64": (18, "BIGINT"),
}
"""A ``.proto`` scalar -> (its FieldDescriptorProto type number, the Spark type it reads as).
Unsigned 32-bit values read as BIGINT and unsigned 64-bit as DECIMAL(20,0): no value wraps."""
SPARK_TYPE_OF = {number: spark for number, spark in SCALARS.values()}
SPARK_TYPE_OF[TYPE_ENUM] = "STRING"  # an enum reads as its value's name

WRITTEN_AS: dict[str, str] = {
    "STRING": "string",
    "BOOLEAN": "bool",
    "INT": "int32",
    "BIGINT": "int64",
    "FLOAT": "float",
    "DOUBLE": "double",
    "BINARY": "bytes",
}
"""A sink column's Spark type -> the ``.proto`` type of its field (proto3 ``optional``)."""


class ProtoProblem(ValueError):
    """A Protobuf schema that cannot be read, or a construct not mapped (the message says which)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


# --- the binary form ----------------------------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ProtoProblem("truncated descriptor")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def read_binary(data: bytes, table: str = "file") -> dict[str, t.Any]:
    """One message of ``TABLES[table]`` from protobuf bytes; fields not in the table skipped."""
    fields, out, pos = TABLES[table], {}, 0  # type: ignore[var-annotated]
    value: t.Any
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            value = value - (1 << 64) if value >= 1 << 63 else value
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            continue
        else:
            raise ProtoProblem(f"descriptor has wire type {wire}")
        if number not in fields:
            continue
        name, kind, repeated = fields[number]
        value = _typed(value, kind)
        if repeated:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def _typed(value: t.Any, kind: str) -> t.Any:
    if kind == "str":
        return bytes(value).decode("utf-8")
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    return read_binary(bytes(value), kind)


def _put_varint(out: bytearray, value: int) -> None:
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return


def write_binary(message: t.Mapping[str, t.Any], table: str = "file") -> bytes:
    """The protobuf bytes of a model message (fields in number order, as protoc writes them)."""
    out = bytearray()
    for number, (name, kind, repeated) in sorted(TABLES[table].items()):
        if name not in message:
            continue
        for value in message[name] if repeated else [message[name]]:
            if kind in ("int", "bool"):
                _put_varint(out, number << 3)
                _put_varint(out, int(value))
                continue
            raw = value.encode("utf-8") if kind == "str" else write_binary(value, kind)
            _put_varint(out, number << 3 | 2)
            _put_varint(out, len(raw))
            out += raw
    return bytes(out)


# --- the text form --------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s+|//[^\n]*|/\*.*?\*/|(?P<tok>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[A-Za-z_][\w.]*'
    r"|\.[A-Za-z_][\w.]*|-?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|[{}\[\]()<>;,=])",
    re.DOTALL,
)


class _Tokens:
    def __init__(self, text: str) -> None:
        self.items: list[str] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise ProtoProblem(f".proto text: unexpected {text[pos : pos + 10]!r}")
            if m.group("tok"):
                self.items.append(m.group("tok"))
            pos = m.end()
        self.pos = 0

    def peek(self) -> str:
        return self.items[self.pos] if self.pos < len(self.items) else ""

    def next(self) -> str:
        tok = self.peek()
        if not tok:
            raise ProtoProblem(".proto text ends too early")
        self.pos += 1
        return tok

    def expect(self, wanted: str) -> None:
        tok = self.next()
        if tok != wanted:
            raise ProtoProblem(f".proto text: expected {wanted!r}, found {tok!r}")

    def skip_statement(self) -> None:
        """Up to and including the next ``;`` at this level (options, reserved, extensions)."""
        depth = 0
        while True:
            tok = self.next()
            depth += {"{": 1, "[": 1, "(": 1, "}": -1, "]": -1, ")": -1}.get(tok, 0)
            if tok == ";" and depth == 0:
                return
            if tok == "}" and depth == 0:
                return


def _unquote(tok: str) -> str:
    return tok[1:-1]


def parse_text(text: str) -> dict[str, t.Any]:
    """The model of a ``.proto`` file's text (type names left as written; ``resolve`` fixes)."""
    toks = _Tokens(text)
    model: dict[str, t.Any] = {"name": "schema.proto", "syntax": "proto2"}
    while toks.peek():
        word = toks.next()
        if word == ";":
            continue
        handler = _FILE_STATEMENTS.get(word)
        if handler is None:
            raise ProtoProblem(f".proto text: unexpected {word!r} at the top level")
        handler(toks, model)
    resolve(model)
    return model


def _syntax(toks: _Tokens, model: dict[str, t.Any]) -> None:
    toks.expect("=")
    model["syntax"] = _unquote(toks.next())
    toks.expect(";")


def _package(toks: _Tokens, model: dict[str, t.Any]) -> None:
    model["package"] = toks.next()
    toks.expect(";")


def _import(toks: _Tokens, model: dict[str, t.Any]) -> None:
    tok = toks.next()
    if tok in ("public", "weak"):
        tok = toks.next()
    model.setdefault("dependency", []).append(_unquote(tok))
    toks.expect(";")


def _top_message(toks: _Tokens, model: dict[str, t.Any]) -> None:
    model.setdefault("message_type", []).append(_message(toks))


def _top_enum(toks: _Tokens, model: dict[str, t.Any]) -> None:
    model.setdefault("enum_type", []).append(_enum(toks))


def _skip(toks: _Tokens, model: dict[str, t.Any]) -> None:
    toks.skip_statement()


def _skip_block(toks: _Tokens, model: dict[str, t.Any]) -> None:
    """``service``, ``extend``: a name and a block, nothing a stream reads."""
    while toks.next() != "{":
        pass
    depth = 1
    while depth:
        depth += {"{": 1, "}": -1}.get(toks.next(), 0)


_FILE_STATEMENTS: dict[str, t.Callable[[_Tokens, dict[str, t.Any]], None]] = {
    "syntax": _syntax,
    "edition": _syntax,
    "package": _package,
    "import": _import,
    "option": _skip,
    "message": _top_message,
    "enum": _top_enum,
    "service": _skip_block,
    "extend": _skip_block,
}


def _message(toks: _Tokens) -> dict[str, t.Any]:
    message: dict[str, t.Any] = {"name": toks.next()}
    toks.expect("{")
    while toks.peek() != "}":
        _message_item(toks, message, None)
    toks.expect("}")
    return message


def _message_item(toks: _Tokens, message: dict[str, t.Any], oneof: int | None) -> None:
    word = toks.peek()
    if word == ";":
        toks.next()
    elif word in ("option", "reserved", "extensions"):
        toks.skip_statement()
    elif word == "message":
        toks.next()
        message.setdefault("nested_type", []).append(_message(toks))
    elif word == "enum":
        toks.next()
        message.setdefault("enum_type", []).append(_enum(toks))
    elif word == "extend":
        _skip_block(toks, message)
    elif word == "oneof":
        toks.next()
        index = len(message.setdefault("oneof_decl", []))
        message["oneof_decl"].append({"name": toks.next()})
        toks.expect("{")
        while toks.peek() != "}":
            _message_item(toks, message, index)
        toks.expect("}")
    else:
        _field(toks, message, oneof)


def _field(toks: _Tokens, message: dict[str, t.Any], oneof: int | None) -> None:
    field: dict[str, t.Any] = {"label": LABEL_OPTIONAL}
    word = toks.next()
    if word in ("optional", "required", "repeated"):
        field["label"] = {"optional": 1, "required": 2, "repeated": 3}[word]
        field["proto3_optional"] = word == "optional"
        word = toks.next()
    if word == "group":
        raise ProtoProblem(f"message {message['name']}: groups are not mapped")
    if word == "map":
        _map_field(toks, message, field)
        return
    field["type_name"] = word
    field["name"] = toks.next()
    toks.expect("=")
    field["number"] = int(toks.next(), 0)
    if toks.peek() == "[":
        toks.skip_statement()
    else:
        toks.expect(";")
    if oneof is not None:
        field["oneof_index"] = oneof
    message.setdefault("field", []).append(field)


def _map_field(toks: _Tokens, message: dict[str, t.Any], field: dict[str, t.Any]) -> None:
    """``map<K, V> name = N;``: a repeated nested ``NameEntry`` message (as protoc writes it)."""
    toks.expect("<")
    key = toks.next()
    toks.expect(",")
    value = toks.next()
    toks.expect(">")
    name = toks.next()
    toks.expect("=")
    number = int(toks.next(), 0)
    if toks.peek() == "[":
        toks.skip_statement()
    else:
        toks.expect(";")
    entry = "".join(p[:1].upper() + p[1:] for p in name.split("_")) + "Entry"
    message.setdefault("nested_type", []).append(
        {
            "name": entry,
            "field": [
                {"name": "key", "number": 1, "label": LABEL_OPTIONAL, "type_name": key},
                {"name": "value", "number": 2, "label": LABEL_OPTIONAL, "type_name": value},
            ],
            "options": {"map_entry": True},
        }
    )
    message.setdefault("field", []).append(
        {"name": name, "number": number, "label": LABEL_REPEATED, "type_name": entry}
    )


def _enum(toks: _Tokens) -> dict[str, t.Any]:
    enum: dict[str, t.Any] = {"name": toks.next(), "value": []}
    toks.expect("{")
    while toks.peek() != "}":
        word = toks.next()
        if word in ("option", "reserved"):
            toks.skip_statement()
        elif word != ";":
            toks.expect("=")
            enum["value"].append({"name": word, "number": int(toks.next(), 0)})
            if toks.peek() == "[":
                toks.skip_statement()
            else:
                toks.expect(";")
    toks.expect("}")
    return enum


def resolve(model: dict[str, t.Any]) -> None:
    """Give every field written with a type name its type and fully-qualified ``.pkg.Name``,
    looked up from the innermost scope out, as protoc does; scalars get their type number.
    proto2's ``optional`` is no proto3 optional."""
    known: dict[str, int] = {}
    _declare(model.get("message_type", []), model.get("enum_type", []), _scope(model), known)
    proto3 = model.get("syntax") == "proto3"
    for scope, message in _messages(model.get("message_type", []), _scope(model)):
        for field in message.get("field", []):
            if not proto3:
                field.pop("proto3_optional", None)
            elif not field.get("proto3_optional"):
                field.pop("proto3_optional", None)
            written = field.get("type_name")
            if written is None or "type" in field:
                continue
            if written in SCALARS:
                field["type"] = SCALARS[written][0]
                del field["type_name"]
                continue
            full = _lookup(written, f"{scope}.{message['name']}", known)
            if full is None:
                raise ProtoProblem(
                    f"field {message['name']}.{field['name']}: unknown type {written} "
                    "(imported types are not mapped)"
                )
            field["type_name"], field["type"] = full, known[full]
    _proto3_oneofs(model)


def _proto3_oneofs(model: dict[str, t.Any]) -> None:
    """proto3 ``optional`` is a one-field synthetic oneof ``_name`` (as protoc writes it)."""
    for _, message in _messages(model.get("message_type", []), ""):
        for field in message.get("field", []):
            if field.get("proto3_optional") and "oneof_index" not in field:
                field["oneof_index"] = len(message.setdefault("oneof_decl", []))
                message["oneof_decl"].append({"name": "_" + field["name"]})


def _declare(
    messages: t.Sequence[t.Mapping[str, t.Any]],
    enums: t.Sequence[t.Mapping[str, t.Any]],
    scope: str,
    known: dict[str, int],
) -> None:
    for enum in enums:
        known[f"{scope}.{enum['name']}"] = TYPE_ENUM
    for message in messages:
        inner = f"{scope}.{message['name']}"
        known[inner] = TYPE_MESSAGE
        _declare(message.get("nested_type", []), message.get("enum_type", []), inner, known)


def _messages(
    messages: t.Sequence[dict[str, t.Any]], scope: str
) -> t.Iterator[tuple[str, dict[str, t.Any]]]:
    """Every message with the scope it is declared in, depth first."""
    for message in messages:
        yield scope, message
        yield from _messages(message.get("nested_type", []), f"{scope}.{message['name']}")


def _scope(model: t.Mapping[str, t.Any]) -> str:
    package = model.get("package", "")
    return "." + package if package else ""


def _lookup(written: str, scope: str, known: t.Mapping[str, int]) -> str | None:
    if written.startswith("."):
        return written if written in known else None
    while True:
        candidate = f"{scope}.{written}"
        if candidate in known:
            return candidate
        if not scope:
            return None
        scope = scope.rsplit(".", 1)[0] if "." in scope else ""


# --- a registry's schema text -> the model, the descriptor bytes ---------------------------------

_BASE64 = re.compile(r"^[A-Za-z0-9+/]+=*$")


def parse_schema(schema: str) -> tuple[dict[str, t.Any], bytes]:
    """The model of a registry's Protobuf schema and the ``FileDescriptorProto`` bytes the JVM
    builds its descriptor from: base64 bytes are kept as they are, text is parsed and written."""
    text = schema.strip()
    if _BASE64.match(text):
        try:
            data = base64.b64decode(text, validate=True)
            model = read_binary(data)
            if model.get("message_type"):
                _refuse_imports(model)
                return model, data
        except (binascii.Error, ProtoProblem, UnicodeDecodeError, IndexError):
            pass
    model = parse_text(schema)
    _refuse_imports(model)
    return model, write_binary(model)


def _refuse_imports(model: t.Mapping[str, t.Any]) -> None:
    if model.get("dependency"):
        raise ProtoProblem(
            f"the schema imports {', '.join(model['dependency'])}: schemas with imports "
            "(references, the well-known types) are not mapped yet"
        )


def message_names(model: t.Mapping[str, t.Any]) -> list[str]:
    """Fully-qualified names of every message, the file's first message first."""
    return [
        f"{scope}.{m['name']}".lstrip(".")
        for scope, m in _messages(model.get("message_type", []), _scope(model))
        if not m.get("options", {}).get("map_entry")
    ]


def find_message(
    model: t.Mapping[str, t.Any], full_name: str | None
) -> tuple[str, dict[str, t.Any]]:
    """The full name and the message ``full_name`` (default: the file's first, Confluent's
    message index 0)."""
    for scope, message in _messages(model.get("message_type", []), _scope(model)):
        name = f"{scope}.{message['name']}".lstrip(".")
        if full_name is None or name == full_name:
            return name, message
    raise ProtoProblem(
        f"the schema has no message {full_name}; it has {', '.join(message_names(model))}"
    )


def _all_messages(model: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    return {
        f"{scope}.{m['name']}": m
        for scope, m in _messages(model.get("message_type", []), _scope(model))
    }


def columns(model: t.Mapping[str, t.Any], message: dict[str, t.Any]) -> list[tuple[str, str]]:
    """The (name, Spark type) of each field of ``message``: the stream's columns."""
    index = _all_messages(model)
    return [
        (f["name"], _spark_type(f, index, (message["name"],))) for f in message.get("field", [])
    ]


def _spark_type(
    field: t.Mapping[str, t.Any], index: t.Mapping[str, dict[str, t.Any]], path: tuple[str, ...]
) -> str:
    element = _element_type(field, index, path)
    return (
        f"ARRAY<{element}>"
        if field.get("label") == LABEL_REPEATED and element[:4] != "MAP<"
        else element
    )


def _element_type(
    field: t.Mapping[str, t.Any], index: t.Mapping[str, dict[str, t.Any]], path: tuple[str, ...]
) -> str:
    kind = field.get("type")
    if kind in SPARK_TYPE_OF:
        return SPARK_TYPE_OF[kind]
    where = ".".join([*path, field["name"]])
    if kind != TYPE_MESSAGE:
        raise ProtoProblem(f"field {where}: protobuf type {kind} is not mapped (groups are not)")
    nested = index[field["type_name"]]
    if nested["name"] in path:
        raise ProtoProblem(f"field {where}: recursive message {nested['name']} is not mapped")
    inner = [
        (f["name"], _spark_type(f, index, (*path, nested["name"]))) for f in nested.get("field", [])
    ]
    if nested.get("options", {}).get("map_entry"):
        return f"MAP<{inner[0][1]}, {inner[1][1]}>"
    return "STRUCT<" + ", ".join(f"{codecs.quote_ident(n)}: {ty}" for n, ty in inner) + ">"


def sink_schema(message: str, fields: t.Iterable[codecs.Column]) -> str:
    """The ``.proto`` text of a sink's value: one proto3 message, a field per output column in
    the SELECT's order: a scalar is ``optional`` (a NULL is an unset field), a STRUCT a nested
    message, an ARRAY a ``repeated`` field."""
    tree = [(f.name, _spark_tree(f.type)) for f in fields]
    return "\n".join(['syntax = "proto3";', "", *_message_lines(message, tree, "")]) + "\n"


SparkTree = tuple[t.Any, ...]
"""A Spark type as a tree: ``("BIGINT",)``, ``("ARRAY", elem)``, ``("STRUCT", [(name, tree)])``."""

_SPARK_TOKEN = re.compile(r"`(?:[^`]|``)*`|\w+(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?|[<>,:]")


def _spark_tree(text: str) -> SparkTree:
    tokens = _SPARK_TOKEN.findall(text)
    tree, rest = _read_spark_type(tokens)
    if rest:
        raise ProtoProblem(f"cannot read the type {text}")
    return tree


def _read_spark_type(tokens: list[str]) -> tuple[SparkTree, list[str]]:
    head, rest = tokens[0].upper(), tokens[1:]
    if head == "ARRAY" and rest[:1] == ["<"]:
        element, rest = _read_spark_type(rest[1:])
        return ("ARRAY", element), rest[1:]
    if head == "MAP" and rest[:1] == ["<"]:
        key, rest = _read_spark_type(rest[1:])
        value, rest = _read_spark_type(rest[1:])
        return ("MAP", key, value), rest[1:]
    if head == "STRUCT" and rest[:1] == ["<"]:
        members, rest = [], rest[1:]
        while rest and rest[0] != ">":
            name = rest[0].strip("`").replace("``", "`")
            rest = rest[2:] if rest[1:2] == [":"] else rest[1:]
            member, rest = _read_spark_type(rest)
            members.append((name, member))
            rest = rest[1:] if rest[:1] == [","] else rest
        return ("STRUCT", members), rest[1:]
    return (codecs.normalise_type(tokens[0]),), rest


def _spark_text(tree: SparkTree) -> str:
    if tree[0] == "ARRAY":
        return f"ARRAY<{_spark_text(tree[1])}>"
    if tree[0] == "MAP":
        return f"MAP<{_spark_text(tree[1])}, {_spark_text(tree[2])}>"
    if tree[0] == "STRUCT":
        return "STRUCT<" + ", ".join(f"{n}: {_spark_text(m)}" for n, m in tree[1]) + ">"
    return str(tree[0])


def _message_lines(name: str, fields: list[tuple[str, SparkTree]], indent: str) -> list[str]:
    body: list[str] = []
    for number, (field, tree) in enumerate(fields, 1):
        if not re.fullmatch(r"[A-Za-z_]\w*", field):
            raise ProtoProblem(
                f"column {field!r} is no Protobuf field name",
                "alias it with letters, digits and underscores",
            )
        repeated = tree[0] == "ARRAY"
        element = tree[1] if repeated else tree
        if element[0] in ("ARRAY", "MAP"):
            raise ProtoProblem(
                f"protobuf-confluent does not write {field} ({_spark_text(tree)}): maps and "
                "arrays of arrays are not written yet",
                "select its parts, or write it with FORMAT json",
            )
        if element[0] == "STRUCT":
            kind = "".join(p[:1].upper() + p[1:] for p in field.split("_") if p) or "Field"
            body += _message_lines(kind, element[1], indent + "  ")
        else:
            kind = WRITTEN_AS.get(element[0], "")
            if not kind:
                raise ProtoProblem(
                    f"protobuf-confluent writes {', '.join(WRITTEN_AS)} columns; {field} is "
                    f"{_spark_text(tree)}",
                    "cast the column (a TIMESTAMP to STRING, or unix_micros(...) to BIGINT)",
                )
        label = "repeated " if repeated else ("optional " if element[0] != "STRUCT" else "")
        body.append(f"{indent}  {label}{kind} {field} = {number};")
    return [f"{indent}message {name} {{", *body, f"{indent}}}"]


def message_name(text: str) -> str:
    """A Protobuf message name from a subject (``orders-value`` -> ``orders_value``)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if re.match(r"[A-Za-z_]", name) else "_" + name


def same_schema(a: str, b: str) -> bool:
    """Whether two registry schemas describe the same messages (text or base64 alike)."""
    try:
        return _canonical(parse_schema(a)[0]) == _canonical(parse_schema(b)[0])
    except ProtoProblem:
        return a == b


def _canonical(model: t.Mapping[str, t.Any]) -> t.Any:
    return {k: v for k, v in model.items() if k != "name"}


# --- the codec of protobuf-confluent ------------------------------------------------------------

DECODE_CLASS = "sqlstream.protobuf.Decode"
ENCODE_CLASS = "sqlstream.protobuf.Encode"
ENCODE_FUNCTION = "__sqlstream_protobuf_encode"
MESSAGE_OPTION = "protobuf_message"
"""The message of the schema a stream reads or a sink writes (default: the file's first)."""
ERROR_FIELD = codecs.HIDDEN_PREFIX + "error"
"""The last field of what the decode function returns: why a record is bad, NULL when good."""


def decode_function(return_type: str) -> str:
    """The name a decode function is registered under: one per return type, which Spark's
    ``registerJavaFunction`` fixes (``hashlib``: the same plan always names it the same)."""
    import hashlib

    return "__sqlstream_protobuf_" + hashlib.sha1(return_type.encode()).hexdigest()[:12]


def _reader(
    schema: str, wanted: str | None
) -> tuple[dict[str, t.Any], bytes, str, dict[str, t.Any]]:
    model, data = parse_schema(schema)
    full, message = find_message(model, wanted)
    return model, data, full, message


def decode_protobuf_confluent(
    side: codecs.Side, columns: t.Sequence[codecs.Column], options: t.Mapping[str, str]
) -> codecs.Part:
    """Each record decoded by the JVM function with its own writer's descriptor, chosen by the id
    after the magic byte (as ``avro-confluent`` chooses its ``from_avro``); the function returns
    the declared columns as the latest writer types them, and a reason when the record is bad
    (bad message indexes, a payload that does not decode). Declared types other than the
    latest writer's are ``try_cast``."""
    import json

    writers = json.loads(options[codecs.CONFLUENT_WRITERS.format(what=side.what)])
    wanted = options.get(MESSAGE_OPTION)
    try:
        latest_model, _, full, latest = _reader(writers[-1][1], wanted)
        natural = _column_types(latest_model, latest)
    except ProtoProblem as e:
        raise ValueError(str(e)) from None
    for c in columns:
        if c.name not in natural:
            raise ValueError(f"column {c.name} is not a field of message {full}")
    ddl = codecs.ddl_schema(
        [(c.name, natural[c.name]) for c in columns] + [(ERROR_FIELD, "STRING")]
    )
    return_type = (
        "STRUCT<"
        + ", ".join(f"{codecs.quote_ident(c.name)}: {natural[c.name]}" for c in columns)
        + f", {codecs.quote_ident(ERROR_FIELD)}: STRING>"
    )
    function = decode_function(return_type)
    raw, struct = side.raw, codecs.quote_ident(side.struct)
    branches, lacking = [], []
    for schema_id, schema in writers:
        try:
            _, data, _, _ = _reader(schema, full)
        except ProtoProblem:
            lacking.append(codecs.confluent_prefix(int(schema_id)))
            continue  # an older writer without the message (or one that cannot be read)
        spec = f"{base64.b64encode(data).decode()} {full} {ddl}"
        branches.append(
            (
                f"substring({raw}, 1, 5) = {codecs.confluent_prefix(int(schema_id))}",
                f"{function}({raw}, {codecs.sql_string(spec)})",
            )
        )
    part = codecs.Part(parse_exprs=[f"{codecs.case(branches, 'NULL')} AS {struct}"])
    part.functions.append((function, DECODE_CLASS, return_type))
    for c in columns:
        got = f"{struct}.{codecs.quote_ident(c.name)}"
        if codecs.normalise_type(c.type) == codecs.normalise_type(natural[c.name]):
            part.outputs[c.name] = got
            continue
        part.outputs[c.name] = f"try_cast({got} AS {c.type})"
        part.errors.append(
            (
                f"{got} IS NOT NULL AND try_cast({got} AS {c.type}) IS NULL",
                codecs.cannot_convert(f"field {c.name}", f"CAST({got} AS STRING)", c.type),
            )
        )
    part.errors[:0] = codecs.confluent_prefix_errors(side, [int(i) for i, _ in writers], shortest=6)
    part.errors.insert(
        2,
        (
            f"{raw} IS NOT NULL AND {struct}.{codecs.quote_ident(ERROR_FIELD)} IS NOT NULL",
            f"concat({codecs.sql_string(side.what + ' ')}, "
            f"{struct}.{codecs.quote_ident(ERROR_FIELD)}, "
            f"' (schema id ', {codecs.schema_id_sql(raw)}, ')')",
        ),
    )
    if lacking:
        part.errors.insert(
            2,
            (
                f"{raw} IS NOT NULL AND substring({raw}, 1, 5) IN ({', '.join(lacking)})",
                f"concat({codecs.sql_string(side.what + ' has schema id ')}, "
                f"{codecs.schema_id_sql(raw)}, "
                f"{codecs.sql_string(f', whose schema has no message {full}')})",
            ),
        )
    return part


def encode_protobuf_confluent(
    fields: t.Sequence[codecs.Column], options: t.Mapping[str, str]
) -> str:
    """The JVM function writing the registered schema's framing and payload: the id, the
    descriptor and the message are one constant argument."""
    schema = options[codecs.CONFLUENT_SCHEMA]
    _, data, full, _ = _reader(schema, options.get(MESSAGE_OPTION))
    spec = f"{int(options[codecs.CONFLUENT_ID])} {base64.b64encode(data).decode()} {full}"
    struct = codecs.named_struct([f.name for f in fields])
    return f"{ENCODE_FUNCTION}({struct}, {codecs.sql_string(spec)})"


def registered_schema(
    subject: str, fields: t.Iterable[codecs.Column], options: t.Mapping[str, str]
) -> str:
    """The ``.proto`` a sink registers: its message named by ``protobuf_message`` or the subject."""
    return sink_schema(options.get(MESSAGE_OPTION) or message_name(subject), fields)


def field_differences(old: str, new: str, message: str | None = None) -> str:
    """``+a BIGINT, -b, c: INT -> STRING`` between the messages of two schemas (as columns)."""
    try:
        before, after = (_field_types(s, message) for s in (old, new))
    except ProtoProblem as e:
        return str(e)
    parts = [f"+{n} {after[n]}" for n in after if n not in before]
    parts += [f"-{n}" for n in before if n not in after]
    parts += [
        f"{n}: {before[n]} -> {after[n]}" for n in after if n in before and before[n] != after[n]
    ]
    return ", ".join(parts)


def _field_types(schema: str, message: str | None) -> dict[str, str]:
    model, _ = parse_schema(schema)
    return _column_types(model, find_message(model, message)[1])


def _column_types(model: t.Mapping[str, t.Any], message: dict[str, t.Any]) -> dict[str, str]:
    """``columns`` as a mapping (the decoder's ``columns`` parameter hides the function)."""
    return dict(columns(model, message))
