package io.livemigrate.conductor;

/**
 * A server-side host drain.
 *
 * @param status {@code running}, {@code completed} (every server moved) or {@code failed}
 */
public record Drain(
    String id,
    String host,
    String targetHost,
    boolean blockMigration,
    int maxRetries,
    String requestId,
    String status,
    long startedMs,
    long finishedMs) {

  public Drain finished(String status, long nowMs) {
    return new Drain(
        id, host, targetHost, blockMigration, maxRetries, requestId, status, startedMs, nowMs);
  }
}
