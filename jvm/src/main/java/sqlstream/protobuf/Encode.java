package sqlstream.protobuf;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.types.StructType;

/**
 * {@code sqlstream_protobuf_encode(row, spec)}: a sink's output row in Confluent's Protobuf framing
 * (magic byte 0, the 4-byte schema id, the message indexes, the payload). {@code spec} is a
 * constant of the plan, {@code <schema id> <base64 FileDescriptorProto> <message full name>}. A
 * NULL column is a field left unset; columns are matched to fields by name.
 */
public final class Encode implements UDF2<Row, String, byte[]> {
  private static final long serialVersionUID = 1L;
  private static final Map<String, Writer> WRITERS = new ConcurrentHashMap<>();

  @Override
  public byte[] call(Row row, String spec) {
    if (row == null) {
      return null;
    }
    return WRITERS.computeIfAbsent(spec, Writer::new).write(row);
  }

  static final class Writer {
    final Descriptor message;
    final byte[] header;

    Writer(String spec) {
      String[] parts = spec.split(" ", 3);
      message = Descriptors.message(Descriptors.file(parts[1]), parts[2]);
      header = header(Integer.parseInt(parts[0]), Descriptors.indexes(message));
    }

    byte[] write(Row row) {
      byte[] payload = build(message, row).toByteArray();
      byte[] out = new byte[header.length + payload.length];
      System.arraycopy(header, 0, out, 0, header.length);
      System.arraycopy(payload, 0, out, header.length, payload.length);
      return out;
    }
  }

  static byte[] header(int schemaId, List<Integer> indexes) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    bytes.write(0);
    bytes.write(schemaId >>> 24);
    bytes.write(schemaId >>> 16);
    bytes.write(schemaId >>> 8);
    bytes.write(schemaId);
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    try {
      if (indexes.size() == 1 && indexes.get(0) == 0) {
        out.writeUInt32NoTag(0); // Confluent's short form for the file's first message
      } else {
        out.writeSInt32NoTag(indexes.size());
        for (int i : indexes) {
          out.writeSInt32NoTag(i);
        }
      }
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  static DynamicMessage build(Descriptor message, Row row) {
    DynamicMessage.Builder builder = DynamicMessage.newBuilder(message);
    StructType schema = row.schema();
    for (int i = 0; i < row.length(); i++) {
      FieldDescriptor fd = message.findFieldByName(schema.fields()[i].name());
      if (fd == null || row.isNullAt(i)) {
        continue;
      }
      Object v = row.get(i);
      if (fd.isRepeated()) {
        for (Object item : asList(v)) {
          builder.addRepeatedField(fd, value(fd, item));
        }
      } else {
        builder.setField(fd, value(fd, v));
      }
    }
    return builder.build();
  }

  static List<?> asList(Object v) {
    if (v instanceof List) {
      return (List<?>) v;
    }
    return scala.jdk.javaapi.CollectionConverters.asJava((scala.collection.Seq<?>) v);
  }

  static Object value(FieldDescriptor fd, Object v) {
    switch (fd.getJavaType()) {
      case INT:
        return ((Number) v).intValue();
      case LONG:
        return v instanceof BigDecimal ? ((BigDecimal) v).longValue() : ((Number) v).longValue();
      case FLOAT:
        return ((Number) v).floatValue();
      case DOUBLE:
        return ((Number) v).doubleValue();
      case BOOLEAN:
        return v;
      case STRING:
        return String.valueOf(v);
      case BYTE_STRING:
        return ByteString.copyFrom((byte[]) v);
      case ENUM:
        EnumValueDescriptor found = fd.getEnumType().findValueByName(String.valueOf(v));
        if (found == null) {
          throw new IllegalArgumentException(
              "field " + fd.getName() + ": " + v + " is no value of " + fd.getEnumType().getName());
        }
        return found;
      case MESSAGE:
        return build(fd.getMessageType(), (Row) v);
      default:
        throw new IllegalArgumentException("field " + fd.getName() + ": not written");
    }
  }
}
