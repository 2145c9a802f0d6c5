package io.livemigrate.conductor.impl;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.SchedulerMessages.InFlight;
import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.ServiceRow;
import io.livemigrate.conductor.store.Store;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every conductor does periodically, each over the shared store so that exactly one acts: due
 * deadlines (claimed with {@code FOR UPDATE SKIP LOCKED}), changes of a source's liveness, drain
 * retries, expiry of handled message ids, the gauges, and a probe of the store so /health notices
 * an outage while nothing else runs. A scan never overlaps itself.
 */
final class Scanners {
  private static final Logger LOG = LoggerFactory.getLogger(Scanners.class);
  static final long DEADLINE_SCAN_MS = 200;
  private static final int DEADLINE_BATCH = 200;

  private final Vertx vertx;
  private final TxRunner tx;
  private final Saga saga;
  private final DrainService drains;
  private final ConductorSettings settings;
  private final ConductorMetrics metrics;
  private final Bus bus;
  private final long startedMs = System.currentTimeMillis();
  private final List<Long> timers = new ArrayList<>();

  Scanners(
      Vertx vertx,
      TxRunner tx,
      Saga saga,
      DrainService drains,
      ConductorSettings settings,
      ConductorMetrics metrics,
      Bus bus) {
    this.vertx = vertx;
    this.bus = bus;
    this.tx = tx;
    this.saga = saga;
    this.drains = drains;
    this.settings = settings;
    this.metrics = metrics;
  }

  void start() {
    every(DEADLINE_SCAN_MS, this::deadlines);
    every(1000, this::liveness);
    every(1000, drains::tick);
    every(1000, this::gauges);
    every(2000, () -> tx.blocking(() -> probe(tx.store())));
    every(60_000, () -> tx.run(c -> c.tx().expireHandled(c.now())).mapEmpty());
    every(Math.max(1000, settings.reportIntervalMs()), this::inFlight);
  }

  void stop() {
    timers.forEach(vertx::cancelTimer);
  }

  private static Void probe(Store s) {
    s.probe();
    return null;
  }

  /** Runs {@code scan} every {@code ms}, never two at once; failures are the store's health. */
  private void every(long ms, Supplier<Future<?>> scan) {
    boolean[] running = {false};
    timers.add(
        vertx.setPeriodic(
            ms,
            t -> {
              if (running[0]) return;
              running[0] = true;
              Future<?> f;
              try {
                f = scan.get();
              } catch (RuntimeException e) {
                f = Future.failedFuture(e);
              }
              f.onComplete(
                  ar -> {
                    running[0] = false;
                    if (ar.failed()) LOG.debug("periodic scan failed: {}", ar.cause().toString());
                  });
            }));
  }

  /** Due deadlines: each claimed by one conductor, acted on in its own transaction. */
  private Future<Void> deadlines() {
    long now = System.currentTimeMillis();
    return tx.readUrgent(t -> t.migrations().due(now, DEADLINE_BATCH))
        .compose(
            uuids -> {
              Future<Void> f = Future.succeededFuture();
              for (String uuid : uuids) {
                f = f.compose(v -> deadline(uuid).recover(e -> Future.succeededFuture()));
              }
              return f;
            });
  }

  private Future<Void> deadline(String uuid) {
    return tx.runUrgent(
        c -> {
          Optional<MigrationRow> locked = c.tx().migrations().lockIfDue(uuid, c.now());
          if (locked.isEmpty()) return null; // another conductor has it, or it moved on
          MigrationRow m = locked.get();
          saga.onDeadline(c, m);
          c.tx().migrations().update(m);
          return null;
        });
  }

  /**
   * The source of a running migration stopped (or resumed) heartbeating. Not in the first {@code
   * service_down_time} after this process started: heartbeats sent while no conductor ran are still
   * being read.
   */
  private Future<Void> liveness() {
    long now = System.currentTimeMillis();
    if (now - startedMs < settings.serviceDownTimeMs()) return Future.succeededFuture();
    long downBefore = now - settings.serviceDownTimeMs();
    return tx.read(t -> t.migrations().sourceLivenessChanged(downBefore))
        .compose(
            uuids -> {
              Future<Void> f = Future.succeededFuture();
              for (String uuid : uuids) {
                f = f.compose(v -> liveness(uuid).recover(e -> Future.succeededFuture()));
              }
              return f;
            });
  }

  private Future<Void> liveness(String uuid) {
    return tx.run(
        c -> {
          Optional<MigrationRow> locked = c.tx().migrations().tryLock(uuid);
          if (locked.isEmpty()) return null;
          MigrationRow m = locked.get();
          Optional<ServiceRow> src =
              c.tx().inventory().service(m.sourceCompute, Inventory.COMPUTE_BINARY);
          if (src.isEmpty()) return null;
          long silent = c.now() - src.get().lastSeenMs();
          boolean down = src.get().forcedDown() || silent > settings.serviceDownTimeMs();
          saga.sourceLiveness(c, m, down, silent);
          c.tx().migrations().update(m);
          return null;
        });
  }

  /**
   * Tells the scheduler what is in flight (from the store), so its claims survive its restart and a
   * lost release frees nothing late. Not through the outbox: the next snapshot replaces it.
   */
  private Future<Void> inFlight() {
    long now = System.currentTimeMillis();
    return tx.read(t -> t.migrations().claimed())
        .compose(
            list ->
                bus.send(
                    bus.topology().schedulerQueue(),
                    Envelope.of(new InFlight(now, list), bus.sender())));
  }

  private Future<Void> gauges() {
    long now = System.currentTimeMillis();
    return tx.read(
            t ->
                new Gauges(
                    t.migrations().inFlightByStatus(),
                    t.inventory().services(),
                    t.outbox().pending(),
                    t.reports().duplicates()))
        .onSuccess(
            g -> {
              metrics.phases(g.byStatus(), now);
              metrics.hosts(g.services(), now, settings.serviceDownTimeMs());
              metrics.outboxPending(g.outbox());
              metrics.duplicates(g.duplicates());
            })
        .mapEmpty();
  }

  private record Gauges(
      Map<String, long[]> byStatus, List<ServiceRow> services, long outbox, long duplicates) {}
}
