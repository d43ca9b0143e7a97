package sqlstream.protobuf;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import java.io.IOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.DecimalType;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * {@code sqlstream_protobuf_decode(value, spec)}: a record in Confluent's Protobuf framing (magic
 * byte 0, the 4-byte schema id, the message indexes, the payload) as a row of the stream's columns,
 * followed by a STRING that is NULL for a good record and says what is wrong with a bad one. It
 * never throws for a bad record, so that the source's {@code on_error} decides what happens.
 *
 * <p>{@code spec} is a constant of the plan: {@code <base64 FileDescriptorProto> <message full
 * name> <DDL of the columns>}, parsed once per JVM and kept. A column the writer's message lacks
 * reads as NULL (schema evolution); a field not set reads as protobuf says: NULL when it has
 * presence (a message, an {@code optional}, a oneof member), else its default.
 */
public final class Decode implements UDF2<byte[], String, Row> {
  private static final long serialVersionUID = 1L;
  private static final Map<String, Reader> READERS = new ConcurrentHashMap<>();

  @Override
  public Row call(byte[] framed, String spec) {
    if (framed == null) {
      return null;
    }
    return READERS.computeIfAbsent(spec, Decode::reader).read(framed);
  }

  /** A spec the JVM cannot use (a descriptor protobuf-java refuses) makes every record of that
   * schema id bad, with the cause as the reason, rather than failing the task. */
  static Reader reader(String spec) {
    try {
      return new Reader(spec);
    } catch (RuntimeException e) {
      return new Reader(spec.split(" ", 3)[2], e);
    }
  }

  /** A mismatch between the writer's field and the column's type. */
  static final class Mismatch extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Mismatch(String message) {
      super(message, null, false, false);
    }
  }

  static final class Reader {
    final Descriptor message;
    final StructType columns;
    final FieldDescriptor[] fields;
    final FileDescriptor file;
    final String unusable;

    Reader(String spec) {
      String[] parts = spec.split(" ", 3);
      file = Descriptors.file(parts[0]);
      message = Descriptors.message(file, parts[1]);
      columns = StructType.fromDDL(parts[2]);
      fields = fieldsOf(message, columns);
      unusable = null;
    }

    Reader(String ddl, RuntimeException cause) {
      file = null;
      message = null;
      columns = StructType.fromDDL(ddl);
      fields = new FieldDescriptor[columns.fields().length - 1];
      unusable = "has a schema the JVM cannot use: " + cause.getMessage();
    }

    Row read(byte[] framed) {
      if (unusable != null) {
        return failed(unusable);
      }
      if (framed.length < 5 || framed[0] != 0) {
        return failed("is not in the Confluent wire format");
      }
      CodedInputStream in = CodedInputStream.newInstance(framed, 5, framed.length - 5);
      List<Integer> indexes = new ArrayList<>();
      try {
        int count = CodedInputStream.decodeZigZag32(in.readRawVarint32());
        if (count == 0) {
          indexes.add(0);
        }
        for (int i = 0; i < count; i++) {
          indexes.add(CodedInputStream.decodeZigZag32(in.readRawVarint32()));
        }
      } catch (IOException e) {
        return failed("has truncated message indexes");
      }
      if (Descriptors.byIndexes(file, indexes) != message) {
        return failed("has message indexes " + indexes + ", which do not name " + message.getFullName());
      }
      DynamicMessage decoded;
      try {
        decoded = DynamicMessage.parseFrom(message, in);
      } catch (InvalidProtocolBufferException e) {
        return failed("does not decode as " + message.getFullName() + ": " + e.getMessage());
      } catch (IOException e) {
        return failed("does not decode as " + message.getFullName() + ": " + e);
      }
      try {
        Object[] values = new Object[fields.length + 1];
        for (int i = 0; i < fields.length; i++) {
          values[i] = field(decoded, fields[i], columns.fields()[i].dataType());
        }
        return RowFactory.create(values);
      } catch (Mismatch | ClassCastException e) {
        return failed("does not decode as the stream's columns: " + e.getMessage());
      }
    }

    Row failed(String reason) {
      Object[] values = new Object[fields.length + 1];
      values[fields.length] = reason;
      return RowFactory.create(values);
    }
  }

  static FieldDescriptor[] fieldsOf(Descriptor message, StructType columns) {
    StructField[] cols = columns.fields();
    int n = cols.length;
    if (n > 0 && cols[n - 1].name().startsWith("__sqlstream_")) {
      n -= 1; // the reason column the compiler adds last
    }
    FieldDescriptor[] fields = new FieldDescriptor[n];
    for (int i = 0; i < n; i++) {
      fields[i] = message.findFieldByName(cols[i].name());
    }
    return fields;
  }

  static Object field(Message m, FieldDescriptor fd, DataType type) {
    if (fd == null) {
      return null;
    }
    if (fd.isMapField()) {
      MapType map = as(MapType.class, type, fd);
      FieldDescriptor k = fd.getMessageType().findFieldByNumber(1);
      FieldDescriptor v = fd.getMessageType().findFieldByNumber(2);
      Map<Object, Object> out = new HashMap<>();
      for (Object entry : (List<?>) m.getField(fd)) {
        Message e = (Message) entry;
        out.put(value(k, e.getField(k), map.keyType()), value(v, e.getField(v), map.valueType()));
      }
      return out;
    }
    if (fd.isRepeated()) {
      DataType element = as(ArrayType.class, type, fd).elementType();
      List<Object> out = new ArrayList<>();
      for (Object item : (List<?>) m.getField(fd)) {
        out.add(value(fd, item, element));
      }
      return out;
    }
    if (fd.hasPresence() && !m.hasField(fd)) {
      return null;
    }
    return value(fd, m.getField(fd), type);
  }

  static Object value(FieldDescriptor fd, Object v, DataType type) {
    switch (fd.getType()) {
      case MESSAGE:
        return row((Message) v, as(StructType.class, type, fd));
      case ENUM:
        return coerce(((EnumValueDescriptor) v).getName(), type, fd);
      case BYTES:
        return coerce(((ByteString) v).toByteArray(), type, fd);
      case UINT32:
      case FIXED32:
        return coerce(Integer.toUnsignedLong((Integer) v), type, fd);
      case UINT64:
      case FIXED64:
        return coerce(new BigDecimal(Long.toUnsignedString((Long) v)), type, fd);
      default:
        return coerce(v, type, fd);
    }
  }

  static Row row(Message m, StructType type) {
    StructField[] cols = type.fields();
    Object[] values = new Object[cols.length];
    for (int i = 0; i < cols.length; i++) {
      values[i] = field(m, m.getDescriptorForType().findFieldByName(cols[i].name()), cols[i].dataType());
    }
    return RowFactory.create(values);
  }

  /** A protobuf value as the Java value of the column's Spark type (a writer's int32 read into a
   * BIGINT column after the schema evolved, say); a mismatch otherwise. */
  static Object coerce(Object v, DataType type, FieldDescriptor fd) {
    if (type.equals(DataTypes.StringType)) {
      return v instanceof String ? v : String.valueOf(v);
    }
    if (v instanceof Number && !(v instanceof BigDecimal)) {
      Number n = (Number) v;
      if (type.equals(DataTypes.LongType)) {
        return n.longValue();
      }
      if (type.equals(DataTypes.IntegerType) && n.longValue() == n.intValue()) {
        return n.intValue();
      }
      if (type.equals(DataTypes.DoubleType)) {
        return n.doubleValue();
      }
      if (type.equals(DataTypes.FloatType) && v instanceof Float) {
        return v;
      }
      if (type instanceof DecimalType) {
        return v instanceof Long || v instanceof Integer ? BigDecimal.valueOf(n.longValue()) : null;
      }
    }
    if (v instanceof BigDecimal && type instanceof DecimalType) {
      return v;
    }
    if (v instanceof Boolean && type.equals(DataTypes.BooleanType)) {
      return v;
    }
    if (v instanceof byte[] && type.equals(DataTypes.BinaryType)) {
      return v;
    }
    throw new Mismatch("field " + fd.getName() + " is " + fd.getType() + ", not " + type.sql());
  }

  static <T> T as(Class<T> kind, DataType type, FieldDescriptor fd) {
    if (!kind.isInstance(type)) {
      throw new Mismatch("field " + fd.getName() + " is " + fd.getType() + ", not " + type.sql());
    }
    return kind.cast(type);
  }
}
