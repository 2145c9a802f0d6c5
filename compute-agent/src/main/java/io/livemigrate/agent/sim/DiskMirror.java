package io.livemigrate.agent.sim;

/**
 * The disk phase of a {@link PrecopyModel} (its <b>Disk</b> item): the byte counts of a block
 * migration's disk copy, which must be in sync before memory starts moving. Time, the bandwidth and
 * the dirty rate stay with {@link PrecopyPhases}, which passes them in. Not thread-safe, like the
 * model.
 */
final class DiskMirror {

  private final double total;
  private double processed;
  private double remaining;

  /** A mirror of a disk of {@code totalBytes}, nothing copied yet; 0 for shared storage. */
  DiskMirror(double totalBytes) {
    this.total = totalBytes;
    this.remaining = totalBytes;
  }

  /** Whether what is left is within rounding slack of nothing, so memory may start moving. */
  boolean inSync() {
    return remaining <= PrecopyModel.EPS_BYTES;
  }

  /**
   * How long the copy takes to catch up at {@code bandwidth} while the guest dirties {@code
   * dirtyRate}, seconds; infinite when the guest dirties as fast as the link sends.
   */
  double secondsToSync(double bandwidth, double dirtyRate) {
    double net = bandwidth - dirtyRate;
    return net > 0 ? remaining / net : Double.POSITIVE_INFINITY;
  }

  /**
   * Copies for {@code seconds}, at most {@link #secondsToSync}: at that bound the copy has sent
   * exactly what was there plus what got dirtied meanwhile, and nothing remains.
   */
  void copy(double seconds, double bandwidth, double dirtyRate) {
    if (seconds >= secondsToSync(bandwidth, dirtyRate)) {
      processed += remaining + dirtyRate * seconds;
      remaining = 0;
    } else {
      processed += bandwidth * seconds;
      remaining = Math.min(total, remaining - (bandwidth - dirtyRate) * seconds);
    }
  }

  /** The mirror is ready: writes are mirrored synchronously from now on, so nothing remains. */
  void ready() {
    remaining = 0;
  }

  /** An instant guest's disk: all of it counts as copied. */
  void completeInstantly() {
    processed = total;
    remaining = 0;
  }

  double totalBytes() {
    return total;
  }

  double processedBytes() {
    return processed;
  }

  double remainingBytes() {
    return remaining;
  }
}
