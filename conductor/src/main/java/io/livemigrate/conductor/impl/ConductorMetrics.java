package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.store.MigrationRow;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;

/** The conductor's migration metrics; names are documented in docs/metrics.md. */
public final class ConductorMetrics {
  private final MeterRegistry registry;

  public ConductorMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  void bindInFlight(Map<String, MigrationRow> active) {
    registry.gauge("livemigrate_migrations_in_flight", active, Map::size);
  }

  void finished(MigrationRow m) {
    Counter.builder("livemigrate_migrations")
        .description("Finished live migrations by final status and reason")
        .tags("status", m.status.wire(), "reason", m.reason == null ? "" : m.reason)
        .register(registry)
        .increment();
    if (m.finishedMs > 0 && m.createdMs > 0) {
      Timer.builder("livemigrate_migration_duration")
          .description("From the API's accept to the final status")
          .tag("status", m.status.wire())
          .publishPercentileHistogram()
          .register(registry)
          .record(Duration.ofMillis(m.finishedMs - m.createdMs));
    }
    if (m.downtimeMs >= 0) {
      DistributionSummary.builder("livemigrate_migration_downtime_ms")
          .description("Measured guest downtime of completed migrations")
          .baseUnit("milliseconds")
          .publishPercentileHistogram()
          .register(registry)
          .record(m.downtimeMs);
    }
  }

  void timeoutAction(String action) {
    Counter.builder("livemigrate_timeout_actions")
        .description("Completion-timeout actions taken")
        .tag("action", action)
        .register(registry)
        .increment();
  }

  void progress(boolean applied) {
    Counter.builder("livemigrate_progress_events")
        .description("Progress events received, applied or dropped as stale")
        .tag("outcome", applied ? "applied" : "stale")
        .register(registry)
        .increment();
  }
}
