package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.store.InstanceRow;
import io.livemigrate.conductor.store.MigrationRow;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Server-side host drain (evacuate-live): moves every instance off a host, each through the
 * ordinary live-migration saga, and reports aggregate progress, an ETA and a final per-server
 * report. Unlike Nova's client-side {@code host-evacuate-live} loop it keeps going without a
 * client, retries failed moves and knows when it is done. Concurrency is not decided here: every
 * instance is submitted at once and the scheduler's limits ({@code max_concurrent_live_migrations}
 * per source, inbound and cluster caps) keep the rest queued.
 *
 * <p>Drains live in memory: a conductor restart forgets the drain record, while the migrations it
 * started carry on through the saga. Runs on the conductor's event-loop context.
 */
public final class DrainService {
  private static final Logger LOG = LoggerFactory.getLogger(DrainService.class);
  private static final long POLL_MS = 250;

  private final Vertx vertx;
  private final Conductor conductor;
  private final ServiceAdmin services;
  private final Map<String, Drain> drains = new LinkedHashMap<>();

  /** One server of a drain. */
  private static final class Item {
    final String uuid;
    final String name;
    String state = "pending"; // pending | migrating | completed | failed
    int attempts;
    String migrationUuid;
    long migrationId;
    String dest;
    String reason;
    String message;
    long startedMs;
    long finishedMs;

    Item(String uuid, String name) {
      this.uuid = uuid;
      this.name = name;
    }
  }

  private static final class Drain {
    final String id = UUID.randomUUID().toString();
    String host;
    String targetHost;
    boolean blockMigration;
    int maxRetries;
    String requestId;
    String status = "running";
    long startedMs;
    long finishedMs;
    long timer = -1;
    final Map<String, Item> items = new LinkedHashMap<>();
  }

  public DrainService(Vertx vertx, Conductor conductor, ServiceAdmin services) {
    this.vertx = vertx;
    this.conductor = conductor;
    this.services = services;
  }

  /**
   * Starts draining a host.
   *
   * @param disable also disable the host's compute service first, so nothing new lands on it
   * @throws ApiException (failed future) 404 for a host with no compute service, 409 when a drain
   *     of that host is already running
   */
  public Future<JsonObject> start(
      String host,
      String targetHost,
      boolean blockMigration,
      int maxRetries,
      boolean disable,
      String requestId) {
    for (Drain d : drains.values()) {
      if (d.host.equals(host) && "running".equals(d.status)) {
        return Future.failedFuture(
            new ApiException(409, "Host " + host + " is already being drained (" + d.id + ")."));
      }
    }
    return conductor
        .db(s -> s.service(host, "livemigrate-compute"))
        .compose(
            svc -> {
              if (svc.isEmpty()) {
                throw new ApiException(404, "Compute host " + host + " could not be found.");
              }
              return disable
                  ? services
                      .update(host, "livemigrate-compute", true, "draining", null, requestId)
                      .mapEmpty()
                  : Future.<Void>succeededFuture();
            })
        .compose(v -> conductor.db(s -> s.instances(host)))
        .map(
            instances -> {
              Drain d = new Drain();
              d.host = host;
              d.targetHost = targetHost;
              d.blockMigration = blockMigration;
              d.maxRetries = maxRetries;
              d.requestId = requestId;
              d.startedMs = System.currentTimeMillis();
              for (InstanceRow i : instances) {
                if ("ACTIVE".equals(i.status()) || "PAUSED".equals(i.status())) {
                  d.items.put(i.uuid(), new Item(i.uuid(), i.name()));
                }
              }
              drains.put(d.id, d);
              LOG.info(
                  "[{}] draining {}: {} servers, target {}, retries {}",
                  requestId,
                  host,
                  d.items.size(),
                  targetHost == null ? "(scheduler)" : targetHost,
                  maxRetries);
              d.items.values().forEach(item -> submit(d, item));
              d.timer = vertx.setPeriodic(POLL_MS, t -> poll(d));
              return view(d);
            });
  }

  public Optional<JsonObject> get(String id) {
    Drain d = drains.get(id);
    return d == null ? Optional.empty() : Optional.of(view(d));
  }

  public List<JsonObject> list() {
    List<JsonObject> out = new ArrayList<>();
    drains.values().forEach(d -> out.add(view(d)));
    return out;
  }

  public void stop() {
    drains.values().forEach(d -> vertx.cancelTimer(d.timer));
  }

  private void submit(Drain d, Item item) {
    item.attempts++;
    item.state = "migrating";
    item.startedMs = System.currentTimeMillis();
    conductor
        .liveMigrate(item.uuid, d.targetHost, d.blockMigration, d.requestId)
        .onSuccess(
            m -> {
              item.migrationUuid = m.uuid;
              item.migrationId = m.id;
            })
        .onFailure(e -> ended(d, item, "failed", "REFUSED", e.getMessage()));
  }

  private void poll(Drain d) {
    for (Item item : d.items.values()) {
      if (!"migrating".equals(item.state) || item.migrationUuid == null) continue;
      if (conductor.activeMigration(item.migrationUuid).isPresent()) continue;
      String mid = item.migrationUuid;
      item.migrationUuid = null; // looked up once
      conductor
          .db(s -> s.migrationByUuid(mid))
          .onSuccess(opt -> opt.ifPresent(m -> finished(d, item, m)));
    }
    boolean done =
        d.items.values().stream()
            .allMatch(i -> i.state.equals("completed") || i.state.equals("failed"));
    if (done && "running".equals(d.status)) {
      vertx.cancelTimer(d.timer);
      d.finishedMs = System.currentTimeMillis();
      long failed = d.items.values().stream().filter(i -> i.state.equals("failed")).count();
      d.status = failed == 0 ? "completed" : "failed";
      LOG.info(
          "[{}] drain of {} {} in {} s: {} moved, {} failed",
          d.requestId,
          d.host,
          d.status,
          (d.finishedMs - d.startedMs) / 1000.0,
          d.items.size() - failed,
          failed);
    }
  }

  private void finished(Drain d, Item item, MigrationRow m) {
    item.dest = m.destCompute;
    if ("completed".equals(m.status.wire())) {
      ended(d, item, "completed", m.reason, null);
    } else if (item.attempts <= d.maxRetries && !"USER_ABORT".equals(m.reason)) {
      LOG.warn(
          "[{}] drain of {}: {} {} ({}), retrying",
          d.requestId,
          d.host,
          item.name,
          m.status.wire(),
          m.reason);
      submit(d, item);
    } else {
      ended(d, item, "failed", m.reason, m.message);
    }
  }

  private void ended(Drain d, Item item, String state, String reason, String message) {
    item.state = state;
    item.reason = reason;
    item.message = message;
    item.finishedMs = System.currentTimeMillis();
    if ("failed".equals(state)) {
      LOG.warn(
          "[{}] drain of {}: {} not moved: {} {}", d.requestId, d.host, item.name, reason, message);
    }
  }

  private JsonObject view(Drain d) {
    long now = d.finishedMs > 0 ? d.finishedMs : System.currentTimeMillis();
    int total = d.items.size();
    long completed = 0;
    long failed = 0;
    double progress = 0;
    JsonArray servers = new JsonArray();
    for (Item i : d.items.values()) {
      if (i.state.equals("completed")) completed++;
      if (i.state.equals("failed")) failed++;
      double frac = i.state.equals("completed") || i.state.equals("failed") ? 1 : 0;
      if (i.state.equals("migrating") && i.migrationUuid != null) {
        frac = conductor.activeMigration(i.migrationUuid).map(DrainService::fraction).orElse(0.0);
      }
      progress += frac;
      servers.add(
          new JsonObject()
              .put("server_uuid", i.uuid)
              .put("name", i.name)
              .put("state", i.state)
              .put("attempts", i.attempts)
              .put("migration_id", i.migrationId == 0 ? null : i.migrationId)
              .put("dest_compute", i.dest)
              .put("reason", i.reason)
              .put("message", i.message)
              .put("seconds", i.finishedMs > 0 ? (i.finishedMs - i.startedMs) / 1000.0 : null));
    }
    long elapsed = now - d.startedMs;
    Long eta = null;
    long done = completed + failed;
    if ("running".equals(d.status) && done > 0) {
      eta = Math.round(elapsed / 1000.0 * (total - done) / done);
    } else if (!"running".equals(d.status)) {
      eta = 0L;
    }
    return new JsonObject()
        .put("id", d.id)
        .put("host", d.host)
        .put("target_host", d.targetHost)
        .put("status", d.status)
        .put("total", total)
        .put("completed", completed)
        .put("failed", failed)
        .put("in_progress", total - done)
        .put("progress_percent", total == 0 ? 100 : Math.round(progress * 100.0 / total))
        .put("eta_seconds", eta)
        .put("elapsed_seconds", elapsed / 1000.0)
        .put("started_at", Instant.ofEpochMilli(d.startedMs).toString())
        .put("finished_at", d.finishedMs > 0 ? Instant.ofEpochMilli(d.finishedMs).toString() : null)
        .put("request_id", d.requestId)
        .put("servers", servers);
  }

  private static double fraction(MigrationRow m) {
    long total = m.memoryTotal + m.diskTotal;
    if (total <= 0) return 0;
    long remaining = Math.min(total, m.memoryRemaining + m.diskRemaining);
    return Math.max(0, Math.min(0.99, 1.0 - (double) remaining / total));
  }
}
