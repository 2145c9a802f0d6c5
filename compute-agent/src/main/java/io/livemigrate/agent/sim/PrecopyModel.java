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
  private static final double EPS_BYTES = 1.0;

  /**
   * A step handles at most this many events (pass ends and the like); past that the rest of the
   * step is dropped. Only a pathological guest (a working set of a few pages with a zero max
   * downtime) gets near it, and dropping time there only makes the model slower, never wrong.
   */
  private static final int MAX_EVENTS_PER_STEP = 1_000_000;

  /** Where a model is in its life. */
  public enum Status {
    RUNNING,
    COMPLETED,
    CANCELLED
  }

  private enum Phase {
    DISK,
    PRECOPY,
    POSTCOPY,
    DONE
  }

  private final double memTotal;
  private final double diskTotal;
  private final double dirtyCap;
  private final boolean autoConverge;
  private final boolean postCopyPermitted;
  private final boolean instant;

  private double dirtyRate;
  private double bandwidth;
  private long maxDowntimeMs;

  private Status status = Status.RUNNING;
  private Phase phase;
  private double nowSec;

  private double diskProcessed;
  private double diskRemaining;

  private int iteration;
  private double iterSize;
  private double iterSent;
  private double dirtied;
  private double memProcessed;
  private double throttle;

  private boolean paused;
  private double pausedAtSec;

  private boolean postCopyRequested;
  private double postRemaining;
  private double postDowntimeMs;

  private boolean transitioned;
  private MigrationResult result;

  private PrecopyModel(Builder b) {
    this.memTotal = b.memoryBytes;
    this.diskTotal = b.diskBytes;
    long ws = b.workingSetBytes <= 0 ? b.memoryBytes / 4 : b.workingSetBytes;
    this.dirtyCap = Math.min(ws, b.memoryBytes);
    this.autoConverge = b.autoConverge;
    this.postCopyPermitted = b.postCopyPermitted;
    this.instant = b.instant;
    this.dirtyRate = b.dirtyRateBps;
    this.bandwidth = b.bandwidthBps;
    this.maxDowntimeMs = b.maxDowntimeMs;
    this.diskRemaining = diskTotal;
    this.phase = diskTotal > 0 ? Phase.DISK : Phase.PRECOPY;
    this.iterSize = memTotal;
  }

  /**
   * Starts a builder for a guest of {@code memoryBytes} of memory.
   *
   * @throws IllegalArgumentException if {@code memoryBytes} is not positive
   */
  public static Builder builder(long memoryBytes) {
    return new Builder(memoryBytes);
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
    if (status != Status.RUNNING) {
      return status;
    }
    if (instant) {
      completeInstantly();
      return status;
    }
    double left = dtMs / 1000.0;
    int events = 0;
    while (status == Status.RUNNING) {
      transitioned = false;
      double used =
          switch (phase) {
            case DISK -> advanceDisk(left);
            case PRECOPY -> advancePrecopy(left);
            case POSTCOPY -> advancePostcopy(left);
            case DONE -> left;
          };
      left = used >= left ? 0 : left - used;
      if (!transitioned && left <= 0) {
        break;
      }
      if (++events > MAX_EVENTS_PER_STEP) {
        nowSec += left;
        break;
      }
    }
    return status;
  }

  private double advanceDisk(double left) {
    if (diskRemaining <= EPS_BYTES) {
      startMemory();
      return 0;
    }
    double diskDirtyRate = effectiveDirtyRate() * DISK_DIRTY_FRACTION;
    double net = bandwidth - diskDirtyRate;
    double tDrain = net > 0 ? diskRemaining / net : Double.POSITIVE_INFINITY;
    double t = Math.min(left, tDrain);
    nowSec += t;
    if (t >= tDrain) {
      // Sent exactly what was there plus what got dirtied meanwhile.
      diskProcessed += diskRemaining + diskDirtyRate * t;
      diskRemaining = 0;
      startMemory();
    } else {
      diskProcessed += bandwidth * t;
      diskRemaining = Math.min(diskTotal, diskRemaining - net * t);
    }
    return t;
  }

  private void startMemory() {
    diskRemaining = 0;
    phase = Phase.PRECOPY;
    iteration = 0;
    iterSize = memTotal;
    iterSent = 0;
    dirtied = 0;
    transitioned = true;
    if (postCopyRequested) {
      switchToPostCopy();
    }
  }

  private double advancePrecopy(double left) {
    double rem = iterSize - iterSent + dirtied;
    double threshold = thresholdBytes();
    if (iteration >= 1 && Math.min(rem, memTotal) <= threshold + EPS_BYTES) {
      stopAndCopy(Math.min(rem, memTotal));
      return 0;
    }
    double dRate = dirtied < dirtyCap ? effectiveDirtyRate() : 0;
    double tEnd = (iterSize - iterSent) / bandwidth;
    double tCap = dRate > 0 ? (dirtyCap - dirtied) / dRate : Double.POSITIVE_INFINITY;
    double tThr = Double.POSITIVE_INFINITY;
    if (iteration >= 1 && dRate < bandwidth) {
      tThr = Math.max(0, (rem - threshold) / (bandwidth - dRate));
    }
    double t = Math.min(Math.min(left, tEnd), Math.min(tCap, tThr));
    nowSec += t;
    dirtied = t >= tCap ? dirtyCap : Math.min(dirtyCap, dirtied + dRate * t);
    if (t >= tEnd) {
      memProcessed += iterSize - iterSent;
      iterSent = iterSize;
      endIteration();
    } else {
      memProcessed += bandwidth * t;
      iterSent += bandwidth * t;
    }
    return t;
  }

  private void endIteration() {
    double next = Math.min(memTotal, Math.floor(dirtied / PAGE_SIZE) * PAGE_SIZE);
    if (next / bandwidth * 1000.0 <= maxDowntimeMs) {
      stopAndCopy(next);
      return;
    }
    iteration++;
    iterSize = next;
    iterSent = 0;
    dirtied = 0;
    if (autoConverge && iteration >= 2) {
      throttle = throttle == 0 ? 0.20 : Math.min(0.99, throttle + 0.10);
    }
    transitioned = true;
  }

  private void stopAndCopy(double rest) {
    double copyMs = rest > 0 ? Math.max(1.0, rest / bandwidth * 1000.0) : 0;
    double pausedMs = paused ? (nowSec - pausedAtSec) * 1000.0 : 0;
    memProcessed += rest;
    finish(pausedMs + copyMs + SWITCH_COST_MS, nowSec * 1000.0 + copyMs + SWITCH_COST_MS, mode());
  }

  private double advancePostcopy(double left) {
    double tDrain = postRemaining / bandwidth;
    double t = Math.min(left, tDrain);
    nowSec += t;
    if (t >= tDrain) {
      memProcessed += postRemaining;
      postRemaining = 0;
      finish(postDowntimeMs, nowSec * 1000.0, "postcopy");
    } else {
      memProcessed += bandwidth * t;
      postRemaining -= bandwidth * t;
    }
    return t;
  }

  private void switchToPostCopy() {
    double pausedMs = paused ? (nowSec - pausedAtSec) * 1000.0 : 0;
    postRemaining = Math.min(memTotal, iterSize - iterSent + dirtied);
    postDowntimeMs = pausedMs + POSTCOPY_SWITCH_MS;
    paused = false;
    phase = Phase.POSTCOPY;
    transitioned = true;
  }

  private void completeInstantly() {
    memProcessed = memTotal;
    diskProcessed = diskTotal;
    diskRemaining = 0;
    finish(SWITCH_COST_MS, nowSec * 1000.0 + SWITCH_COST_MS, mode());
  }

  private void finish(double downtimeMs, double endMs, String finalMode) {
    int passes = instant ? 1 : iteration + 2;
    result =
        new MigrationResult(
            (long) Math.ceil(downtimeMs - 1e-9),
            Math.round(memTotal),
            Math.round(memProcessed),
            Math.round(diskTotal),
            Math.round(diskProcessed),
            passes,
            Math.round(endMs),
            finalMode);
    iterSize = 0;
    iterSent = 0;
    dirtied = 0;
    postRemaining = 0;
    diskRemaining = 0;
    phase = Phase.DONE;
    status = Status.COMPLETED;
    transitioned = true;
  }

  private double thresholdBytes() {
    return bandwidth * maxDowntimeMs / 1000.0;
  }

  private double effectiveDirtyRate() {
    if (paused || phase == Phase.POSTCOPY || phase == Phase.DONE) {
      return 0;
    }
    return dirtyRate * (1.0 - throttle);
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
    bandwidth = bps;
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
    maxDowntimeMs = ms;
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
    dirtyRate = bps;
  }

  /**
   * Pauses the guest: it dirties nothing from now on and the downtime counts from now. Idempotent;
   * a no-op once the model ended or switched to post-copy (the guest runs on the destination).
   */
  public void pause() {
    if (status != Status.RUNNING || phase == Phase.POSTCOPY || paused) {
      return;
    }
    paused = true;
    pausedAtSec = nowSec;
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
    if (status != Status.RUNNING) {
      throw new IllegalStateException("migration is not running: " + status);
    }
    if (phase == Phase.DISK) {
      postCopyRequested = true;
    } else if (phase == Phase.PRECOPY) {
      switchToPostCopy();
    }
  }

  /** Cancels the migration; a no-op once it completed. */
  public void abort() {
    if (status == Status.RUNNING) {
      status = Status.CANCELLED;
      phase = Phase.DONE;
    }
  }

  /** The current status. */
  public Status status() {
    return status;
  }

  /** True while neither completed nor cancelled. */
  public boolean isRunning() {
    return status == Status.RUNNING;
  }

  /** True once the migration completed. */
  public boolean isCompleted() {
    return status == Status.COMPLETED;
  }

  /** True once the migration was cancelled. */
  public boolean isCancelled() {
    return status == Status.CANCELLED;
  }

  /** How the migration went, once it completed; empty before and when cancelled. */
  public Optional<MigrationResult> result() {
    return Optional.ofNullable(result);
  }

  /** {@code postcopy} after the switch, {@code paused} once paused, else {@code precopy}. */
  public String mode() {
    if (result != null) {
      return result.mode();
    }
    if (phase == Phase.POSTCOPY) {
      return "postcopy";
    }
    return paused ? "paused" : "precopy";
  }

  /** The auto-converge throttle, 0 to 0.99. */
  public double throttle() {
    return throttle;
  }

  /** The auto-converge throttle in whole percent, 0 to 99. */
  public int throttlePercent() {
    return (int) Math.round(throttle * 100);
  }

  /** The 0-based index of the current memory pass (0 while the disk copies). */
  public int iteration() {
    return iteration;
  }

  /** Whether {@link #startPostCopy()} is allowed. */
  public boolean postCopyPermitted() {
    return postCopyPermitted;
  }

  /** The current bandwidth, bytes/s. */
  public long bandwidthBps() {
    return Math.round(bandwidth);
  }

  /** The current tolerated downtime, ms. */
  public long maxDowntimeMs() {
    return maxDowntimeMs;
  }

  /** Simulated time since the start, ms. */
  public long elapsedMs() {
    return Math.round(nowSec * 1000.0);
  }

  /** Memory still to send as QEMU reports it (the dirty bitmap), bytes. */
  public long memoryRemainingBytes() {
    return Math.round(memoryRemaining());
  }

  /** Memory sent so far, re-sent pages included, bytes. */
  public long memoryProcessedBytes() {
    return Math.round(memProcessed);
  }

  private double memoryRemaining() {
    return switch (phase) {
      case DISK -> memTotal;
      case PRECOPY -> Math.min(memTotal, iterSize - iterSent + dirtied);
      case POSTCOPY -> postRemaining;
      case DONE ->
          status == Status.COMPLETED ? 0 : Math.min(memTotal, iterSize - iterSent + dirtied);
    };
  }

  /**
   * The numbers of the job right now, as the hypervisor SPI reports them. After completion the
   * remaining counts are 0.
   */
  public JobStats snapshot() {
    double remaining = memoryRemaining();
    return new JobStats(
        mode(),
        Math.round(memTotal),
        Math.round(memProcessed),
        Math.round(remaining),
        Math.round(diskTotal),
        Math.round(diskProcessed),
        Math.round(diskRemaining),
        Math.round(effectiveDirtyRate()),
        Math.round(bandwidth),
        iteration,
        Math.round(remaining / bandwidth * 1000.0),
        Math.round(nowSec * 1000.0));
  }

  /** Builds a {@link PrecopyModel}; every setting but the memory size has a default. */
  public static final class Builder {
    private final long memoryBytes;
    private long diskBytes;
    private long dirtyRateBps;
    private long workingSetBytes;
    private long bandwidthBps = 1L << 30;
    private long maxDowntimeMs = 500;
    private boolean autoConverge;
    private boolean postCopyPermitted;
    private boolean instant;

    private Builder(long memoryBytes) {
      if (memoryBytes <= 0) {
        throw new IllegalArgumentException("memory must be positive: " + memoryBytes);
      }
      this.memoryBytes = memoryBytes;
    }

    /** Disk to copy before memory (block migration); 0 (the default) = shared storage. */
    public Builder diskBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("disk must not be negative: " + bytes);
      }
      this.diskBytes = bytes;
      return this;
    }

    /** The guest's dirty rate, bytes/s (default 0). */
    public Builder dirtyRateBps(long bps) {
      if (bps < 0) {
        throw new IllegalArgumentException("dirty rate must not be negative: " + bps);
      }
      this.dirtyRateBps = bps;
      return this;
    }

    /** The writable working set, bytes; 0 (the default) = a quarter of memory; capped at memory. */
    public Builder workingSetBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("working set must not be negative: " + bytes);
      }
      this.workingSetBytes = bytes;
      return this;
    }

    /** The initial bandwidth, bytes/s (default 1 GiB/s). */
    public Builder bandwidthBps(long bps) {
      if (bps <= 0) {
        throw new IllegalArgumentException("bandwidth must be positive: " + bps);
      }
      this.bandwidthBps = bps;
      return this;
    }

    /** The initial tolerated downtime, ms (default 500). */
    public Builder maxDowntimeMs(long ms) {
      if (ms < 0) {
        throw new IllegalArgumentException("max downtime must not be negative: " + ms);
      }
      this.maxDowntimeMs = ms;
      return this;
    }

    /** Whether auto-converge throttles the guest (default off). */
    public Builder autoConverge(boolean on) {
      this.autoConverge = on;
      return this;
    }

    /** Whether {@link PrecopyModel#startPostCopy()} is allowed (default off). */
    public Builder postCopyPermitted(boolean on) {
      this.postCopyPermitted = on;
      return this;
    }

    /** A guest that migrates within the first step, whatever its sizes (default off). */
    public Builder instant(boolean on) {
      this.instant = on;
      return this;
    }

    /** The model, at time 0, nothing sent yet. */
    public PrecopyModel build() {
      return new PrecopyModel(this);
    }
  }
}
