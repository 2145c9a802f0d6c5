package io.livemigrate.conductor;

/**
 * How the API filters and pages migrations; any filter may be null.
 *
 * @param inProgressOnly only migrations Nova calls in progress (not accepted, not final)
 * @param marker the uuid of the last migration of the previous page
 * @param limit at most this many (0 = all)
 */
public record MigrationQuery(
    String instanceUuid,
    String host,
    String sourceCompute,
    String status,
    boolean inProgressOnly,
    Long changesSinceMs,
    String marker,
    int limit) {

  public static MigrationQuery all() {
    return new MigrationQuery(null, null, null, null, false, null, null, 0);
  }

  public static MigrationQuery ofInstance(String instanceUuid, boolean inProgressOnly) {
    return new MigrationQuery(instanceUuid, null, null, null, inProgressOnly, null, null, 0);
  }
}
