package io.livemigrate.conductor;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One migration as stored: every public instance field is a column of the {@code migrations} table
 * (its name in snake case), which is how the store maps it in both directions and how {@link
 * #copy()} copies it; a field added here is a column to add in a schema migration.
 *
 * <p>Mutable, and only ever changed inside the store transaction that holds the migration's row
 * lock; what the API and the notifications see is a committed copy.
 */
public final class MigrationRow {
  public long id;
  public String uuid;
  public String instanceUuid;
  public String sourceCompute;
  public String destCompute;
  public String requestedHost;
  public boolean blockMigration;

  /**
   * The operator asked for {@code block_migration: "auto"}: {@link #blockMigration} is decided when
   * the destination is known, from whether it sees the source's storage.
   */
  public boolean blockAuto;

  /** Shared storage was decided (auto), and the destination is asked to confirm it sees it. */
  public boolean sharedStorage;

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

  /** The highest progress {@code seq} applied within {@link #progressEpoch}. */
  public long lastSeq;

  /** The source agent's epoch of the progress applied last; a higher one starts a new order. */
  public long progressEpoch;

  public List<String> triedHosts = new ArrayList<>();

  /** The step whose answer is awaited; null once the migration is final. */
  public Step step;

  /**
   * The id of the command the current step waits on: only a reply correlated to it moves the step
   * (a late answer of an earlier destination does not).
   */
  public String awaitingId;

  /** The id of the start_migration command: the transfer's events are replies to it. */
  public String startId;

  public long stepDeadlineMs;
  public long completionDeadlineMs;

  /** The earlier of the two deadlines (0 = none): what the deadline scanners look for. */
  public long dueMs;

  public long completionTimeoutS;

  /** Why an abort was asked for, so the agent's "cancelled" maps to the right reason. */
  public String abortReason;

  /** The source agent sent no heartbeat for service_down_time while the migration ran. */
  public boolean sourceLost;

  /** Since when the source's reports have lacked this migration's job (0 = they have it). */
  public long jobMissingSinceMs;

  /** The final action (force-complete or abort) was taken, by the policy or the timeout. */
  public boolean finalAction;

  /**
   * What to undo when the migration ends with the instance on the source, latest last: each step
   * registers its own compensation before its command goes out ({@link Compensation}).
   */
  public List<String> compensations = new ArrayList<>();

  public List<String> actions = new ArrayList<>();

  /** The convergence policy's state and the source's permits, JSON; null before the transfer. */
  public String policy;

  /** The policy's latest estimate of the time to completion; -1 = none or not converging. */
  public long etaMs = -1;

  /** The policy's latest estimate of the guest's pause at switch-over; -1 = none. */
  public long predictedDowntimeMs = -1;

  /**
   * The strategy the prediction before start expects (precopy, auto_converge, ...); null = none.
   */
  public String plannedStrategy;

  /** The prediction's total time, ms; -1 = unknown. */
  public long plannedTotalMs = -1;

  /** The prediction's downtime at the switch-over, ms; -1 = unknown. */
  public long plannedDowntimeMs = -1;

  /** Why the prediction expects that strategy (CONVERGES, NOT_CONVERGING, ...). */
  public String plannedReason;

  /** The figures the prediction used, one line. */
  public String plannedDetail;

  /** Number of the last notification published about this migration (per-migration order). */
  public long notifySeq;

  public long createdMs;
  public long updatedMs;
  public long queuedMs;
  public long preparingMs;
  public long runningMs;
  public long postcopyMs;
  public long postMigratingMs;
  public long finishedMs;

  /**
   * The column values as the store last read or wrote them, so that an update writes only what
   * changed (a progress sample changes a dozen of the row's columns). Not a column; not copied.
   */
  private Object[] stored;

  public Object[] stored() {
    return stored;
  }

  public void stored(Object[] values) {
    this.stored = values;
  }

  /** Actions kept per migration; older ones are dropped so a long migration stays bounded. */
  public static final int MAX_ACTIONS = 200;

  private static final List<Field> FIELDS = persistentFieldsOf();

  private static List<Field> persistentFieldsOf() {
    return Arrays.stream(MigrationRow.class.getDeclaredFields())
        .filter(f -> Modifier.isPublic(f.getModifiers()) && !Modifier.isStatic(f.getModifiers()))
        .toList();
  }

  /** Every stored field, in declaration order. */
  public static List<Field> persistentFields() {
    return FIELDS;
  }

  /** A deep copy (lists are copied too). */
  @SuppressWarnings("unchecked")
  public MigrationRow copy() {
    MigrationRow c = new MigrationRow();
    try {
      for (Field f : FIELDS) {
        Object v = f.get(this);
        f.set(c, v instanceof List<?> l ? new ArrayList<>((List<String>) l) : v);
      }
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
    return c;
  }

  /** Records what the conductor did, for the post-mortem. */
  public void act(String action, long nowMs) {
    actions.add(java.time.Instant.ofEpochMilli(nowMs) + " " + action);
    while (actions.size() > MAX_ACTIONS) actions.remove(0);
  }

  /** Keeps {@link #dueMs} equal to the earlier of the two deadlines. */
  public void refreshDue() {
    if (status.isFinal()) {
      dueMs = 0;
    } else if (stepDeadlineMs > 0 && completionDeadlineMs > 0) {
      dueMs = Math.min(stepDeadlineMs, completionDeadlineMs);
    } else {
      dueMs = Math.max(stepDeadlineMs, completionDeadlineMs);
    }
  }

  /** Share of the data copied, 0..1, never 1 before the end; for progress bars and drains. */
  public double copiedFraction() {
    long total = memoryTotal + diskTotal;
    if (total <= 0) return 0;
    long remaining = Math.min(total, memoryRemaining + diskRemaining);
    return Math.max(0, Math.min(0.99, 1.0 - (double) remaining / total));
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
    if (next.isFinal()) {
      step = null;
      awaitingId = null;
      stepDeadlineMs = 0;
      completionDeadlineMs = 0;
    }
    refreshDue();
  }
}
