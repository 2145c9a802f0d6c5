package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.ServiceRow;
import io.livemigrate.conductor.store.StoreHealth;
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
  private final AtomicLong inFlight = new AtomicLong();
  private final AtomicLong duplicateDomains = new AtomicLong();
  private final AtomicLong outboxPending = new AtomicLong();
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
    Gauge.builder("livemigrate_migrations_in_flight", inFlight, AtomicLong::get)
        .description("Unfinished migrations in the store (every conductor of a store shows it)")
        .register(registry);
    Gauge.builder("livemigrate_duplicate_domains", duplicateDomains, AtomicLong::get)
        .description("Instances reconciliation found running on two hosts (never destroyed)")
        .register(registry);
    REPAIRS.forEach(this::repairs);
    Gauge.builder("livemigrate_outbox_pending", outboxPending, AtomicLong::get)
        .description("Messages in the outbox not confirmed by the broker yet")
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
   * Counts and oldest age per phase of the unfinished migrations, from the store's aggregate (the
   * same on every conductor of a store: aggregate with max(), not sum()); for "stuck in a phase"
   * alerts without a series per migration.
   *
   * @param byStatus per wire status: the count and the earliest start of that phase (epoch ms)
   */
  void phases(Map<String, long[]> byStatus, long nowMs) {
    Map<String, long[]> byPhase = new java.util.TreeMap<>();
    for (String phase :
        List.of("accepted", "queued", "preparing", "running", "postcopy", "post_migrating")) {
      byPhase.put(phase, new long[] {0, -1});
    }
    long total = 0;
    for (Map.Entry<String, long[]> e : byStatus.entrySet()) {
      String phase =
          switch (e.getKey()) {
            case "running (post-copy)" -> "postcopy";
            case "post-migrating" -> "post_migrating";
            default -> e.getKey();
          };
      long[] v = byPhase.computeIfAbsent(phase, k -> new long[] {0, -1});
      v[0] += e.getValue()[0];
      total += e.getValue()[0];
      if (e.getValue()[1] > 0) v[1] = Math.max(v[1], nowMs - e.getValue()[1]);
    }
    inFlight.set(total);
    List<MultiGauge.Row<?>> counts = new ArrayList<>();
    List<MultiGauge.Row<?>> ages = new ArrayList<>();
    byPhase.forEach(
        (phase, v) -> {
          counts.add(MultiGauge.Row.of(Tags.of("phase", phase), v[0]));
          ages.add(MultiGauge.Row.of(Tags.of("phase", phase), Math.max(0, v[1]) / 1000.0));
        });
    inPhase.register(counts, true);
    oldestInPhase.register(ages, true);
    // Progress gauges of migrations this conductor no longer hears about (another conductor took
    // their messages, or they ended there) go, so cardinality stays bounded.
    progress
        .entrySet()
        .removeIf(
            e -> {
              boolean stale = nowMs - e.getValue().updatedMs > PROGRESS_GAUGE_TTL_MS;
              if (stale) e.getValue().meters.forEach(registry::remove);
              return stale;
            });
  }

  private static final long PROGRESS_GAUGE_TTL_MS = 60_000;

  /** Duplicated domains flagged by reconciliation (an alert fires above 0). */
  void duplicates(long n) {
    duplicateDomains.set(n);
  }

  /** Messages waiting in the outbox. */
  void outboxPending(long n) {
    outboxPending.set(n);
  }

  void outboxPublished(boolean ok) {
    Counter.builder("livemigrate_outbox_published")
        .description("Outbox messages published, by whether the broker confirmed them")
        .tag("outcome", ok ? "confirmed" : "failed")
        .register(registry)
        .increment();
  }

  void outboxResent(int n) {
    Counter.builder("livemigrate_outbox_resent")
        .description(
            "Outbox messages published again by the sweep (a failed publish or a dead"
                + " conductor's)")
        .register(registry)
        .increment(n);
  }

  /** A message that changed nothing: late, duplicated, or for a step already decided. */
  void stale(String type) {
    Counter.builder("livemigrate_conductor_stale_messages")
        .description("Messages for a migration that changed nothing (late or not awaited)")
        .tag("type", type)
        .register(registry)
        .increment();
  }

  void duplicateMessage() {
    Counter.builder("livemigrate_conductor_duplicate_messages")
        .description("Messages whose id this store had handled already (redeliveries)")
        .register(registry)
        .increment();
  }

  /** A deadline fired (claimed by this conductor). */
  void deadline(String kind) {
    Counter.builder("livemigrate_deadlines_fired")
        .description("Deadlines this conductor acted on, by kind (completion or the step)")
        .tag("kind", kind)
        .register(registry)
        .increment();
  }

  /** Every repair reconciliation makes; counted from 0 so that alerts see the first one. */
  static final List<String> REPAIRS =
      List.of(
          "host_corrected",
          "failed_behind",
          "completed_behind",
          "duplicate_domain",
          "instance_lost");

  /** A repair reconciliation made, by kind (one of {@link #REPAIRS}). */
  void reconciled(String kind) {
    repairs(kind).increment();
  }

  private Counter repairs(String kind) {
    return Counter.builder("livemigrate_reconcile_repairs")
        .description("Repairs reconciliation made to the record, by kind")
        .tag("kind", kind)
        .register(registry);
  }

  /** 1 while the store answers, 0 during an outage (which /health reports with its reason). */
  void watchStore(StoreHealth health) {
    Gauge.builder("livemigrate_store_up", health, h -> h.up() ? 1 : 0)
        .description("1 while the conductor's store answers, 0 during an outage")
        .register(registry);
  }

  /** The live values behind one migration's gauges; written on the conductor's context. */
  private static final class Progress {
    volatile double remaining;
    volatile double processed;
    volatile double total;
    volatile double dirtyRate;
    volatile double eta = Double.NaN;
    volatile long updatedMs;
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
    p.updatedMs = System.currentTimeMillis();
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

  /** Applied progress of one migration (its gauges); see {@link #progress(MigrationRow)}. */
  long inFlight() {
    return inFlight.get();
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
