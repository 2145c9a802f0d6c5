package io.livemigrate.agent.libvirt;

/** What was measured of one running guest: its dirty rate and its non-zero memory. */
final class GuestMeasure {
  volatile long lastCalcStart = -1;
  volatile long calcStartedNanos = System.nanoTime() - 3_600_000_000_000L;
  volatile long sampledNanos;
  volatile Long dataBytes;
  private volatile double ewma = -1;

  /**
   * QEMU's page sampling looks at few pages (512 per GiB): single readings scatter, so the report
   * is smoothed.
   */
  synchronized void addDirtyRate(long bps) {
    ewma = ewma < 0 ? bps : 0.5 * bps + 0.5 * ewma;
  }

  Long dirtyRateBps() {
    double e = ewma;
    return e < 0 ? null : (long) e;
  }
}
