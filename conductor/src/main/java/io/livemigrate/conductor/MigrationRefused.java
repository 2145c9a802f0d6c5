package io.livemigrate.conductor;

/**
 * A request the conductor refuses, typed by what is wrong; only the API maps the kind to an HTTP
 * status (and the message is the one Nova gives, so the stock clients show it as they would).
 */
public final class MigrationRefused extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Who must act, and how. */
  public enum Kind {
    /** The instance, migration or host does not exist (HTTP 404). */
    NOT_FOUND,
    /** The request contradicts itself or the instance's placement (HTTP 400). */
    INVALID,
    /** The object is in a state that does not allow it now (HTTP 409, or 400 where Nova does). */
    CONFLICT
  }

  private final Kind kind;

  public MigrationRefused(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  public static MigrationRefused notFound(String message) {
    return new MigrationRefused(Kind.NOT_FOUND, message);
  }

  public static MigrationRefused invalid(String message) {
    return new MigrationRefused(Kind.INVALID, message);
  }

  public static MigrationRefused conflict(String message) {
    return new MigrationRefused(Kind.CONFLICT, message);
  }
}
