"""protobuf-confluent as the compiler plans it (no registry, no JVM, no protobuf library): the
``.proto`` model from text and from base64 descriptors, the columns it gives, what is refused,
the decode and encode SQL, and the lock's schema types."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from sqlstream.compiler import protobuf
from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.schemas import LOCK_FILE, Version, read_lock, write_lock
from sqlstream.errors import UserErrors

ORDER = """
syntax = "proto3";
package shop.v1;
option java_package = "shop";  // options are skipped
/* a block comment */
message Order {
  int64 id = 1;
  string item = 2 [deprecated = true];
  repeated string tags = 3;
  Address ship = 4;
  map<string, int32> counts = 5;
  Status status = 6;
  optional double amount = 7;
  uint64 big = 8;
  uint32 small = 9;
  oneof pay { string card = 10; bytes token = 11; }
  reserved 20 to 30;
  message Address { string city = 1; Inner.Level level = 2;
    message Inner { enum Level { LOW = 0; HIGH = 1; } } }
}
enum Status { NEW = 0; PAID = 1; }
message Other { Order.Address a = 1; }
"""

# What confluent-kafka's ProtobufSerializer registered (base64 FileDescriptorProto) for
# `message Order { int64 id = 1; string item = 2; repeated string tags = 3; }`, as Apicurio
# returned it.
REGISTERED_B64 = (
    "CgxvcmRlcnMucHJvdG8SBHNob3AiLwoFT3JkZXISCgoCaWQYASABKAMSDAoEaXRlbRgCIAEoCRIMCgR0YWdzGAMgAygJ"
    "YgZwcm90bzM="
)


def test_text_gives_the_columns_of_the_first_message() -> None:
    model, _ = protobuf.parse_schema(ORDER)
    full, message = protobuf.find_message(model, None)
    assert full == "shop.v1.Order"
    assert protobuf.columns(model, message) == [
        ("id", "BIGINT"),
        ("item", "STRING"),
        ("tags", "ARRAY<STRING>"),
        ("ship", "STRUCT<`city`: STRING, `level`: STRING>"),
        ("counts", "MAP<STRING, INT>"),
        ("status", "STRING"),
        ("amount", "DOUBLE"),
        ("big", "DECIMAL(20,0)"),
        ("small", "BIGINT"),
        ("card", "STRING"),
        ("token", "BINARY"),
    ]
    assert protobuf.message_names(model) == [
        "shop.v1.Order",
        "shop.v1.Order.Address",
        "shop.v1.Order.Address.Inner",
        "shop.v1.Other",
    ]


def test_text_is_written_as_protoc_writes_the_descriptor() -> None:
    model, data = protobuf.parse_schema(ORDER)
    again = protobuf.read_binary(data)
    assert again == model
    fields = {f["name"]: f for f in model["message_type"][0]["field"]}
    assert fields["ship"]["type_name"] == ".shop.v1.Order.Address"
    assert fields["counts"]["type_name"] == ".shop.v1.Order.CountsEntry"
    assert fields["status"]["type_name"] == ".shop.v1.Status"
    # proto3 optional: a synthetic oneof after the real ones, as protoc names it.
    assert fields["amount"]["proto3_optional"] is True
    oneofs = [o["name"] for o in model["message_type"][0]["oneof_decl"]]
    assert oneofs == ["pay", "_amount"]
    assert fields["card"]["oneof_index"] == 0 and fields["amount"]["oneof_index"] == 1


def test_google_protobuf_reads_the_descriptor_written_from_text() -> None:
    descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
    from google.protobuf import descriptor_pool

    _, data = protobuf.parse_schema(ORDER)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(data))
    order = pool.FindMessageTypeByName("shop.v1.Order")
    assert order.fields_by_name["counts"].message_type.GetOptions().map_entry
    assert order.fields_by_name["amount"].has_presence
    assert not order.fields_by_name["id"].has_presence


def test_a_base64_descriptor_is_kept_byte_for_byte() -> None:
    model, data = protobuf.parse_schema(REGISTERED_B64)
    assert data == base64.b64decode(REGISTERED_B64)
    assert protobuf.columns(model, protobuf.find_message(model, None)[1]) == [
        ("id", "BIGINT"),
        ("item", "STRING"),
        ("tags", "ARRAY<STRING>"),
    ]
    assert protobuf.same_schema(
        REGISTERED_B64,
        'syntax = "proto3"; package shop; '
        "message Order { int64 id = 1; string item = 2; repeated string tags = 3; }",
    )


@pytest.mark.parametrize(
    ("schema", "refused"),
    [
        (
            'syntax = "proto3"; import "google/protobuf/timestamp.proto";\n'
            "message M { int32 a = 1; }",
            "imports google/protobuf/timestamp.proto",
        ),
        ('syntax = "proto3"; message M { Missing a = 1; }', "unknown type Missing"),
        (
            'syntax = "proto2"; message M { optional group G = 1 { optional int32 a = 2; } }',
            "groups are not mapped",
        ),
        ("message M { int32 a = 1 }", "expected ';', found '}'"),
    ],
)
def test_what_is_refused_says_which(schema: str, refused: str) -> None:
    with pytest.raises(protobuf.ProtoProblem, match=refused):
        protobuf.parse_schema(schema)


def test_a_recursive_message_gives_no_columns() -> None:
    model, _ = protobuf.parse_schema('syntax = "proto3"; message Node { Node next = 1; }')
    with pytest.raises(protobuf.ProtoProblem, match="recursive message Node"):
        protobuf.columns(model, protobuf.find_message(model, None)[1])


SQL = """
CREATE STREAM orders {columns} FROM KAFKA (topic = 'orders', format = 'protobuf-confluent'
    {options});
INSERT INTO KAFKA TOPIC 'out' FORMAT protobuf-confluent SELECT {select} FROM orders;
"""
V1 = 'syntax = "proto3"; package shop; message Order { int32 id = 1; string legacy = 2; }'
V2 = (
    'syntax = "proto3"; package shop; message Order { int64 id = 1; string note = 3; }\n'
    "message Refund { int64 id = 1; }"
)


def _project(
    tmp_path: Path, columns: str = "", select: str = "id", options: str = "", out: str = ""
) -> Path:
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    (tmp_path / "queries").mkdir()
    sql = SQL.format(columns=columns, select=select, options=options)
    (tmp_path / "queries" / "q.sql").write_text(sql)
    write_lock(
        tmp_path / LOCK_FILE,
        {
            "orders-value": [Version(1, 11, V1, "PROTOBUF"), Version(2, 12, V2, "PROTOBUF")],
            "out-value": [Version(1, 13, out or _out("id BIGINT"), "PROTOBUF")],
        },
    )
    return tmp_path


def _out(fields: str) -> str:
    numbered = "\n".join(
        f"  optional {t_} {n} = {i};"
        for i, (n, t_) in enumerate((f.split() for f in fields.split(",")), 1)
    )
    types = {"BIGINT": "int64", "STRING": "string", "DOUBLE": "double"}
    for spark, proto in types.items():
        numbered = numbered.replace(f" {spark} ", f" {proto} ")
    return f'syntax = "proto3";\n\nmessage out_value {{\n{numbered}\n}}\n'


def test_each_writer_by_its_id_through_one_registered_function(tmp_path: Path) -> None:
    plan = compile_project([str(_project(tmp_path) / "queries")]).plan
    source = plan.sources[0]
    # Columns left out: the latest writer's fields (its first message).
    assert [(c.name, c.type) for c in source.columns] == [("id", "BIGINT"), ("note", "STRING")]
    (function,) = source.decoding.functions
    name, java_class, returns = function
    assert java_class == "sqlstream.protobuf.Decode"
    assert returns == "STRUCT<`id`: BIGINT, `note`: STRING, `__sqlstream_error`: STRING>"
    (parse,) = [e for e in source.decoding.parse_exprs if name in e]
    assert "WHEN substring(`value`, 1, 5) = X'000000000B' THEN" in parse
    assert "WHEN substring(`value`, 1, 5) = X'000000000C' THEN" in parse
    assert parse.count(f"{name}(`value`, '") == 2
    assert " shop.Order `id` BIGINT, `note` STRING, `__sqlstream_error` STRING')" in parse
    reason = source.decoding.reason_expr
    for text in ("no magic byte 0", "unknown schema id", "`__sqlstream_error`"):
        assert text in reason
    value = plan.sinks[0].write_exprs[1]
    assert value.startswith("__sqlstream_protobuf_encode(named_struct('id', `id`), '13 ")
    assert value.endswith(" out_value') AS `value`")


def test_a_declared_type_other_than_the_writers_is_cast(tmp_path: Path) -> None:
    project = _project(
        tmp_path, columns="(id STRING, note STRING)", select="CAST(id AS BIGINT) AS id"
    )
    source = compile_project([str(project / "queries")]).plan.sources[0]
    assert "try_cast(`__sqlstream_value`.`id` AS STRING) AS `id`" in source.decoding.output_exprs
    assert source.decoding.functions[0][2].startswith("STRUCT<`id`: BIGINT,")


def test_the_message_option_picks_another_message(tmp_path: Path) -> None:
    project = _project(tmp_path, options=", protobuf_message = 'shop.Refund'")
    source = compile_project([str(project / "queries")]).plan.sources[0]
    assert [c.name for c in source.columns] == ["id"]
    # Schema id 11 (v1) has no Refund: its records are bad, and the reason says so.
    assert "X'000000000B' THEN" not in source.decoding.parse_exprs[1]
    assert "whose schema has no message shop.Refund" in source.decoding.reason_expr


def test_a_column_the_message_lacks_is_an_error_at_the_stream(tmp_path: Path) -> None:
    project = _project(tmp_path, columns="(id BIGINT, legacy STRING)")
    with pytest.raises(UserErrors) as info:
        compile_project([str(project / "queries")])
    (error,) = info.value.errors
    assert error.message == "column legacy is not a field of message shop.Order"
    assert error.location is not None and error.location.line == 2


def test_a_sink_schema_not_registered_is_refused_with_the_difference(tmp_path: Path) -> None:
    project = _project(tmp_path, select="id, note")
    with pytest.raises(UserErrors) as info:
        compile_project([str(project / "queries")])
    assert (
        "the sink's schema is not registered under subject 'out-value'; against its latest "
        "(version 1, id 13): +note STRING"
    ) in str(info.value)


def test_the_lock_records_a_schema_type_other_than_avro(tmp_path: Path) -> None:
    path = tmp_path / LOCK_FILE
    write_lock(path, {"a": [Version(1, 1, "{}")], "b": [Version(1, 2, V1, "PROTOBUF")]})
    text = path.read_text()
    assert text.count('"schemaType"') == 1 and '"schemaType": "PROTOBUF"' in text
    assert read_lock(path) == {"a": [Version(1, 1, "{}")], "b": [Version(1, 2, V1, "PROTOBUF")]}


def test_the_run_and_the_script_register_the_functions_first(tmp_path: Path) -> None:
    from sqlstream.spark import script, steps

    compiled = compile_project([str(_project(tmp_path) / "queries")])
    connection = compiled.connection()
    all_steps = steps.steps(compiled.plan, connection=connection)
    registered = [s for s in all_steps if isinstance(s, steps.RegisterFunction)]
    assert [s.java_class for s in registered] == [
        "sqlstream.protobuf.Decode",
        "sqlstream.protobuf.Encode",
    ]
    assert all_steps.index(registered[-1]) < min(
        all_steps.index(s) for s in all_steps if isinstance(s, steps.ReadSource)
    )
    text = script.script(compiled.plan, connection=connection)
    assert "spark.udf.registerJavaFunction(" in text
    assert (
        'spark.udf.registerJavaFunction("__sqlstream_protobuf_encode", '
        '"sqlstream.protobuf.Encode", "BINARY")'
    ) in text
    assert "sqlstream-protobuf.jar" in text.split("import os")[0]


class _Field:
    def __init__(self, name: str, type_: str) -> None:
        self.name, self.type = name, type_


def test_a_sink_writes_structs_as_messages_and_arrays_as_repeated() -> None:
    text = protobuf.sink_schema(
        "out_value",
        [
            _Field("id", "BIGINT"),
            _Field("line_items", "ARRAY<STRUCT<`sku`: STRING, `qty`: INT>>"),
            _Field("tags", "ARRAY<STRING>"),
        ],
    )
    assert text == (
        'syntax = "proto3";\n\nmessage out_value {\n  optional int64 id = 1;\n'
        "  message LineItems {\n    optional string sku = 1;\n    optional int32 qty = 2;\n  }\n"
        "  repeated LineItems line_items = 2;\n  repeated string tags = 3;\n}\n"
    )
    model, _ = protobuf.parse_schema(text)  # and it reads back as the same columns
    assert protobuf.columns(model, protobuf.find_message(model, None)[1]) == [
        ("id", "BIGINT"),
        ("line_items", "ARRAY<STRUCT<`sku`: STRING, `qty`: INT>>"),
        ("tags", "ARRAY<STRING>"),
    ]


def test_a_sink_map_is_refused_saying_which() -> None:
    with pytest.raises(protobuf.ProtoProblem, match=r"does not write m \(MAP<STRING, INT>\)"):
        protobuf.sink_schema("o", [_Field("m", "MAP<STRING, INT>")])
