package io.livemigrate.conductor;

/** Why a migration ended the way it did (or took an action); stored and shown as the name. */
public enum Reason {
  /** Completed normally. */
  COMPLETED,
  /** An operator aborted it. */
  USER_ABORT,
  /** live_migration_completion_timeout elapsed and the action was abort. */
  COMPLETION_TIMEOUT,
  /** Remaining bytes stopped shrinking (stall detection). */
  STALLED,
  /** The policy predicted pre-copy could not finish in time and nothing else could finish it. */
  PREDICTED_TIMEOUT,
  /** No host passed the scheduler's filters. */
  NO_VALID_HOST,
  /** The scheduler did not answer in time. */
  SCHEDULER_UNAVAILABLE,
  /** The destination refused or failed to prepare. */
  PREPARE_FAILED,
  /** The hypervisor failed the transfer. */
  HYPERVISOR_ERROR,
  /** The source agent went silent during the migration. */
  SOURCE_AGENT_LOST,
  /** The destination agent went silent during the migration. */
  DEST_AGENT_LOST,
  /** The destination could not take over after the transfer. */
  POST_FAILED,
  /** The destination's CPU cannot run the guest's (checked before the first byte). */
  CPU_INCOMPATIBLE,
  /** The destination's QEMU does not offer the guest's machine type. */
  MACHINE_TYPE_UNSUPPORTED,
  /** The destination's hypervisor is older than the source's. */
  HYPERVISOR_TOO_OLD,
  /** A shared-storage migration, but the destination does not see the source's storage. */
  STORAGE_NOT_SHARED,
  /**
   * An agent refused the other host: not a known peer ({@code [compute] peers}) or no host name.
   */
  PEER_REFUSED,
  /** Reconciliation found the domain running on two hosts; nothing was destroyed. */
  DUPLICATE_DOMAIN,
  /** Reconciliation found the domain running on no host at all. */
  INSTANCE_LOST;

  /** Refusals a destination gives before the first byte; any other prepare failure is generic. */
  private static final java.util.Set<Reason> PREPARE_REFUSALS =
      java.util.EnumSet.of(
          CPU_INCOMPATIBLE,
          MACHINE_TYPE_UNSUPPORTED,
          HYPERVISOR_TOO_OLD,
          STORAGE_NOT_SHARED,
          PEER_REFUSED);

  /** The destination's refusal code as the migration's reason. */
  public static Reason fromPrepare(String code) {
    if (code != null) {
      for (Reason r : PREPARE_REFUSALS) {
        if (r.name().equals(code)) return r;
      }
    }
    return PREPARE_FAILED;
  }

  /** The agent's reason code mapped onto ours; unknown codes are hypervisor errors. */
  public static Reason fromAgent(String code) {
    if (code == null) return HYPERVISOR_ERROR;
    try {
      return valueOf(code);
    } catch (IllegalArgumentException e) {
      return HYPERVISOR_ERROR;
    }
  }
}
