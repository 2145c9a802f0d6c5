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
  final AtomicInteger outdated = new AtomicInteger();

  /** Every cause a parked message can have; registered at zero per consumed queue. */
  static final String[] CAUSES = {
    "undecodable", "invalid", "forbidden", "handler_failed", "unroutable"
  };

  BusMetrics(MeterRegistry registry, String service) {
    this.registry = registry;
    this.service = service;
    registry.gauge(
        "livemigrate_bus_connected",
        io.micrometer.core.instrument.Tags.of("service", service),
        connected);
    registry.gauge(
        "livemigrate_bus_topology_outdated",
        io.micrometer.core.instrument.Tags.of("service", service),
        outdated);
  }

  /**
   * Registers a queue's failure counters at zero when its consumer starts: a counter that first
   * appears at 1 is invisible to {@code increase()}, so the first parked message would never alert,
   * and dashboards could not tell "none" from "not exported".
   */
  void consuming(String queue) {
    for (String cause : CAUSES) {
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
    staleCounter(queue);
  }

  private Counter staleCounter(String queue) {
    return Counter.builder("livemigrate_bus_stale_deliveries")
        .description(
            "Deliveries not acked because their channel was gone (the broker redelivers them)")
        .tags("service", service, "queue", queue)
        .register(registry);
  }

  void stale(String queue) {
    staleCounter(queue).increment();
  }

  void publishRetry(String exchange) {
    Counter.builder("livemigrate_bus_publish_retries")
        .description("Publishes attempted again because the previous attempt was not confirmed")
        .tags("service", service, "exchange", exchange)
        .register(registry)
        .increment();
  }

  void published(String exchange, boolean ok) {
    Counter.builder("livemigrate_bus_published")
        .description("Messages published, by outcome of the broker confirm")
        .tags("service", service, "exchange", exchange, "outcome", ok ? "confirmed" : "failed")
        .register(registry)
        .increment();
  }

  /**
   * Publishes on the commands exchange by the kind of queue they go to ({@code compute}, {@code
   * scheduler}, {@code conductor}): what "commands sent" means when they are compared with what the
   * receivers handled.
   */
  void command(String to, boolean ok) {
    Counter.builder("livemigrate_bus_commands")
        .description("Messages published to a queue through the commands exchange, by target")
        .tags("service", service, "to", to, "outcome", ok ? "confirmed" : "failed")
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
