package io.livemigrate.agent;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The narrow hypervisor SPI the compute agent drives: a real libvirt implementation and a simulated
 * one sit behind it.
 *
 * <p>Threading: every method except {@link #migrate} may block briefly (a libvirt call) and is
 * called from a worker thread, never from the event loop. {@link #migrate} returns at once; the
 * transfer runs on the implementation's own thread(s) and the future completes when it ends.
 *
 * <p>Failures are {@link HypervisorException}s whose {@code reason} is one of the reason codes the
 * conductor records (HYPERVISOR_ERROR, PREPARE_FAILED, NOT_FOUND, ...).
 */
public interface Hypervisor extends AutoCloseable {

  /** The hypervisor type as the scheduler compares it, e.g. {@code QEMU} or {@code simulated}. */
  String type();

  /** The hypervisor version as one number (libvirt style: major*1,000,000+minor*1,000+micro). */
  long version();

  /** This host's capacity. */
  HostResources resources();

  /** Every domain defined on this host (running, paused or shut off). */
  List<Domain> listDomains();

  /**
   * Destination side, before a migration: checks this host can take the instance and reserves what
   * it needs (an incoming placeholder). Idempotent for the same uuid.
   */
  void prepareIncoming(IncomingSpec spec) throws HypervisorException;

  /** Destination side, after a failed or cancelled migration: drops the reservation. Idempotent. */
  void cancelIncoming(String uuid);

  /**
   * Destination side, after the transfer completed: the instance now runs here. Idempotent.
   *
   * @throws HypervisorException if the instance is not here
   */
  void finishIncoming(String uuid) throws HypervisorException;

  /**
   * Source side: starts migrating a running (or paused) domain to {@code destHost}. The future
   * completes with the result when the domain runs on the destination and is gone from here; it
   * completes exceptionally with a {@link HypervisorException} when the domain still runs here
   * (failed, or cancelled by {@link #abortJob}: reason {@code CANCELLED}).
   *
   * @throws HypervisorException if the migration cannot even start
   */
  CompletableFuture<MigrationResult> migrate(String uuid, String destHost, MigrationFlags flags)
      throws HypervisorException;

  /** Statistics of the running migration job of a domain, if one runs. */
  Optional<JobStats> jobStats(String uuid);

  /** Raises (or lowers) the tolerated downtime of the running job. */
  void setMaxDowntime(String uuid, long ms) throws HypervisorException;

  /** Caps the bandwidth of the running job, MiB/s (0 = unlimited). */
  void setMaxSpeed(String uuid, long mibps) throws HypervisorException;

  /** Cancels the running job; {@link #migrate}'s future then fails with reason CANCELLED. */
  void abortJob(String uuid) throws HypervisorException;

  /** Pauses the guest so the remaining memory stops changing (force-complete by pause). */
  void suspend(String uuid) throws HypervisorException;

  /** Switches the running job to post-copy; needs the job started with postCopy set. */
  void startPostCopy(String uuid) throws HypervisorException;

  /** Source side, after success: removes anything left of the domain here. Idempotent. */
  void cleanupSource(String uuid);

  /**
   * Outbound migration jobs that run on this host but were started by an earlier process (the agent
   * restarted mid-migration), by instance uuid. Each future completes as {@link #migrate}'s would;
   * {@link #jobStats}, {@link #abortJob} and the other job calls work on them afterwards. Calling
   * it again returns only jobs not yet re-attached.
   *
   * <p>Default: none, for hypervisors whose jobs die with the process (the simulated one).
   */
  default Map<String, CompletableFuture<MigrationResult>> reattach() {
    return Map.of();
  }

  /**
   * {@link #reattach()}, told where each instance's migration goes (from the agent's journal), so
   * that an outcome can be read from the destination as {@link #migrate}'s would be.
   *
   * @param destinations destination host by instance uuid; instances not in it are still found
   */
  default Map<String, CompletableFuture<MigrationResult>> reattach(
      Map<String, String> destinations) {
    return reattach();
  }

  /**
   * Instances with an outbound migration job running on this host now, whoever started it (for the
   * host report's {@code jobs}, which reconciliation compares with the store; an agent without a
   * journal still tells what libvirt runs). Default: none known.
   */
  default java.util.Set<String> outboundJobs() {
    return java.util.Set.of();
  }

  /**
   * What this host's hypervisor can offer a guest's CPU, for the scheduler's cheap CPU filter (the
   * authoritative comparison stays at the destination's {@link #prepareIncoming}). The form is
   * {@code model=NAME features=F1,F2,... usable=M1,M2,...}: the host CPU model the hypervisor
   * provides, every feature it provides (the model's own expanded), and the named CPU models it can
   * run. Null = not known (the scheduler then compares plain model names, as before).
   */
  default String cpuModel() {
    return null;
  }

  /**
   * The hosts whose instance storage this host sees (their marker file is in this host's instance
   * directory), for {@code block_migration: "auto"}; never this host itself. Null = not checked
   * (the hypervisor has no shared storage to look at).
   */
  default List<String> sharedStorageWith() {
    return null;
  }

  @Override
  default void close() {}

  /** Capacity of a host. */
  record HostResources(int vcpus, long memoryMb, long diskGb) {}

  /**
   * A domain as the hypervisor sees it.
   *
   * @param state {@code running}, {@code paused} or {@code shutoff}
   * @param cpuXml the guest's {@code <cpu>} element; null where there is none
   * @param machineType the guest's machine type; null = unknown
   * @param dirtyRateBps the last measured dirty rate, bytes/s; null = not measured
   * @param memoryDataBytes the guest memory a migration would actually send (non-zero pages, as
   *     sampled), bytes; null = not measured
   */
  record Domain(
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
    /** A domain without a sampled memory size. */
    public Domain(
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
        Long dirtyRateBps) {
      this(
          uuid,
          name,
          state,
          vcpus,
          memoryMb,
          diskGb,
          projectId,
          userId,
          flavor,
          cpuXml,
          machineType,
          dirtyRateBps,
          null);
    }

    /** A domain without CPU, machine type and dirty rate. */
    public Domain(
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
   * What the destination needs to know to take an instance, and what it checks before the first
   * byte.
   *
   * @param cpuXml the guest's {@code <cpu>} element to compare with this host's CPU; null = none
   * @param machineType the guest's machine type; null = unknown
   * @param sourceHypervisorVersion the source's hypervisor version; null = unknown
   * @param sharedStorage true when the conductor decided on a shared-storage migration, which this
   *     host must confirm (it sees the source's storage); null = not decided by the conductor
   * @param dirtyRateBps the guest's measured dirty rate, for hypervisors that model it; null = none
   */
  record IncomingSpec(
      String uuid,
      String name,
      String sourceHost,
      int vcpus,
      long memoryMb,
      long diskGb,
      boolean blockMigration,
      String projectId,
      String userId,
      String flavor,
      String cpuXml,
      String machineType,
      Long sourceHypervisorVersion,
      Boolean sharedStorage,
      Long dirtyRateBps) {
    /** A spec with nothing to compare. */
    public IncomingSpec(
        String uuid,
        String name,
        String sourceHost,
        int vcpus,
        long memoryMb,
        long diskGb,
        boolean blockMigration,
        String projectId,
        String userId,
        String flavor) {
      this(
          uuid,
          name,
          sourceHost,
          vcpus,
          memoryMb,
          diskGb,
          blockMigration,
          projectId,
          userId,
          flavor,
          null,
          null,
          null,
          null,
          null);
    }
  }

  /**
   * How to migrate, as Nova sets libvirt's flags: always live, peer-to-peer, persist on the
   * destination and undefine on the source; non-shared-inc for block migration; auto-converge or
   * post-copy when the host permits.
   *
   * @param bandwidthMibps 0 = hypervisor default
   * @param maxDowntimeMs the initial tolerated downtime
   */
  record MigrationFlags(
      boolean blockMigration,
      boolean autoConverge,
      boolean postCopy,
      long bandwidthMibps,
      long maxDowntimeMs) {}

  /**
   * A snapshot of a running job.
   *
   * @param mode {@code precopy}, {@code postcopy} or {@code paused}
   */
  record JobStats(
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
      long elapsedMs) {}

  /** How a completed migration went. */
  record MigrationResult(
      long downtimeMs,
      long memoryTotalBytes,
      long memoryTransferredBytes,
      long diskTotalBytes,
      long diskTransferredBytes,
      int iterations,
      long elapsedMs,
      String mode) {}
}
