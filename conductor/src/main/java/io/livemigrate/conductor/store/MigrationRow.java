package io.livemigrate.conductor.store;

import io.livemigrate.conductor.MigrationStatus;
import java.util.ArrayList;
import java.util.List;

/**
 * One migration as stored. Mutable, owned by the conductor's event-loop context; the store writes a
 * copy of the whole row.
 */
public final class MigrationRow {
  public long id;
  public String uuid;
  public String instanceUuid;
  public String sourceCompute;
  public String destCompute;
  public String requestedHost;
  public boolean blockMigration;
  public MigrationStatus status = MigrationStatus.ACCEPTED;
  public String reason;
  public String message;
  public String requestId;
  public String projectId;
  public String userId;
  public long memoryTotal;
  public long memoryProcessed;
  public long memoryRemaining;
  public long diskTotal;
  public long diskProcessed;
  public long diskRemaining;
  public long dirtyRate;
  public long bandwidth;
  public int iteration;
  public long expectedDowntimeMs;
  public long downtimeMs = -1;
  public String mode;
  public long lastSeq;
  public List<String> triedHosts = new ArrayList<>();

  /** The step whose answer is awaited (select, prepare, start, monitor, abort, post). */
  public String step;

  public long stepDeadlineMs;
  public long completionDeadlineMs;
  public long completionTimeoutS;

  /** Why an abort was asked for, so the agent's "cancelled" maps to the right reason. */
  public String abortReason;

  public List<String> actions = new ArrayList<>();

  /** The convergence policy's state and the source's permits, JSON; null before the transfer. */
  public String policy;

  /** The policy's latest estimate of the time to completion; -1 = none or not converging. */
  public long etaMs = -1;

  /** The policy's latest estimate of the guest's pause at switch-over; -1 = none. */
  public long predictedDowntimeMs = -1;

  public long createdMs;
  public long updatedMs;
  public long queuedMs;
  public long preparingMs;
  public long runningMs;
  public long postcopyMs;
  public long postMigratingMs;
  public long finishedMs;

  public MigrationRow copy() {
    MigrationRow c = new MigrationRow();
    c.id = id;
    c.uuid = uuid;
    c.instanceUuid = instanceUuid;
    c.sourceCompute = sourceCompute;
    c.destCompute = destCompute;
    c.requestedHost = requestedHost;
    c.blockMigration = blockMigration;
    c.status = status;
    c.reason = reason;
    c.message = message;
    c.requestId = requestId;
    c.projectId = projectId;
    c.userId = userId;
    c.memoryTotal = memoryTotal;
    c.memoryProcessed = memoryProcessed;
    c.memoryRemaining = memoryRemaining;
    c.diskTotal = diskTotal;
    c.diskProcessed = diskProcessed;
    c.diskRemaining = diskRemaining;
    c.dirtyRate = dirtyRate;
    c.bandwidth = bandwidth;
    c.iteration = iteration;
    c.expectedDowntimeMs = expectedDowntimeMs;
    c.downtimeMs = downtimeMs;
    c.mode = mode;
    c.lastSeq = lastSeq;
    c.triedHosts = new ArrayList<>(triedHosts);
    c.step = step;
    c.stepDeadlineMs = stepDeadlineMs;
    c.completionDeadlineMs = completionDeadlineMs;
    c.completionTimeoutS = completionTimeoutS;
    c.abortReason = abortReason;
    c.actions = new ArrayList<>(actions);
    c.createdMs = createdMs;
    c.updatedMs = updatedMs;
    c.queuedMs = queuedMs;
    c.preparingMs = preparingMs;
    c.runningMs = runningMs;
    c.postcopyMs = postcopyMs;
    c.postMigratingMs = postMigratingMs;
    c.finishedMs = finishedMs;
    c.policy = policy;
    c.etaMs = etaMs;
    c.predictedDowntimeMs = predictedDowntimeMs;
    return c;
  }

  /**
   * Moves the status forward and stamps the phase; the single place statuses change.
   *
   * @throws IllegalStateException on a backward move or a move out of a final status
   */
  public void moveTo(MigrationStatus next, long nowMs) {
    if (!status.canMoveTo(next)) {
      throw new IllegalStateException(
          "migration " + uuid + ": " + status.wire() + " -> " + next.wire() + " is not allowed");
    }
    status = next;
    updatedMs = nowMs;
    switch (next) {
      case QUEUED -> queuedMs = queuedMs == 0 ? nowMs : queuedMs;
      case PREPARING -> preparingMs = preparingMs == 0 ? nowMs : preparingMs;
      case RUNNING -> runningMs = runningMs == 0 ? nowMs : runningMs;
      case POSTCOPY -> postcopyMs = postcopyMs == 0 ? nowMs : postcopyMs;
      case POST_MIGRATING -> postMigratingMs = postMigratingMs == 0 ? nowMs : postMigratingMs;
      default -> {
        if (next.isFinal()) finishedMs = nowMs;
      }
    }
  }
}
