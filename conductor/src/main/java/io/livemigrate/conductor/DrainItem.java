package io.livemigrate.conductor;

/**
 * One server of a drain.
 *
 * @param state {@code pending}, {@code migrating}, {@code completed} or {@code failed}
 */
public record DrainItem(
    String drainId,
    String instanceUuid,
    String name,
    String state,
    int attempts,
    String migrationUuid,
    long migrationId,
    String destCompute,
    String reason,
    String message,
    long startedMs,
    long finishedMs) {

  public boolean done() {
    return "completed".equals(state) || "failed".equals(state);
  }

  /** This item with a new migration under way. */
  public DrainItem migrating(MigrationRow m, long nowMs) {
    return new DrainItem(
        drainId,
        instanceUuid,
        name,
        "migrating",
        attempts + 1,
        m.uuid,
        m.id,
        null,
        null,
        null,
        nowMs,
        0);
  }

  /** This item ended. */
  public DrainItem ended(String state, String dest, String reason, String message, long nowMs) {
    return new DrainItem(
        drainId,
        instanceUuid,
        name,
        state,
        attempts,
        migrationUuid,
        migrationId,
        dest,
        reason,
        message,
        startedMs,
        nowMs);
  }
}
