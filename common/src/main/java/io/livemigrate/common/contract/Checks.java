package io.livemigrate.common.contract;

/** Validation helpers for record constructors: every failure is an invalid message. */
public final class Checks {
  private Checks() {}

  public static String notBlank(String value, String field) {
    if (value == null || value.isBlank()) {
      throw new InvalidMessageException(field + " is required");
    }
    return value;
  }

  public static long nonNegative(long value, String field) {
    if (value < 0) {
      throw new InvalidMessageException(field + " must be >= 0, got " + value);
    }
    return value;
  }

  public static void check(boolean condition, String message) {
    if (!condition) {
      throw new InvalidMessageException(message);
    }
  }
}
