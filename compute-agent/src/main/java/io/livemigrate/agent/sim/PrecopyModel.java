package io.livemigrate.agent.sim;

import io.livemigrate.agent.Hypervisor.JobStats;
import io.livemigrate.agent.Hypervisor.MigrationResult;
import java.util.Optional;

/**
 * A deterministic model of one pre-copy live migration (Clark et al., NSDI'05, as QEMU does it),
 * advanced only by {@link #step(long)}: no threads, no clock, so the same calls always give the
 * same numbers.
 *
 * <h2>What it models</h2>
 *
 * <ul>
 *   <li><b>Disk</b> (block migration only): the disk of {@code S} bytes is copied first at the
 *       bandwidth {@code B}; while it is copied the guest dirties disk blocks at 1% of its
 *       effective memory dirty rate, and those are copied again. Memory starts moving only once the
 *       disk is in sync; from then on disk writes are mirrored synchronously (QEMU's drive-mirror
 *       in the ready state), so the disk remaining stays 0.
 *   <li><b>Memory passes</b>: pass 0 sends all of {@code M}. While a pass sends, the guest dirties
 *       {@code min(W, D_eff × elapsed)} bytes: it rewrites its working set {@code W}, and a page
 *       rewritten twice is sent once. The next pass sends what the previous one saw dirtied, in
 *       whole 4 KiB pages (a sub-page rest is ignored, which also keeps a zero max downtime from
 *       needing infinitely many ever-shorter passes).
 *   <li><b>Remaining</b> is QEMU's dirty-bitmap count: what is left of the current pass plus what
 *       was dirtied since it began (never more than {@code M}). <b>Processed</b> is every byte sent
 *       so far, and grows beyond {@code M}.
 *   <li><b>Stop-and-copy</b>: when a pass ends and the next one would take at most the max
 *       downtime, or at any moment from pass 1 on when the remaining would (QEMU checks
 *       continuously), the guest stops, the rest is sent and the migration completes. Its downtime
 *       is {@code rest / B} (at least 1 ms for a non-empty rest) plus {@link #SWITCH_COST_MS}, so a
 *       converged migration's downtime is at most max downtime + {@link #SWITCH_COST_MS}.
 *   <li><b>Auto-converge</b>: from pass 2 on, each pass that starts because the previous one did
 *       not converge throttles the guest further: 20%, then +10% per pass, at most 99%; the
 *       effective dirty rate is {@code D × (1 − throttle)}.
 *   <li><b>Pause</b> ({@link #pause()}): the guest stops dirtying; the downtime then runs from the
 *       pause to the end of the stop-and-copy.
 *   <li><b>Post-copy</b> ({@link #startPostCopy()}): the guest runs on the destination after a
 *       {@link #POSTCOPY_SWITCH_MS} switch, which is all its downtime; the remaining memory is
 *       pulled at {@code B} with no more dirtying, and the migration completes when none is left.
 *   <li><b>Instant</b> guests complete within the first {@link #step(long)}.
 * </ul>
 *
 * <p>This class is what callers see: it checks their arguments and preconditions. {@link
 * PrecopyPhases} moves through the phases; {@link DiskMirror}, {@link MemoryPasses} and {@link
 * PostCopyPull} keep each phase's numbers.
 *
 * <p>Times are kept in double seconds and bytes in doubles (exact to well beyond TiB sizes);
 * reported numbers are rounded to long. Not thread-safe: the owner serialises calls.
 */
public final class PrecopyModel {

  /** Fixed cost of moving the device state and switching the guest over in stop-and-copy, ms. */
  public static final long SWITCH_COST_MS = 5;

  /** The downtime of switching a running migration to post-copy, ms. */
  public static final long POSTCOPY_SWITCH_MS = 10;

  /** The dirty-tracking granularity. */
  public static final long PAGE_SIZE = 4096;

  /** Disk blocks get dirtied at this fraction of the guest's effective memory dirty rate. */
  public static final double DISK_DIRTY_FRACTION = 0.01;

  /** Rounding slack when comparing byte counts computed in doubles. */
  static final double EPS_BYTES = 1.0;

  /** Where a model is in its life. */
  public enum Status {
    RUNNING,
    COMPLETED,
    CANCELLED
  }

  private final PrecopyPhases phases;
  private final boolean postCopyPermitted;

  PrecopyModel(PrecopyModelBuilder b) {
    this.phases = new PrecopyPhases(b);
    this.postCopyPermitted = b.postCopyPermitted;
  }

  /**
   * Starts a builder for a guest of {@code memoryBytes} of memory.
   *
   * @throws IllegalArgumentException if {@code memoryBytes} is not positive
   */
  public static PrecopyModelBuilder builder(long memoryBytes) {
    return new PrecopyModelBuilder(memoryBytes);
  }

  /**
   * Advances the model by {@code dtMs} milliseconds of simulated time. Does nothing once the model
   * completed or was cancelled. A step of 0 ms still applies the checks that need no time (a raised
   * max downtime, an instant guest).
   *
   * @return the status after the step
   * @throws IllegalArgumentException if {@code dtMs} is negative
   */
  public Status step(long dtMs) {
    if (dtMs < 0) {
      throw new IllegalArgumentException("negative step: " + dtMs);
    }
    return phases.advance(dtMs / 1000.0);
  }

  /**
   * Changes the bandwidth from now on, as {@code migrate-set-parameters max-bandwidth} does.
   *
   * @throws IllegalArgumentException if {@code bps} is not positive
   */
  public void setBandwidth(long bps) {
    if (bps <= 0) {
      throw new IllegalArgumentException("bandwidth must be positive: " + bps);
    }
    phases.setBandwidth(bps);
  }

  /**
   * Changes the tolerated downtime; takes effect at the next {@link #step(long)} (a 0 ms step
   * applies it at once).
   *
   * @throws IllegalArgumentException if {@code ms} is negative
   */
  public void setMaxDowntimeMs(long ms) {
    if (ms < 0) {
      throw new IllegalArgumentException("max downtime must not be negative: " + ms);
    }
    phases.setMaxDowntimeMs(ms);
  }

  /**
   * Changes the guest's (unthrottled) dirty rate from now on.
   *
   * @throws IllegalArgumentException if {@code bps} is negative
   */
  public void setDirtyRate(long bps) {
    if (bps < 0) {
      throw new IllegalArgumentException("dirty rate must not be negative: " + bps);
    }
    phases.setDirtyRate(bps);
  }

  /**
   * Pauses the guest: it dirties nothing from now on and the downtime counts from now. Idempotent;
   * a no-op once the model ended or switched to post-copy (the guest runs on the destination).
   */
  public void pause() {
    phases.pause();
  }

  /**
   * Switches to post-copy. During the disk copy the switch is deferred until the disk is in sync
   * (libvirt likewise waits for the mirror). Idempotent while already in post-copy.
   *
   * @throws IllegalStateException if post-copy was not permitted when the model was built, or the
   *     model is no longer running
   */
  public void startPostCopy() {
    if (!postCopyPermitted) {
      throw new IllegalStateException("post-copy was not permitted for this migration");
    }
    if (status() != Status.RUNNING) {
      throw new IllegalStateException("migration is not running: " + status());
    }
    phases.startPostCopy();
  }

  /** Cancels the migration; a no-op once it completed. */
  public void abort() {
    phases.abort();
  }

  /** The current status. */
  public Status status() {
    return phases.status();
  }

  /** True while neither completed nor cancelled. */
  public boolean isRunning() {
    return status() == Status.RUNNING;
  }

  /** True once the migration completed. */
  public boolean isCompleted() {
    return status() == Status.COMPLETED;
  }

  /** True once the migration was cancelled. */
  public boolean isCancelled() {
    return status() == Status.CANCELLED;
  }

  /** How the migration went, once it completed; empty before and when cancelled. */
  public Optional<MigrationResult> result() {
    return Optional.ofNullable(phases.result());
  }

  /** {@code postcopy} after the switch, {@code paused} once paused, else {@code precopy}. */
  public String mode() {
    return phases.mode();
  }

  /** The auto-converge throttle, 0 to 0.99. */
  public double throttle() {
    return phases.throttle();
  }

  /** The auto-converge throttle in whole percent, 0 to 99. */
  public int throttlePercent() {
    return (int) Math.round(phases.throttle() * 100);
  }

  /** The 0-based index of the current memory pass (0 while the disk copies). */
  public int iteration() {
    return phases.iteration();
  }

  /** Whether {@link #startPostCopy()} is allowed. */
  public boolean postCopyPermitted() {
    return postCopyPermitted;
  }

  /** The current bandwidth, bytes/s. */
  public long bandwidthBps() {
    return Math.round(phases.bandwidth());
  }

  /** The current tolerated downtime, ms. */
  public long maxDowntimeMs() {
    return phases.maxDowntimeMs();
  }

  /** Simulated time since the start, ms. */
  public long elapsedMs() {
    return Math.round(phases.nowSec() * 1000.0);
  }

  /** Memory still to send as QEMU reports it (the dirty bitmap), bytes. */
  public long memoryRemainingBytes() {
    return Math.round(phases.memoryRemaining());
  }

  /** Memory sent so far, re-sent pages included, bytes. */
  public long memoryProcessedBytes() {
    return Math.round(phases.memoryProcessed());
  }

  /**
   * The numbers of the job right now, as the hypervisor SPI reports them. After completion the
   * remaining counts are 0.
   */
  public JobStats snapshot() {
    return phases.snapshot();
  }
}
