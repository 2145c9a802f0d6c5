package io.livemigrate.conductor.store;

/**
 * Whether the store answered the last time it was used, and why not; thread-safe. An outage is
 * logged once when it starts and once when it ends, not per waiting message.
 */
public final class StoreHealth {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(StoreHealth.class);

  private volatile boolean up = true;
  private volatile String reason;
  private volatile long downSinceMs;

  synchronized void ok() {
    if (!up) {
      LOG.info(
          "store reachable again after {} s; waiting work resumes",
          (System.currentTimeMillis() - downSinceMs) / 1000);
      up = true;
      reason = null;
      downSinceMs = 0;
    }
  }

  synchronized void failed(String why) {
    if (up) {
      downSinceMs = System.currentTimeMillis();
      LOG.warn("store unavailable: {}; messages and deadlines wait until it returns", why);
    }
    up = false;
    reason = why;
  }

  public boolean up() {
    return up;
  }

  /** Why the store is down; null while up. */
  public String reason() {
    return reason;
  }

  /** Since when it is down (epoch ms); 0 while up. */
  public long downSinceMs() {
    return downSinceMs;
  }
}
