package io.livemigrate.conductor;

/**
 * Where a live migration is. Statuses only move forward (by {@link #rank}); the wire values are
 * Nova's.
 */
public enum MigrationStatus {
  /** Created by the API; the scheduler is choosing a destination. */
  ACCEPTED("accepted", 0),
  /** A destination is chosen; waiting to prepare it. */
  QUEUED("queued", 1),
  /** The destination is being checked and prepared (again, after a retry). */
  PREPARING("preparing", 2),
  /** Memory (and disk) are being copied, pre-copy. */
  RUNNING("running", 3),
  /** The guest runs on the destination and pulls the rest of its memory. */
  POSTCOPY("running (post-copy)", 4),
  /** The transfer is done; the destination takes over and the source is cleaned up. */
  POST_MIGRATING("post-migrating", 5),
  /** Done: the instance runs on the destination. */
  COMPLETED("completed", 6),
  /** Rolled back: the instance runs on the source. */
  FAILED("failed", 6),
  /** Aborted by an operator: the instance runs on the source. */
  CANCELLED("cancelled", 6),
  /** Stopped somewhere an operator must look at. */
  ERROR("error", 6);

  private final String wire;
  private final int rank;

  MigrationStatus(String wire, int rank) {
    this.wire = wire;
    this.rank = rank;
  }

  public String wire() {
    return wire;
  }

  public int rank() {
    return rank;
  }

  public boolean isFinal() {
    return rank == 6;
  }

  /** Nova's "in progress" for the server-migrations API, plus post-copy (Nova 404s it). */
  public boolean isInProgress() {
    return !isFinal() && this != ACCEPTED;
  }

  public static MigrationStatus fromWire(String s) {
    for (MigrationStatus m : values()) {
      if (m.wire.equals(s)) return m;
    }
    throw new IllegalArgumentException("unknown migration status " + s);
  }

  /**
   * The one transition rule: forward only, never out of a final status. Staying is allowed (a retry
   * stays in PREPARING).
   */
  public boolean canMoveTo(MigrationStatus next) {
    return !isFinal() && next.rank >= rank;
  }
}
