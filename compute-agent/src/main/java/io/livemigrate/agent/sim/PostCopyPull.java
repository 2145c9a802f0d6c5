package io.livemigrate.agent.sim;

/**
 * The post-copy phase of a {@link PrecopyModel} (its <b>Post-copy</b> item): what is still to be
 * pulled to the destination, and the downtime fixed at the switch. {@link PrecopyPhases} passes the
 * bandwidth in (it may change during the pull) and counts the bytes this returns as processed. Not
 * thread-safe, like the model.
 */
final class PostCopyPull {

  private final double downtimeMs;
  private double remaining;

  /**
   * A pull of {@code remainingBytes}, the dirty-bitmap count at the switch, after a downtime of
   * {@code downtimeMs} (the switch, plus the time the guest was paused before it).
   */
  PostCopyPull(double remainingBytes, double downtimeMs) {
    this.remaining = remainingBytes;
    this.downtimeMs = downtimeMs;
  }

  /** How long what is left takes at {@code bandwidth}, seconds. */
  double secondsToDrain(double bandwidth) {
    return remaining / bandwidth;
  }

  /**
   * Pulls for {@code seconds}, at most {@link #secondsToDrain}; at that bound all that was left is
   * pulled.
   *
   * @return the bytes pulled
   */
  double pull(double seconds, double bandwidth) {
    if (seconds >= secondsToDrain(bandwidth)) {
      double pulled = remaining;
      remaining = 0;
      return pulled;
    }
    remaining -= bandwidth * seconds;
    return bandwidth * seconds;
  }

  double remainingBytes() {
    return remaining;
  }

  /** The migration's whole downtime, ms. */
  double downtimeMs() {
    return downtimeMs;
  }
}
