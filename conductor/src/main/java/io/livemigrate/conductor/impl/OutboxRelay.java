package io.livemigrate.conductor.impl;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.conductor.store.OutboxTable;
import io.livemigrate.conductor.store.Store;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes the outbox with publisher confirms. The conductor whose transaction wrote a message
 * publishes it right after the commit and deletes the row once confirmed; a row left behind (a
 * failed publish, or a conductor that died before the delete) is claimed and published again by any
 * conductor's sweep. At least once: receivers dedupe by message id.
 *
 * <p>Runs on the conductor's context (the bus must only be used from there); store work goes to the
 * store workers.
 */
final class OutboxRelay {
  private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);
  private static final long DELETE_DELAY_MS = 20;
  private static final long SWEEP_MS = 1000;
  private static final int SWEEP_BATCH = 200;

  private final Vertx vertx;
  private final Bus bus;
  private final Store store;
  private final ConductorMetrics metrics;
  private final WorkerExecutor worker;
  private final List<String> confirmed = new ArrayList<>();
  private final List<String> failed = new ArrayList<>();
  private boolean deleteScheduled;
  private boolean sweeping;
  private long sweepTimer = -1;

  OutboxRelay(Vertx vertx, Bus bus, Store store, ConductorMetrics metrics) {
    this.vertx = vertx;
    this.bus = bus;
    this.store = store;
    this.metrics = metrics;
    // One thread: deletes and sweeps of this conductor never race each other.
    this.worker = vertx.createSharedWorkerExecutor("conductor-outbox", 1);
  }

  /** Starts the sweep. */
  void start() {
    sweepTimer = vertx.setPeriodic(SWEEP_MS, t -> sweep());
  }

  Future<Void> stop() {
    if (sweepTimer >= 0) vertx.cancelTimer(sweepTimer);
    return worker.close();
  }

  /** A transaction committed: publish what it caused. */
  void published(Effects fx) {
    for (Effects.Outgoing o : fx.outbox) send(o, true);
    for (Effects.Outgoing o : fx.bestEffort) send(o, false);
  }

  private void send(Effects.Outgoing o, boolean stored) {
    Future<Void> f =
        o.envelope() != null
            ? bus.publish(o.exchange(), o.routingKey(), o.envelope())
            : bus.publishJson(o.exchange(), o.routingKey(), o.id(), o.json());
    f.onComplete(
        ar -> {
          metrics.outboxPublished(ar.succeeded());
          if (!stored) return;
          if (ar.succeeded()) confirmed.add(o.id());
          else {
            failed.add(o.id());
            LOG.debug("outbox message {} not confirmed, resent later: {}", o.id(), ar.cause());
          }
          scheduleDelete();
        });
  }

  private void scheduleDelete() {
    if (deleteScheduled) return;
    deleteScheduled = true;
    // Confirms arrive in bursts; one delete per burst keeps the store's work per message small.
    vertx.setTimer(
        DELETE_DELAY_MS,
        t -> {
          deleteScheduled = false;
          List<String> done = new ArrayList<>(confirmed);
          List<String> retry = new ArrayList<>(failed);
          confirmed.clear();
          failed.clear();
          worker
              .executeBlocking(
                  () ->
                      store.tx(
                          tx -> {
                            tx.outbox().delete(done);
                            tx.outbox().release(retry);
                            return null;
                          }),
                  false)
              .onFailure(
                  e -> {
                    // Left in the table: the sweep publishes them again (receivers dedupe).
                    LOG.debug("outbox rows not deleted: {}", e.toString());
                  });
        });
  }

  /** Publishes rows whose claim ran out: failed publishes, or a dead conductor's. */
  private void sweep() {
    if (sweeping) return;
    sweeping = true;
    long now = System.currentTimeMillis();
    worker
        .executeBlocking(
            () ->
                store.tx(tx -> tx.outbox().claimExpired(now, now + Messages.CLAIM_MS, SWEEP_BATCH)),
            false)
        .onComplete(
            ar -> {
              sweeping = false;
              if (ar.failed()) {
                LOG.debug("outbox sweep failed: {}", ar.cause().toString());
                return;
              }
              List<OutboxTable.Row> rows = ar.result();
              if (!rows.isEmpty()) {
                LOG.info("outbox: publishing {} message(s) again", rows.size());
                metrics.outboxResent(rows.size());
              }
              for (OutboxTable.Row r : rows) {
                boolean envelope = "envelope".equals(r.kind());
                JsonObject body = new JsonObject(r.body());
                send(
                    new Effects.Outgoing(
                        r.id(),
                        r.exchange(),
                        r.routingKey(),
                        envelope ? Envelope.fromJson(body) : null,
                        envelope ? null : body),
                    true);
              }
            });
  }
}
