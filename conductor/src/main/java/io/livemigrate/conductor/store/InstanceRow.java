package io.livemigrate.conductor.store;

/**
 * An instance as the conductor tracks it.
 *
 * @param status Nova's server status: ACTIVE, PAUSED, MIGRATING, SHUTOFF, ERROR
 * @param taskState Nova's task state: {@code migrating} during a live migration, else null
 */
public record InstanceRow(
    String uuid,
    String name,
    String host,
    String status,
    String taskState,
    int vcpus,
    long memoryMb,
    long diskGb,
    String projectId,
    String userId,
    String flavor,
    long createdMs,
    long updatedMs) {

  public InstanceRow withHostStatus(String host, String status, String taskState, long nowMs) {
    return new InstanceRow(
        uuid, name, host, status, taskState, vcpus, memoryMb, diskGb, projectId, userId, flavor,
        createdMs, nowMs);
  }
}
