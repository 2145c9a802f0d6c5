package io.livemigrate.conductor;

/**
 * An instance as the conductor tracks it.
 *
 * @param status Nova's server status: ACTIVE, PAUSED, MIGRATING, SHUTOFF, ERROR
 * @param taskState Nova's task state: {@code migrating} during a live migration, else null
 * @param cpuXml the guest's CPU as its hypervisor reports it (null = none)
 * @param machineType the guest's machine type (null = unknown)
 * @param dirtyRateBps the guest's last measured dirty rate, bytes/s (null = not measured)
 * @param memoryDataBytes the guest memory a migration would send (null = not measured)
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
    long updatedMs,
    String cpuXml,
    String machineType,
    Long dirtyRateBps,
    Long memoryDataBytes) {

  /** An instance without CPU, machine type and dirty rate. */
  public InstanceRow(
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
    this(
        uuid, name, host, status, taskState, vcpus, memoryMb, diskGb, projectId, userId, flavor,
        createdMs, updatedMs, null, null, null, null);
  }

  public InstanceRow withHostStatus(String host, String status, String taskState, long nowMs) {
    return new InstanceRow(
        uuid,
        name,
        host,
        status,
        taskState,
        vcpus,
        memoryMb,
        diskGb,
        projectId,
        userId,
        flavor,
        createdMs,
        nowMs,
        cpuXml,
        machineType,
        dirtyRateBps,
        memoryDataBytes);
  }

  /** The bytes a migration of this guest must send from memory: measured, else its RAM. */
  public long memoryToSend() {
    return memoryDataBytes != null && memoryDataBytes > 0 ? memoryDataBytes : memoryMb << 20;
  }

  /** Whether a live migration may start from this status (Nova: ACTIVE or PAUSED). */
  public boolean migratable() {
    return "ACTIVE".equals(status) || "PAUSED".equals(status);
  }
}
