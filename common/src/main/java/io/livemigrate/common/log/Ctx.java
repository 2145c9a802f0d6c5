package io.livemigrate.common.log;

/**
 * The identifiers every log line about a migration carries, in Nova's style: {@code [req-...]
 * [migration ...] [instance: ...]}. Log with {@code LOG.info("{} message", ctx)}.
 */
public record Ctx(String requestId, String migrationId, String instanceUuid) {
  public static Ctx of(String requestId, String migrationId, String instanceUuid) {
    return new Ctx(requestId, migrationId, instanceUuid);
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder();
    b.append('[').append(requestId == null ? "req-none" : requestId).append(']');
    if (migrationId != null) b.append(" [migration ").append(migrationId).append(']');
    if (instanceUuid != null) b.append(" [instance: ").append(instanceUuid).append(']');
    return b.toString();
  }
}
