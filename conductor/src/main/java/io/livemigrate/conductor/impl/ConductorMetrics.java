package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.store.MigrationRow;
import io.livemigrate.conductor.store.ServiceRow;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** The conductor's migration metrics; names are documented in docs/metrics.md. */
public final class ConductorMetrics {
  /** The binary name compute agents report their heartbeats under. */
  static final String COMPUTE_BINARY = "livemigrate-compute";

  private final MeterRegistry registry;

  /** Per-migration progress gauges, removed when the migration ends so cardinality is bounded. */
  private final Map<String, Progress> progress = new ConcurrentHashMap<>();

  private final AtomicLong hostsUp = new AtomicLong();
  private final AtomicLong hostsDown = new AtomicLong();
  private final MultiGauge heartbeatAge;
  private final MultiGauge inPhase;
  private final MultiGauge oldestInPhase;

  public ConductorMetrics(MeterRegistry registry) {
    this.registry = registry;
    Gauge.builder("livemigrate_hosts", hostsUp, AtomicLong::get)
        .description("Compute hosts by liveness (heartbeat within service_down_time, not forced)")
        .tag("state", "up")
        .register(registry);
    Gauge.builder("livemigrate_hosts", hostsDown, AtomicLong::get)
        .description("Compute hosts by liveness (heartbeat within service_down_time, not forced)")
        .tag("state", "down")
        .register(registry);
    heartbeatAge =
        MultiGauge.builder("livemigrate_host_heartbeat_age_seconds")
            .description("Seconds since the compute host's last heartbeat reached the conductor")
            .register(registry);
    // At zero from the start, so increase() sees the first timeout action (see the alert rules).
    for (String action : List.of("abort", "force_complete")) {
      Counter.builder("livemigrate_timeout_actions")
          .description("Completion-timeout actions taken")
          .tag("action", action)
          .register(registry);
    }
    inPhase =
        MultiGauge.builder("livemigrate_migrations_in_phase")
            .description("Unfinished migrations by current phase")
            .register(registry);
    oldestInPhase =
        MultiGauge.builder("livemigrate_migration_phase_oldest_seconds")
            .description("Longest time any unfinished migration has spent in its current phase")
            .register(registry);
  }

  /**
   * Counts and oldest age per phase of the unfinished migrations; for "stuck in a phase" alerts
   * without a series per migration. Called on the conductor's context, which owns the rows.
   */
  void phases(Iterable<MigrationRow> active, long nowMs) {
    Map<String, long[]> byPhase = new java.util.TreeMap<>();
    for (String phase :
        List.of("accepted", "queued", "preparing", "running", "postcopy", "post_migrating")) {
      byPhase.put(phase, new long[] {0, -1});
    }
    for (MigrationRow m : active) {
      if (m.status.isFinal()) continue;
      long since =
          switch (m.status) {
            case QUEUED -> m.queuedMs;
            case PREPARING -> m.preparingMs;
            case RUNNING -> m.runningMs;
            case POSTCOPY -> m.postcopyMs;
            case POST_MIGRATING -> m.postMigratingMs;
            default -> m.createdMs;
          };
      long[] v = byPhase.computeIfAbsent(phaseName(m), k -> new long[] {0, -1});
      v[0]++;
      if (since > 0) v[1] = Math.max(v[1], nowMs - since);
    }
    List<MultiGauge.Row<?>> counts = new ArrayList<>();
    List<MultiGauge.Row<?>> ages = new ArrayList<>();
    byPhase.forEach(
        (phase, v) -> {
          counts.add(MultiGauge.Row.of(Tags.of("phase", phase), v[0]));
          ages.add(MultiGauge.Row.of(Tags.of("phase", phase), Math.max(0, v[1]) / 1000.0));
        });
    inPhase.register(counts, true);
    oldestInPhase.register(ages, true);
  }

  /** The phase label of a status: its wire name, post-copy folded to "postcopy". */
  static String phaseName(MigrationRow m) {
    return switch (m.status) {
      case POSTCOPY -> "postcopy";
      case POST_MIGRATING -> "post_migrating";
      default -> m.status.wire();
    };
  }

  void bindInFlight(Map<String, MigrationRow> active) {
    registry.gauge("livemigrate_migrations_in_flight", active, Map::size);
  }

  /** The live values behind one migration's gauges; written on the conductor's context. */
  private static final class Progress {
    volatile double remaining;
    volatile double processed;
    volatile double total;
    volatile double dirtyRate;
    volatile double eta = Double.NaN;
    final List<Meter> meters = new ArrayList<>();
  }

  /** Applied progress of a running migration: updates (first registers) its gauges. */
  void progress(MigrationRow m) {
    Progress p =
        progress.computeIfAbsent(
            m.uuid,
            uuid -> {
              Progress n = new Progress();
              Tags tags = Tags.of("migration_uuid", uuid, "instance_uuid", m.instanceUuid);
              n.meters.add(
                  Gauge.builder("livemigrate_migration_remaining_bytes", n, x -> x.remaining)
                      .description("Memory and disk bytes still to copy, per running migration")
                      .tags(tags)
                      .baseUnit("bytes")
                      .register(registry));
              n.meters.add(
                  Gauge.builder("livemigrate_migration_processed_bytes", n, x -> x.processed)
                      .description("Memory and disk bytes copied so far, per running migration")
                      .tags(tags)
                      .baseUnit("bytes")
                      .register(registry));
              n.meters.add(
                  Gauge.builder("livemigrate_migration_total_bytes", n, x -> x.total)
                      .description("Memory and disk bytes to copy in the first pass")
                      .tags(tags)
                      .baseUnit("bytes")
                      .register(registry));
              n.meters.add(
                  Gauge.builder(
                          "livemigrate_migration_dirty_rate_bytes_per_second", n, x -> x.dirtyRate)
                      .description("Guest memory dirty rate, per running migration")
                      .tags(tags)
                      .register(registry));
              n.meters.add(
                  Gauge.builder("livemigrate_migration_eta_seconds", n, x -> x.eta)
                      .description(
                          "Remaining bytes / (bandwidth - dirty rate); NaN while not converging")
                      .tags(tags)
                      .register(registry));
              return n;
            });
    p.remaining = m.memoryRemaining + m.diskRemaining;
    p.processed = m.memoryProcessed + m.diskProcessed;
    p.total = m.memoryTotal + m.diskTotal;
    p.dirtyRate = m.dirtyRate;
    long net = m.bandwidth - m.dirtyRate;
    // Same estimate as the CLI's progress bar; no number while the guest dirties faster.
    p.eta = net > 0 ? Math.ceil((double) (m.memoryRemaining + m.diskRemaining) / net) : Double.NaN;
  }

  void finished(MigrationRow m) {
    Progress p = progress.remove(m.uuid);
    if (p != null) p.meters.forEach(registry::remove);
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
    recordPhases(m);
    if (m.downtimeMs >= 0) {
      DistributionSummary.builder("livemigrate_migration_downtime_ms")
          .description("Measured guest downtime of completed migrations")
          .baseUnit("milliseconds")
          .publishPercentileHistogram()
          .register(registry)
          .record(m.downtimeMs);
      Timer.builder("livemigrate_migration_downtime")
          .description("Measured guest downtime of completed migrations")
          .serviceLevelObjectives(
              Duration.ofMillis(10),
              Duration.ofMillis(50),
              Duration.ofMillis(100),
              Duration.ofMillis(300),
              Duration.ofMillis(500),
              Duration.ofSeconds(1),
              Duration.ofSeconds(5))
          .register(registry)
          .record(Duration.ofMillis(m.downtimeMs));
    }
  }

  /**
   * One observation per phase the migration went through: a phase lasts from its stamp to the next
   * later stamp (the final status ends the last one). Phases never entered are not observed.
   */
  private void recordPhases(MigrationRow m) {
    String[] phases = {
      "accepted", "queued", "preparing", "running", "postcopy", "post_migrating", "finished"
    };
    long[] at = {
      m.createdMs,
      m.queuedMs,
      m.preparingMs,
      m.runningMs,
      m.postcopyMs,
      m.postMigratingMs,
      m.finishedMs
    };
    for (int i = 0; i < phases.length - 1; i++) {
      if (at[i] <= 0) continue;
      long end = 0;
      for (int j = i + 1; j < at.length && end == 0; j++) if (at[j] > 0) end = at[j];
      if (end < at[i]) continue;
      Timer.builder("livemigrate_migration_phase_duration")
          .description("Time a migration spent in each phase, observed when it ends")
          .tag("phase", phases[i])
          .publishPercentileHistogram()
          .minimumExpectedValue(Duration.ofMillis(1))
          .maximumExpectedValue(Duration.ofHours(3))
          .register(registry)
          .record(Duration.ofMillis(end - at[i]));
    }
  }

  /** Liveness of compute hosts from the services table, refreshed periodically. */
  void hosts(List<ServiceRow> services, long nowMs, long downTimeMs) {
    long up = 0;
    long down = 0;
    List<MultiGauge.Row<?>> rows = new ArrayList<>();
    for (ServiceRow s : services) {
      if (!COMPUTE_BINARY.equals(s.binary())) continue;
      long age = Math.max(0, nowMs - s.lastSeenMs());
      if (s.forcedDown() || age > downTimeMs) down++;
      else up++;
      rows.add(MultiGauge.Row.of(Tags.of("host", s.host()), age / 1000.0));
    }
    hostsUp.set(up);
    hostsDown.set(down);
    // Overwrite: a host deleted from the table loses its series.
    heartbeatAge.register(rows, true);
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
