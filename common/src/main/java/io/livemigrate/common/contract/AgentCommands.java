package io.livemigrate.common.contract;

import static io.livemigrate.common.contract.Checks.check;
import static io.livemigrate.common.contract.Checks.nonNegative;
import static io.livemigrate.common.contract.Checks.notBlank;

/**
 * Commands the conductor sends to compute agents. Agents reply with {@link AgentEvents.StepResult}
 * (or, for a started migration, with progress and a final outcome).
 */
public final class AgentCommands {
  private AgentCommands() {}

  /**
   * Check the destination can take the instance, then reserve what it needs there.
   *
   * <p>Version history: 1 - initial. 2 - what the destination checks before the first byte: the
   * guest's CPU ({@code cpuXml}) and machine type, the source's hypervisor version, and for a
   * shared-storage migration ({@code sharedStorage} true) the source whose storage it must see; the
   * guest's dirty rate and working set for hypervisors that model them. All optional: a v1 command
   * reads as "nothing to compare".
   */
  public record PrepareDestination(
      String instanceUuid,
      String instanceName,
      String sourceHost,
      int vcpus,
      long memoryMb,
      long diskGb,
      boolean blockMigration,
      String cpuXml,
      String machineType,
      Long sourceHypervisorVersion,
      Boolean sharedStorage,
      Long dirtyRateBps)
      implements InstanceMessage {
    public static final int VERSION = 2;

    public PrepareDestination {
      notBlank(instanceUuid, "instanceUuid");
      notBlank(sourceHost, "sourceHost");
      nonNegative(vcpus, "vcpus");
      nonNegative(memoryMb, "memoryMb");
      nonNegative(diskGb, "diskGb");
      check(dirtyRateBps == null || dirtyRateBps >= 0, "dirtyRateBps must be >= 0");
    }

    /** A command with nothing to compare (the version-1 shape). */
    public PrepareDestination(
        String instanceUuid,
        String instanceName,
        String sourceHost,
        int vcpus,
        long memoryMb,
        long diskGb,
        boolean blockMigration) {
      this(
          instanceUuid,
          instanceName,
          sourceHost,
          vcpus,
          memoryMb,
          diskGb,
          blockMigration,
          null,
          null,
          null,
          null,
          null);
    }
  }

  /**
   * Start the transfer on the source host. Flags follow Nova: auto-converge and post-copy are only
   * set where the source host permits them.
   *
   * <p>Version history: 1 - initial.
   */
  public record StartMigration(
      String instanceUuid,
      String destHost,
      boolean blockMigration,
      boolean autoConverge,
      boolean postCopy,
      long bandwidthMibps,
      int maxDowntimeMs)
      implements InstanceMessage {
    public static final int VERSION = 1;

    public StartMigration {
      notBlank(instanceUuid, "instanceUuid");
      notBlank(destHost, "destHost");
      nonNegative(bandwidthMibps, "bandwidthMibps");
      check(maxDowntimeMs > 0, "maxDowntimeMs must be > 0");
    }
  }

  /**
   * Cancel a running migration; the VM stays on the source. {@code afterSeconds} is how long the
   * migration had run when the conductor decided, for the agent's log line.
   *
   * <p>Version history: 1 - initial.
   */
  public record AbortMigration(String instanceUuid, String reason, long afterSeconds)
      implements InstanceMessage {
    public static final int VERSION = 1;

    public AbortMigration {
      notBlank(instanceUuid, "instanceUuid");
      notBlank(reason, "reason");
    }
  }

  /**
   * Make a migration finish: {@code postcopy} switches to post-copy, {@code pause} pauses the guest
   * until the copy completes.
   *
   * <p>Version history: 1 - initial.
   */
  public record ForceComplete(String instanceUuid, String mode, String reason)
      implements InstanceMessage {
    public static final int VERSION = 1;

    public ForceComplete {
      notBlank(instanceUuid, "instanceUuid");
      check("pause".equals(mode) || "postcopy".equals(mode), "mode must be pause or postcopy");
    }
  }

  /**
   * Change the tolerated downtime and/or the bandwidth of a running migration; a zero leaves that
   * setting alone.
   *
   * <p>Version history: 1 - initial.
   */
  public record TuneMigration(String instanceUuid, int maxDowntimeMs, long bandwidthMibps)
      implements InstanceMessage {
    public static final int VERSION = 1;

    public TuneMigration {
      notBlank(instanceUuid, "instanceUuid");
      nonNegative(maxDowntimeMs, "maxDowntimeMs");
      nonNegative(bandwidthMibps, "bandwidthMibps");
    }
  }

  /**
   * Destination side after the transfer: the instance now runs here.
   *
   * <p>Version history: 1 - initial.
   */
  public record PostAtDestination(String instanceUuid, String sourceHost)
      implements InstanceMessage {
    public static final int VERSION = 1;

    public PostAtDestination {
      notBlank(instanceUuid, "instanceUuid");
    }
  }

  /**
   * Destination side after a failure: drop what prepare reserved.
   *
   * <p>Version history: 1 - initial.
   */
  public record RollbackAtDestination(String instanceUuid) implements InstanceMessage {
    public static final int VERSION = 1;

    public RollbackAtDestination {
      notBlank(instanceUuid, "instanceUuid");
    }
  }

  /**
   * Source side after success: remove what is left of the instance here.
   *
   * <p>Version history: 1 - initial.
   */
  public record CleanupSource(String instanceUuid, String destHost) implements InstanceMessage {
    public static final int VERSION = 1;

    public CleanupSource {
      notBlank(instanceUuid, "instanceUuid");
    }
  }
}
