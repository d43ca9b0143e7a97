package sqlstream.protobuf;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** A registry schema's descriptor, from the base64 FileDescriptorProto the compiler passes. */
final class Descriptors {
  private Descriptors() {}

  static FileDescriptor file(String base64) {
    try {
      FileDescriptorProto proto = FileDescriptorProto.parseFrom(Base64.getDecoder().decode(base64));
      return FileDescriptor.buildFrom(proto, new FileDescriptor[0]);
    } catch (InvalidProtocolBufferException | DescriptorValidationException e) {
      throw new IllegalArgumentException("not a Protobuf descriptor: " + e.getMessage(), e);
    }
  }

  static Descriptor message(FileDescriptor file, String fullName) {
    Descriptor found = null;
    for (Descriptor d : all(file.getMessageTypes(), new ArrayList<>())) {
      if (d.getFullName().equals(fullName)) {
        found = d;
      }
    }
    if (found == null) {
      throw new IllegalArgumentException("the schema has no message " + fullName);
    }
    return found;
  }

  private static List<Descriptor> all(List<Descriptor> messages, List<Descriptor> out) {
    for (Descriptor d : messages) {
      out.add(d);
      all(d.getNestedTypes(), out);
    }
    return out;
  }

  /** Confluent's message indexes of a message: its position in the file, outermost first. */
  static List<Integer> indexes(Descriptor message) {
    List<Integer> path = new ArrayList<>();
    for (Descriptor d = message; d != null; d = d.getContainingType()) {
      path.add(0, d.getIndex());
    }
    return path;
  }

  /** The message that Confluent's message indexes name, or null when they name none. */
  static Descriptor byIndexes(FileDescriptor file, List<Integer> indexes) {
    List<Descriptor> level = file.getMessageTypes();
    Descriptor found = null;
    for (int i : indexes) {
      if (i < 0 || i >= level.size()) {
        return null;
      }
      found = level.get(i);
      level = found.getNestedTypes();
    }
    return found;
  }
}
