package io.livemigrate.agent.sim;

import static io.livemigrate.agent.sim.PrecopyModel.DISK_DIRTY_FRACTION;
import static io.livemigrate.agent.sim.PrecopyModel.POSTCOPY_SWITCH_MS;
import static io.livemigrate.agent.sim.PrecopyModel.SWITCH_COST_MS;

import io.livemigrate.agent.Hypervisor.JobStats;
import io.livemigrate.agent.Hypervisor.MigrationResult;
import io.livemigrate.agent.sim.PrecopyModel.Status;

/**
 * The simulation behind a {@link PrecopyModel}: the simulated clock and the phases it moves through
 * in order, the {@link DiskMirror} (block migration only), the {@link MemoryPasses}, then
 * stop-and-copy or the {@link PostCopyPull}. It decides when one phase gives way to the next; the
 * model checks its callers' arguments and preconditions before anything reaches here.
 *
 * <p>Not thread-safe, like the model.
 */
final class PrecopyPhases {

  /**
   * A step handles at most this many events (pass ends and the like); past that the rest of the
   * step is dropped. Only a pathological guest (a working set of a few pages with a zero max
   * downtime) gets near it, and dropping time there only makes the model slower, never wrong.
   */
  private static final int MAX_EVENTS_PER_STEP = 1_000_000;

  private enum Phase {
    DISK,
    PRECOPY,
    POSTCOPY,
    DONE
  }

  private final double memTotal;
  private final boolean instant;

  private double dirtyRate;
  private double bandwidth;
  private long maxDowntimeMs;

  private Status status = Status.RUNNING;
  private Phase phase;
  private double nowSec;

  private final DiskMirror disk;
  private final MemoryPasses passes;
  private double memProcessed;

  private boolean paused;
  private double pausedAtSec;

  private boolean postCopyRequested;

  /** Set by the switch to post-copy. */
  private PostCopyPull pull;

  private boolean transitioned;
  private MigrationResult result;

  PrecopyPhases(PrecopyModelBuilder b) {
    this.memTotal = b.memoryBytes;
    this.disk = new DiskMirror(b.diskBytes);
    long ws = b.workingSetBytes <= 0 ? b.memoryBytes / 4 : b.workingSetBytes;
    this.passes = new MemoryPasses(memTotal, Math.min(ws, b.memoryBytes), b.autoConverge);
    this.instant = b.instant;
    this.dirtyRate = b.dirtyRateBps;
    this.bandwidth = b.bandwidthBps;
    this.maxDowntimeMs = b.maxDowntimeMs;
    this.phase = b.diskBytes > 0 ? Phase.DISK : Phase.PRECOPY;
  }

  /**
   * Advances by {@code seconds} (not negative) of simulated time; see {@link PrecopyModel#step}.
   */
  Status advance(double seconds) {
    if (status != Status.RUNNING) {
      return status;
    }
    if (instant) {
      completeInstantly();
      return status;
    }
    double left = seconds;
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
    if (disk.inSync()) {
      startMemory();
      return 0;
    }
    double diskDirtyRate = effectiveDirtyRate() * DISK_DIRTY_FRACTION;
    double tSync = disk.secondsToSync(bandwidth, diskDirtyRate);
    double t = Math.min(left, tSync);
    nowSec += t;
    disk.copy(t, bandwidth, diskDirtyRate);
    if (t >= tSync) {
      startMemory();
    }
    return t;
  }

  private void startMemory() {
    disk.ready();
    phase = Phase.PRECOPY;
    transitioned = true;
    if (postCopyRequested) {
      switchToPostCopy();
    }
  }

  private double advancePrecopy(double left) {
    double threshold = bandwidth * maxDowntimeMs / 1000.0;
    if (passes.fits(threshold)) {
      stopAndCopy(passes.remainingBytes());
      return 0;
    }
    double rate = effectiveDirtyRate();
    double tEnd = passes.secondsToPassEnd(bandwidth);
    double t = Math.min(left, passes.secondsToNextEvent(bandwidth, rate, threshold));
    nowSec += t;
    memProcessed += passes.send(t, bandwidth, rate);
    if (t >= tEnd) {
      endPass();
    }
    return t;
  }

  private void endPass() {
    double next = passes.nextPassBytes();
    if (next / bandwidth * 1000.0 <= maxDowntimeMs) {
      stopAndCopy(next);
      return;
    }
    passes.startNextPass();
    transitioned = true;
  }

  private void stopAndCopy(double rest) {
    double copyMs = rest > 0 ? Math.max(1.0, rest / bandwidth * 1000.0) : 0;
    memProcessed += rest;
    finish(pausedMs() + copyMs + SWITCH_COST_MS, nowSec * 1000.0 + copyMs + SWITCH_COST_MS, mode());
  }

  private double advancePostcopy(double left) {
    double tDrain = pull.secondsToDrain(bandwidth);
    double t = Math.min(left, tDrain);
    nowSec += t;
    memProcessed += pull.pull(t, bandwidth);
    if (t >= tDrain) {
      finish(pull.downtimeMs(), nowSec * 1000.0, "postcopy");
    }
    return t;
  }

  private void switchToPostCopy() {
    pull = new PostCopyPull(passes.remainingBytes(), pausedMs() + POSTCOPY_SWITCH_MS);
    paused = false;
    phase = Phase.POSTCOPY;
    transitioned = true;
  }

  /** How long the guest has been paused, ms; 0 while it runs. */
  private double pausedMs() {
    return paused ? (nowSec - pausedAtSec) * 1000.0 : 0;
  }

  private void completeInstantly() {
    memProcessed = memTotal;
    disk.completeInstantly();
    finish(SWITCH_COST_MS, nowSec * 1000.0 + SWITCH_COST_MS, mode());
  }

  private void finish(double downtimeMs, double endMs, String finalMode) {
    int passCount = instant ? 1 : passes.iteration() + 2;
    result =
        new MigrationResult(
            (long) Math.ceil(downtimeMs - 1e-9),
            Math.round(memTotal),
            Math.round(memProcessed),
            Math.round(disk.totalBytes()),
            Math.round(disk.processedBytes()),
            passCount,
            Math.round(endMs),
            finalMode);
    phase = Phase.DONE;
    status = Status.COMPLETED;
    transitioned = true;
  }

  private double effectiveDirtyRate() {
    if (paused || phase == Phase.POSTCOPY || phase == Phase.DONE) {
      return 0;
    }
    return dirtyRate * (1.0 - passes.throttle());
  }

  void setBandwidth(double bps) {
    bandwidth = bps;
  }

  void setMaxDowntimeMs(long ms) {
    maxDowntimeMs = ms;
  }

  void setDirtyRate(double bps) {
    dirtyRate = bps;
  }

  /** See {@link PrecopyModel#pause()}. */
  void pause() {
    if (status != Status.RUNNING || phase == Phase.POSTCOPY || paused) {
      return;
    }
    paused = true;
    pausedAtSec = nowSec;
  }

  /** Switches to post-copy, or during the disk copy once the disk is in sync; running only. */
  void startPostCopy() {
    if (phase == Phase.DISK) {
      postCopyRequested = true;
    } else if (phase == Phase.PRECOPY) {
      switchToPostCopy();
    }
  }

  /** Cancels the migration; a no-op once it completed. */
  void abort() {
    if (status == Status.RUNNING) {
      status = Status.CANCELLED;
      phase = Phase.DONE;
    }
  }

  Status status() {
    return status;
  }

  /** Set once the migration completed; null before and when cancelled. */
  MigrationResult result() {
    return result;
  }

  /** See {@link PrecopyModel#mode()}. */
  String mode() {
    if (result != null) {
      return result.mode();
    }
    if (phase == Phase.POSTCOPY) {
      return "postcopy";
    }
    return paused ? "paused" : "precopy";
  }

  double throttle() {
    return passes.throttle();
  }

  int iteration() {
    return passes.iteration();
  }

  double bandwidth() {
    return bandwidth;
  }

  long maxDowntimeMs() {
    return maxDowntimeMs;
  }

  double nowSec() {
    return nowSec;
  }

  double memoryProcessed() {
    return memProcessed;
  }

  /** The dirty-bitmap count as QEMU reports it: all of memory until it starts moving, 0 after. */
  double memoryRemaining() {
    return switch (phase) {
      case DISK -> memTotal;
      case PRECOPY -> passes.remainingBytes();
      case POSTCOPY -> pull.remainingBytes();
      case DONE -> status == Status.COMPLETED ? 0 : passes.remainingBytes();
    };
  }

  /** See {@link PrecopyModel#snapshot()}. */
  JobStats snapshot() {
    double remaining = memoryRemaining();
    return new JobStats(
        mode(),
        Math.round(memTotal),
        Math.round(memProcessed),
        Math.round(remaining),
        Math.round(disk.totalBytes()),
        Math.round(disk.processedBytes()),
        Math.round(disk.remainingBytes()),
        Math.round(effectiveDirtyRate()),
        Math.round(bandwidth),
        passes.iteration(),
        Math.round(remaining / bandwidth * 1000.0),
        Math.round(nowSec * 1000.0));
  }
}
