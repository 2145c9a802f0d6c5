package io.livemigrate.conductor.impl;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.MigrationProgress;
import io.livemigrate.common.contract.AgentEvents.ServiceHeartbeat;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.InvalidMessageException;
import io.livemigrate.common.contract.Message;
import io.livemigrate.conductor.Drains;
import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationService;
import io.livemigrate.conductor.store.Store;
import io.livemigrate.conductor.store.StoreHealth;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * One conductor: a stateless worker over the shared store. It consumes the shared conductor queue
 * (any conductor handles any message of any migration), runs the periodic scans, relays the outbox,
 * and offers the API its services. Nothing in its memory decides anything.
 *
 * <p>Create on the context that owns {@code bus} (a verticle's start).
 */
public final class ConductorService {
  /** How long a handled message id is remembered: far beyond any redelivery after a crash. */
  static final long HANDLED_TTL_MS = 3_600_000;

  private final Bus bus;
  private final Store store;
  private final TxRunner tx;
  private final Saga saga;
  private final OutboxRelay relay;
  private final Scanners scanners;
  private final ServiceAdmin admin;
  private final InventoryService inventory;
  private final MigrationServiceImpl migrations;
  private final DrainService drains;
  private final ConductorMetrics metrics;

  public ConductorService(
      Vertx vertx,
      Bus bus,
      Store store,
      ConductorSettings settings,
      ConductorMetrics metrics,
      int storeThreads) {
    this.bus = bus;
    this.store = store;
    this.metrics = metrics;
    metrics.watchStore(store.health());
    Messages messages = new Messages(bus.topology(), bus.sender());
    this.drains = new DrainService();
    this.saga = new Saga(settings, messages, metrics, drains, bus.identities());
    this.relay = new OutboxRelay(vertx, bus, store, metrics);
    this.tx = new TxRunner(vertx, vertx.getOrCreateContext(), storeThreads, store, saga, relay);
    drains.bind(tx);
    // Resend statuses at half the down time: a restarted scheduler learns them quickly.
    this.admin =
        new ServiceAdmin(
            vertx, tx, bus, messages, Math.max(1000, settings.serviceDownTimeMs() / 2));
    this.inventory =
        new InventoryService(tx, new Reconciler(settings, metrics), admin, bus.identities());
    this.migrations = new MigrationServiceImpl(tx);
    this.scanners = new Scanners(vertx, tx, saga, drains, settings, metrics, bus);
  }

  /** Starts relaying, scanning and consuming. */
  public Future<Void> start() {
    relay.start();
    scanners.start();
    return bus.consume(
            bus.topology().conductorQueue(), List.of("service.#", "host.#"), this::handle)
        .compose(v -> admin.start());
  }

  /** Stops taking work; what is in flight stays in the store for any conductor. */
  public Future<Void> stop() {
    scanners.stop();
    admin.stop();
    return relay.stop().compose(v -> tx.close());
  }

  public MigrationService migrations() {
    return migrations;
  }

  public Inventory inventory() {
    return inventory;
  }

  public Drains drains() {
    return drains;
  }

  private Future<Void> handle(Envelope env, Message body) {
    if (body instanceof ServiceHeartbeat hb) return inventory.heartbeat(env, hb);
    if (body instanceof HostReport r) return inventory.report(env, r);
    if (env.migrationId() == null) {
      throw new InvalidMessageException(env.type() + " without migrationId");
    }
    // Progress is ordered by seq instead: its ids need not be kept.
    boolean progress = body instanceof MigrationProgress;
    return tx.run(
        c -> {
          if (!progress && !c.tx().firstDelivery(env.id(), c.now() + HANDLED_TTL_MS)) {
            c.fx().afterCommit(metrics::duplicateMessage);
            return null;
          }
          MigrationRow m =
              c.tx()
                  .migrations()
                  .lock(env.migrationId())
                  .orElseThrow(
                      () ->
                          new InvalidMessageException(
                              env.type() + " for unknown migration " + env.migrationId()));
          if (saga.onMessage(c, m, env, body)) {
            c.tx().migrations().update(m, !c.fx().progressOnly);
          }
          return null;
        });
  }

  /** For /health: DOWN while the bus or the store is unreachable, with the reason. */
  public JsonObject health() {
    StoreHealth s = store.health();
    boolean busUp = bus.isConnected();
    JsonObject h =
        new JsonObject()
            .put("status", busUp && s.up() ? "UP" : "DOWN")
            .put("bus", busUp ? "UP" : "DOWN")
            .put("store", new JsonObject().put("status", s.up() ? "UP" : "DOWN"))
            .put("migrations_in_flight", metrics.inFlight());
    if (!s.up()) {
      h.getJsonObject("store")
          .put("reason", s.reason())
          .put("down_since", java.time.Instant.ofEpochMilli(s.downSinceMs()).toString());
    }
    return h;
  }
}
