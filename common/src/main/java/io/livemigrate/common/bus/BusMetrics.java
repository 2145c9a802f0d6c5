package io.livemigrate.common.bus;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/** Bus counters of one service; names are documented in docs/metrics.md. */
final class BusMetrics {
  private final MeterRegistry registry;
  private final String service;
  final AtomicInteger connected = new AtomicInteger();

  BusMetrics(MeterRegistry registry, String service) {
    this.registry = registry;
    this.service = service;
    registry.gauge(
        "livemigrate_bus_connected",
        io.micrometer.core.instrument.Tags.of("service", service),
        connected);
  }

  /**
   * Registers a queue's failure counters at zero when its consumer starts: a counter that first
   * appears at 1 is invisible to {@code increase()}, so the first parked message would never alert,
   * and dashboards could not tell "none" from "not exported".
   */
  void consuming(String queue) {
    for (String cause : new String[] {"undecodable", "invalid", "handler_failed"}) {
      Counter.builder("livemigrate_bus_parked")
          .description("Messages moved to the parking queue, by cause")
          .tags("service", service, "queue", queue, "cause", cause)
          .register(registry);
    }
    Counter.builder("livemigrate_bus_duplicates")
        .description("Messages skipped because their id was already handled")
        .tags("service", service, "queue", queue)
        .register(registry);
    Counter.builder("livemigrate_bus_redelivered")
        .description("Messages delivered again by the broker")
        .tags("service", service, "queue", queue)
        .register(registry);
  }

  void published(String exchange, boolean ok) {
    Counter.builder("livemigrate_bus_published")
        .description("Messages published, by outcome of the broker confirm")
        .tags("service", service, "exchange", exchange, "outcome", ok ? "confirmed" : "failed")
        .register(registry)
        .increment();
  }

  void consumed(String queue, String type) {
    Counter.builder("livemigrate_bus_consumed")
        .description("Messages delivered to a consumer")
        .tags("service", service, "queue", queue, "type", type)
        .register(registry)
        .increment();
  }

  void parked(String queue, String cause) {
    Counter.builder("livemigrate_bus_parked")
        .description("Messages moved to the parking queue, by cause")
        .tags("service", service, "queue", queue, "cause", cause)
        .register(registry)
        .increment();
  }

  void duplicate(String queue) {
    Counter.builder("livemigrate_bus_duplicates")
        .description("Messages skipped because their id was already handled")
        .tags("service", service, "queue", queue)
        .register(registry)
        .increment();
  }

  void redelivered(String queue) {
    Counter.builder("livemigrate_bus_redelivered")
        .description("Messages delivered again by the broker")
        .tags("service", service, "queue", queue)
        .register(registry)
        .increment();
  }

  void transientRetry(String queue) {
    Counter.builder("livemigrate_bus_transient_retries")
        .description(
            "Deliveries put back because their handler failed transiently (e.g. store down)")
        .tags("service", service, "queue", queue)
        .register(registry)
        .increment();
  }

  void confirmLatency(long nanos) {
    Timer.builder("livemigrate_bus_confirm_latency")
        .description("Time from publish to broker confirm")
        .tags("service", service)
        .publishPercentileHistogram()
        .register(registry)
        .record(Duration.ofNanos(nanos));
  }
}
