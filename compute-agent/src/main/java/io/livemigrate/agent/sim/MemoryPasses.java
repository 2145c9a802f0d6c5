package io.livemigrate.agent.sim;

/**
 * The memory passes of a {@link PrecopyModel} (its <b>Memory passes</b>, <b>Remaining</b> and
 * <b>Auto-converge</b> items): the current pass, what the guest dirtied since it began (the dirty
 * bitmap) and the throttle. Time, the bandwidth, the effective dirty rate and the decision to stop
 * and copy stay with {@link PrecopyPhases}, which passes them in and counts the bytes this returns
 * as processed. Not thread-safe, like the model.
 */
final class MemoryPasses {

  private final double total;
  private final double dirtyCap;
  private final boolean autoConverge;

  private int iteration;
  private double size;
  private double sent;
  private double dirtied;
  private double throttle;

  /**
   * Pass 0 of {@code totalBytes}, nothing sent or dirtied yet.
   *
   * @param dirtyCapBytes the writable working set {@code W}, at most {@code totalBytes}
   */
  MemoryPasses(double totalBytes, double dirtyCapBytes, boolean autoConverge) {
    this.total = totalBytes;
    this.dirtyCap = dirtyCapBytes;
    this.autoConverge = autoConverge;
    this.size = totalBytes;
  }

  /** The dirty-bitmap count, bytes. */
  double remainingBytes() {
    return Math.min(total, size - sent + dirtied);
  }

  /**
   * Whether the remaining could be sent within {@code thresholdBytes} right now; from pass 1 on
   * only, as QEMU checks continuously but never stops during the full first pass.
   */
  boolean fits(double thresholdBytes) {
    return iteration >= 1 && remainingBytes() <= thresholdBytes + PrecopyModel.EPS_BYTES;
  }

  /** How long the rest of this pass takes at {@code bandwidth}, seconds. */
  double secondsToPassEnd(double bandwidth) {
    return (size - sent) / bandwidth;
  }

  /**
   * Seconds until the next event while sending at {@code bandwidth} with the guest dirtying at
   * {@code dirtyRate}: the pass ends, the working set is all dirty (dirtying stops), or from pass 1
   * on the remaining comes down to {@code thresholdBytes}.
   */
  double secondsToNextEvent(double bandwidth, double dirtyRate, double thresholdBytes) {
    double rate = dirtyingRate(dirtyRate);
    double tThreshold = Double.POSITIVE_INFINITY;
    if (iteration >= 1 && rate < bandwidth) {
      tThreshold = Math.max(0, (size - sent + dirtied - thresholdBytes) / (bandwidth - rate));
    }
    return Math.min(secondsToPassEnd(bandwidth), Math.min(secondsToCap(rate), tThreshold));
  }

  /**
   * Sends for {@code seconds}, at most {@link #secondsToNextEvent}, while the guest dirties at
   * {@code dirtyRate}; at {@link #secondsToPassEnd} the whole pass is sent.
   *
   * @return the bytes sent
   */
  double send(double seconds, double bandwidth, double dirtyRate) {
    double rate = dirtyingRate(dirtyRate);
    double tEnd = secondsToPassEnd(bandwidth);
    dirtied =
        seconds >= secondsToCap(rate) ? dirtyCap : Math.min(dirtyCap, dirtied + rate * seconds);
    if (seconds >= tEnd) {
      double rest = size - sent;
      sent = size;
      return rest;
    }
    sent += bandwidth * seconds;
    return bandwidth * seconds;
  }

  /** What the next pass would send: what this one saw dirtied, in whole pages, bytes. */
  double nextPassBytes() {
    return Math.min(total, Math.floor(dirtied / PrecopyModel.PAGE_SIZE) * PrecopyModel.PAGE_SIZE);
  }

  /** Starts the next pass of {@link #nextPassBytes()}, throttling further with auto-converge. */
  void startNextPass() {
    double next = nextPassBytes();
    iteration++;
    size = next;
    sent = 0;
    dirtied = 0;
    if (autoConverge && iteration >= 2) {
      throttle = throttle == 0 ? 0.20 : Math.min(0.99, throttle + 0.10);
    }
  }

  /** The 0-based index of the current pass. */
  int iteration() {
    return iteration;
  }

  /** The auto-converge throttle, 0 to 0.99. */
  double throttle() {
    return throttle;
  }

  /** Once the working set is all dirty, rewriting it dirties nothing new. */
  private double dirtyingRate(double dirtyRate) {
    return dirtied < dirtyCap ? dirtyRate : 0;
  }

  private double secondsToCap(double rate) {
    return rate > 0 ? (dirtyCap - dirtied) / rate : Double.POSITIVE_INFINITY;
  }
}
