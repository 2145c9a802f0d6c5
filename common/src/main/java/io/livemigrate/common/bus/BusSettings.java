package io.livemigrate.common.bus;

import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.Options;

/** What the bus adapter needs from configuration. */
public record BusSettings(
    String url,
    String namespace,
    int prefetch,
    long confirmTimeoutMs,
    long reconnectIntervalMs,
    int maxDeliveries) {

  public static BusSettings from(Config c) {
    return new BusSettings(
        c.string(Options.TRANSPORT_URL),
        c.string(Options.BUS_NAMESPACE),
        c.integer(Options.PREFETCH),
        c.longValue(Options.CONFIRM_TIMEOUT_MS),
        c.longValue(Options.RECONNECT_INTERVAL_MS),
        c.integer(Options.MAX_DELIVERIES));
  }

  public Topology topology() {
    return new Topology(namespace);
  }
}
