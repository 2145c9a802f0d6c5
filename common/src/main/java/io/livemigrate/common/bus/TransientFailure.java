package io.livemigrate.common.bus;

/**
 * A handler failed for a reason outside the message (the database is unreachable, a dependency
 * restarts): the message is not poison and must not be parked for it. The bus redelivers it after a
 * bounded, growing pause for as long as the failure lasts, without counting the attempt towards
 * {@code [bus] max_deliveries}.
 */
public class TransientFailure extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public TransientFailure(String message, Throwable cause) {
    super(message, cause);
  }

  /** Whether {@code e}, or one of its causes, is a transient failure. */
  public static boolean isTransient(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof TransientFailure) return true;
      if (t.getCause() == t) break;
    }
    return false;
  }
}
