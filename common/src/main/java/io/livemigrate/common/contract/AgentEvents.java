package io.livemigrate.common.contract;

import static io.livemigrate.common.contract.Checks.check;
import static io.livemigrate.common.contract.Checks.nonNegative;
import static io.livemigrate.common.contract.Checks.notBlank;

import java.util.List;
import java.util.Map;

/** Facts compute agents report: liveness, resources, step results and migration progress. */
public final class AgentEvents {
  private AgentEvents() {}

  /**
   * Liveness, every {@code report_interval} seconds.
   *
   * <p>Version history: 1 - initial.
   */
  public record ServiceHeartbeat(String host, String binary, String zone, String serviceVersion)
      implements Message {
    public static final int VERSION = 1;

    public ServiceHeartbeat {
      notBlank(host, "host");
      notBlank(binary, "binary");
    }
  }

  /**
   * What one instance looks like to its hypervisor.
   *
   * @param state {@code running}, {@code paused} or {@code shutoff}
   * @param cpuXml the guest's {@code <cpu>} element as libvirt defines it (what a destination
   *     compares with its own CPU before prepare); null where the hypervisor has none
   * @param machineType the guest's machine type (e.g. {@code pc-q35-7.2}); null = unknown
   * @param dirtyRateBps the guest's last measured memory dirty rate, bytes/s; null = not measured
   * @param memoryDataBytes the guest memory a migration would send (its non-zero pages); null = not
   *     measured (then its RAM size is the estimate)
   */
  public record InstanceReport(
      String uuid,
      String name,
      String state,
      int vcpus,
      long memoryMb,
      long diskGb,
      String projectId,
      String userId,
      String flavor,
      String cpuXml,
      String machineType,
      Long dirtyRateBps,
      Long memoryDataBytes) {
    public InstanceReport {
      notBlank(uuid, "uuid");
      nonNegative(vcpus, "vcpus");
      nonNegative(memoryMb, "memoryMb");
      nonNegative(diskGb, "diskGb");
      check(dirtyRateBps == null || dirtyRateBps >= 0, "dirtyRateBps must be >= 0");
    }

    /** A report without CPU, machine type and dirty rate (the host report v2 shape). */
    public InstanceReport(
        String uuid,
        String name,
        String state,
        int vcpus,
        long memoryMb,
        long diskGb,
        String projectId,
        String userId,
        String flavor) {
      this(
          uuid, name, state, vcpus, memoryMb, diskGb, projectId, userId, flavor, null, null, null,
          null);
    }
  }

  /**
   * A host's capacity and its instances, sent at start, every report interval and after every
   * change.
   *
   * <p>Version history: 1 - initial. 2 - allocation ratios, CPU model and live-migration limits
   * (optional: a v1 report reads as Nova's default ratios, 1 outbound, unlimited inbound). 3 -
   * {@code jobs}, the instances with an outbound migration job on this host (what reconciliation
   * compares with the store); {@code sharedStorageWith}, the hosts whose instance storage this host
   * sees (marker files); per instance its CPU, machine type and dirty rate (a v2 report reads as
   * "jobs unknown": null, never as "no jobs").
   *
   * @param jobs instance uuids with an outbound migration job here; null = not reported (v2)
   * @param sharedStorageWith hosts whose instance directory this host sees; null = not checked
   */
  public record HostReport(
      String host,
      String zone,
      String hypervisorType,
      long hypervisorVersion,
      int vcpus,
      long memoryMb,
      long diskGb,
      boolean permitPostCopy,
      boolean permitAutoConverge,
      List<InstanceReport> instances,
      Double cpuAllocationRatio,
      Double ramAllocationRatio,
      Double diskAllocationRatio,
      String cpuModel,
      Integer maxOutboundMigrations,
      Integer maxInboundMigrations,
      List<String> jobs,
      List<String> sharedStorageWith)
      implements Message {
    public static final int VERSION = 3;

    public HostReport {
      notBlank(host, "host");
      nonNegative(vcpus, "vcpus");
      nonNegative(memoryMb, "memoryMb");
      nonNegative(diskGb, "diskGb");
      instances = instances == null ? List.of() : List.copyOf(instances);
      cpuAllocationRatio = cpuAllocationRatio == null ? 4.0 : cpuAllocationRatio;
      ramAllocationRatio = ramAllocationRatio == null ? 1.0 : ramAllocationRatio;
      diskAllocationRatio = diskAllocationRatio == null ? 1.0 : diskAllocationRatio;
      check(
          cpuAllocationRatio >= 0 && ramAllocationRatio >= 0 && diskAllocationRatio >= 0,
          "allocation ratios must be >= 0");
      maxOutboundMigrations = maxOutboundMigrations == null ? 1 : maxOutboundMigrations;
      maxInboundMigrations = maxInboundMigrations == null ? 0 : maxInboundMigrations;
      nonNegative(maxOutboundMigrations, "maxOutboundMigrations");
      nonNegative(maxInboundMigrations, "maxInboundMigrations");
      jobs = jobs == null ? null : List.copyOf(jobs);
      sharedStorageWith = sharedStorageWith == null ? null : List.copyOf(sharedStorageWith);
    }

    /** A report without jobs and shared-storage peers (the version-2 shape). */
    public HostReport(
        String host,
        String zone,
        String hypervisorType,
        long hypervisorVersion,
        int vcpus,
        long memoryMb,
        long diskGb,
        boolean permitPostCopy,
        boolean permitAutoConverge,
        List<InstanceReport> instances,
        Double cpuAllocationRatio,
        Double ramAllocationRatio,
        Double diskAllocationRatio,
        String cpuModel,
        Integer maxOutboundMigrations,
        Integer maxInboundMigrations) {
      this(
          host,
          zone,
          hypervisorType,
          hypervisorVersion,
          vcpus,
          memoryMb,
          diskGb,
          permitPostCopy,
          permitAutoConverge,
          instances,
          cpuAllocationRatio,
          ramAllocationRatio,
          diskAllocationRatio,
          cpuModel,
          maxOutboundMigrations,
          maxInboundMigrations,
          null,
          null);
    }

    /** A report with Nova's default ratios and limits (the version-1 shape). */
    public HostReport(
        String host,
        String zone,
        String hypervisorType,
        long hypervisorVersion,
        int vcpus,
        long memoryMb,
        long diskGb,
        boolean permitPostCopy,
        boolean permitAutoConverge,
        List<InstanceReport> instances) {
      this(
          host,
          zone,
          hypervisorType,
          hypervisorVersion,
          vcpus,
          memoryMb,
          diskGb,
          permitPostCopy,
          permitAutoConverge,
          instances,
          null,
          null,
          null,
          null,
          null,
          null);
    }
  }

  /**
   * The outcome of a command that is not a whole migration (prepare, post, rollback, cleanup,
   * abort, force-complete, tune).
   *
   * <p>Version history: 1 - initial. 2 - {@code details}: what the step found, as strings (e.g. a
   * prepare's {@code shared_storage}); empty when absent.
   */
  public record StepResult(
      String step, boolean ok, String reason, String message, Map<String, String> details)
      implements Message {
    public static final int VERSION = 2;

    public StepResult {
      notBlank(step, "step");
      check(ok || reason != null, "a failed step needs a reason");
      details = details == null ? Map.of() : Map.copyOf(details);
    }

    public StepResult(String step, boolean ok, String reason, String message) {
      this(step, ok, reason, message, Map.of());
    }

    public static StepResult ok(String step) {
      return new StepResult(step, true, null, null);
    }

    public static StepResult ok(String step, Map<String, String> details) {
      return new StepResult(step, true, null, null, details);
    }

    public static StepResult failed(String step, String reason, String message) {
      return new StepResult(step, false, reason, message);
    }
  }

  /**
   * Transfer progress, at least once a second while a migration runs, ordered by the envelope's
   * {@code seq}.
   *
   * @param mode {@code precopy}, {@code postcopy} or {@code paused}
   * @param epoch the sending agent's epoch: grows with every start of the agent (its state
   *     directory keeps the last one), so {@code seq} orders progress within one epoch and a
   *     restarted agent's first sample is never taken for a stale one; 0 = unknown (v1)
   *     <p>Version history: 1 - initial. 2 - epoch.
   */
  public record MigrationProgress(
      String instanceUuid,
      String mode,
      long memoryTotalBytes,
      long memoryProcessedBytes,
      long memoryRemainingBytes,
      long diskTotalBytes,
      long diskProcessedBytes,
      long diskRemainingBytes,
      long dirtyRateBps,
      long bandwidthBps,
      int iteration,
      long expectedDowntimeMs,
      long elapsedMs,
      Long epoch)
      implements InstanceMessage {
    public static final int VERSION = 2;

    public MigrationProgress {
      notBlank(instanceUuid, "instanceUuid");
      notBlank(mode, "mode");
      nonNegative(memoryTotalBytes, "memoryTotalBytes");
      nonNegative(memoryProcessedBytes, "memoryProcessedBytes");
      nonNegative(memoryRemainingBytes, "memoryRemainingBytes");
      nonNegative(diskTotalBytes, "diskTotalBytes");
      nonNegative(diskProcessedBytes, "diskProcessedBytes");
      nonNegative(diskRemainingBytes, "diskRemainingBytes");
      epoch = epoch == null ? 0L : epoch;
      nonNegative(epoch, "epoch");
    }
  }

  /**
   * The transfer finished and the guest runs on the destination.
   *
   * <p>Version history: 1 - initial.
   */
  public record MigrationCompleted(
      String instanceUuid,
      long downtimeMs,
      long memoryTotalBytes,
      long memoryTransferredBytes,
      long diskTotalBytes,
      long diskTransferredBytes,
      int iterations,
      long elapsedMs,
      String mode)
      implements InstanceMessage {
    public static final int VERSION = 1;

    public MigrationCompleted {
      notBlank(instanceUuid, "instanceUuid");
    }
  }

  /**
   * The transfer ended without moving the guest; it still runs on the source.
   *
   * @param cancelled true when it ended because an abort was asked for
   *     <p>Version history: 1 - initial.
   */
  public record MigrationFailed(
      String instanceUuid, String reason, String message, boolean cancelled, long elapsedMs)
      implements InstanceMessage {
    public static final int VERSION = 1;

    public MigrationFailed {
      notBlank(instanceUuid, "instanceUuid");
      notBlank(reason, "reason");
    }
  }
}
