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
  POST_FAILED;

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
