package io.livemigrate.common.contract;

/** A versioned bus payload. Every implementation is a record with a {@code VERSION} constant. */
public interface Message {
  /** The wire type name, e.g. {@code start_migration}. */
  default String messageType() {
    return Contracts.typeOf(getClass());
  }

  /** The contract version this record writes. */
  default int messageVersion() {
    return Contracts.versionOf(getClass());
  }
}
