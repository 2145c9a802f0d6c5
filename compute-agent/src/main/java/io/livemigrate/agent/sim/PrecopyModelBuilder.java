package io.livemigrate.agent.sim;

/** Builds a {@link PrecopyModel}; every setting but the memory size has a default. */
public final class PrecopyModelBuilder {
  // Package-private so that the model's constructor reads the settings without a getter each.
  final long memoryBytes;
  long diskBytes;
  long dirtyRateBps;
  long workingSetBytes;
  long bandwidthBps = 1L << 30;
  long maxDowntimeMs = 500;
  boolean autoConverge;
  boolean postCopyPermitted;
  boolean instant;

  /** Use {@link PrecopyModel#builder(long)}. */
  PrecopyModelBuilder(long memoryBytes) {
    if (memoryBytes <= 0) {
      throw new IllegalArgumentException("memory must be positive: " + memoryBytes);
    }
    this.memoryBytes = memoryBytes;
  }

  /** Disk to copy before memory (block migration); 0 (the default) = shared storage. */
  public PrecopyModelBuilder diskBytes(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("disk must not be negative: " + bytes);
    }
    this.diskBytes = bytes;
    return this;
  }

  /** The guest's dirty rate, bytes/s (default 0). */
  public PrecopyModelBuilder dirtyRateBps(long bps) {
    if (bps < 0) {
      throw new IllegalArgumentException("dirty rate must not be negative: " + bps);
    }
    this.dirtyRateBps = bps;
    return this;
  }

  /** The writable working set, bytes; 0 (the default) = a quarter of memory; capped at memory. */
  public PrecopyModelBuilder workingSetBytes(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("working set must not be negative: " + bytes);
    }
    this.workingSetBytes = bytes;
    return this;
  }

  /** The initial bandwidth, bytes/s (default 1 GiB/s). */
  public PrecopyModelBuilder bandwidthBps(long bps) {
    if (bps <= 0) {
      throw new IllegalArgumentException("bandwidth must be positive: " + bps);
    }
    this.bandwidthBps = bps;
    return this;
  }

  /** The initial tolerated downtime, ms (default 500). */
  public PrecopyModelBuilder maxDowntimeMs(long ms) {
    if (ms < 0) {
      throw new IllegalArgumentException("max downtime must not be negative: " + ms);
    }
    this.maxDowntimeMs = ms;
    return this;
  }

  /** Whether auto-converge throttles the guest (default off). */
  public PrecopyModelBuilder autoConverge(boolean on) {
    this.autoConverge = on;
    return this;
  }

  /** Whether {@link PrecopyModel#startPostCopy()} is allowed (default off). */
  public PrecopyModelBuilder postCopyPermitted(boolean on) {
    this.postCopyPermitted = on;
    return this;
  }

  /** A guest that migrates within the first step, whatever its sizes (default off). */
  public PrecopyModelBuilder instant(boolean on) {
    this.instant = on;
    return this;
  }

  /** The model, at time 0, nothing sent yet. */
  public PrecopyModel build() {
    return new PrecopyModel(this);
  }
}
