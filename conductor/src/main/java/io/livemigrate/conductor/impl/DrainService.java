package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.Drain;
import io.livemigrate.conductor.DrainItem;
import io.livemigrate.conductor.Drains;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.MigrationRefused;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationService.LiveMigrate;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.ServiceRow;
import io.livemigrate.conductor.store.Tx;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Server-side host drain (evacuate-live): moves every instance off a host, each through the
 * ordinary saga, and reports progress, an ETA and a per-server result. Unlike Nova's client-side
 * {@code host-evacuate-live} loop it goes on without a client, retries failed moves and knows when
 * it is done. Concurrency is not decided here: every instance is submitted at once and the
 * scheduler's limits keep the rest queued.
 *
 * <p>Drains are rows: a migration's end updates its drain in the same transaction, and any
 * conductor's {@link #tick} submits the retries, so a drain outlives the conductor that started it.
 */
final class DrainService implements Drains, Saga.DrainHook {
  private static final Logger LOG = LoggerFactory.getLogger(DrainService.class);

  private TxRunner tx;

  void bind(TxRunner tx) {
    this.tx = tx;
  }

  @Override
  public Future<JsonObject> start(
      String host,
      String targetHost,
      boolean blockMigration,
      int maxRetries,
      boolean disable,
      String requestId) {
    return tx.run(
        c -> {
          Optional<Drain> running = c.tx().drains().runningFor(host);
          if (running.isPresent()) {
            throw MigrationRefused.conflict(
                "Host " + host + " is already being drained (" + running.get().id() + ").");
          }
          Optional<ServiceRow> svc = c.tx().inventory().service(host, Inventory.COMPUTE_BINARY);
          if (svc.isEmpty()) {
            throw MigrationRefused.notFound("Compute host " + host + " could not be found.");
          }
          if (disable) {
            ServiceAdmin.apply(
                c, host, Inventory.COMPUTE_BINARY, true, "draining", null, requestId);
          }
          Drain d =
              new Drain(
                  UUID.randomUUID().toString(),
                  host,
                  targetHost,
                  blockMigration,
                  maxRetries,
                  requestId,
                  "running",
                  c.now(),
                  0);
          c.tx().drains().insert(d);
          List<DrainItem> items = new ArrayList<>();
          for (InstanceRow i : c.tx().inventory().instances(host)) {
            if (!i.migratable()) continue;
            DrainItem item =
                new DrainItem(
                    d.id(), i.uuid(), i.name(), "pending", 0, null, 0, null, null, null, 0, 0);
            items.add(submit(c, d, item));
          }
          c.fx()
              .afterCommit(
                  () ->
                      LOG.info(
                          "[{}] draining {}: {} servers, target {}, retries {}",
                          requestId,
                          host,
                          items.size(),
                          targetHost == null ? "(scheduler)" : targetHost,
                          maxRetries));
          finishIfDone(c, d);
          return view(c.tx(), c.tx().drains().drain(d.id()).orElseThrow(), c.now());
        });
  }

  /** Starts (again) one server's move; a refusal ends the item. */
  private DrainItem submit(StepContext c, Drain d, DrainItem item) {
    DrainItem next;
    try {
      MigrationRow m =
          Admission.accept(
              c,
              new LiveMigrate(
                  item.instanceUuid(), d.targetHost(), d.blockMigration(), false, d.requestId()));
      next = item.migrating(m, c.now());
    } catch (MigrationRefused e) {
      next = item.ended("failed", null, "REFUSED", e.getMessage(), c.now());
      LOG.debug("[{}] drain of {}: {} refused: {}", d.requestId(), d.host(), item.name(), e);
    }
    c.tx().drains().upsertItem(next);
    return next;
  }

  /** A migration ended (same transaction): its drain item completes, fails, or waits to retry. */
  @Override
  public void migrationEnded(StepContext c, MigrationRow m) {
    Optional<DrainItem> found = c.tx().drains().itemOf(m.uuid);
    if (found.isEmpty()) return;
    DrainItem item = found.get();
    Drain d = c.tx().drains().lock(item.drainId()).orElseThrow();
    if (!"running".equals(d.status())) return;
    DrainItem next;
    if (m.status == MigrationStatus.COMPLETED) {
      next = item.ended("completed", m.destCompute, m.reason, null, c.now());
    } else if (item.attempts() <= d.maxRetries() && !"USER_ABORT".equals(m.reason)) {
      // The retry is submitted by the next tick, once this migration's end is committed.
      next = item.ended("pending", m.destCompute, m.reason, m.message, 0);
      c.fx()
          .afterCommit(
              () ->
                  LOG.info(
                      "[{}] drain of {}: {} {} ({}), retrying",
                      d.requestId(),
                      d.host(),
                      item.name(),
                      m.status.wire(),
                      m.reason));
    } else {
      next = item.ended("failed", m.destCompute, m.reason, m.message, c.now());
    }
    c.tx().drains().upsertItem(next);
    finishIfDone(c, d);
  }

  /** Submits the retries of every running drain; called periodically by every conductor. */
  Future<Void> tick() {
    return tx.run(
        c -> {
          for (Drain d : c.tx().drains().drains()) {
            if (!"running".equals(d.status())) continue;
            List<DrainItem> pending =
                c.tx().drains().items(d.id()).stream()
                    .filter(i -> "pending".equals(i.state()))
                    .toList();
            if (pending.isEmpty()) continue;
            Drain locked = c.tx().drains().lock(d.id()).orElseThrow();
            if (!"running".equals(locked.status())) continue;
            for (DrainItem i : pending) submit(c, locked, i);
            finishIfDone(c, locked);
          }
          return null;
        });
  }

  private void finishIfDone(StepContext c, Drain d) {
    List<DrainItem> items = c.tx().drains().items(d.id());
    if (!items.stream().allMatch(DrainItem::done)) return;
    long failed = items.stream().filter(i -> "failed".equals(i.state())).count();
    Drain done = d.finished(failed == 0 ? "completed" : "failed", c.now());
    c.tx().drains().update(done);
    c.fx()
        .afterCommit(
            () ->
                LOG.info(
                    "[{}] drain of {} {} in {} s: {} moved, {} failed",
                    d.requestId(),
                    d.host(),
                    done.status(),
                    (done.finishedMs() - d.startedMs()) / 1000.0,
                    items.size() - failed,
                    failed));
  }

  @Override
  public Future<Optional<JsonObject>> get(String id) {
    return tx.read(t -> t.drains().drain(id).map(d -> view(t, d, System.currentTimeMillis())));
  }

  @Override
  public Future<List<JsonObject>> list() {
    return tx.read(
        t -> {
          List<JsonObject> out = new ArrayList<>();
          for (Drain d : t.drains().drains()) out.add(view(t, d, System.currentTimeMillis()));
          return out;
        });
  }

  private static JsonObject view(Tx t, Drain d, long nowMs) {
    long now = d.finishedMs() > 0 ? d.finishedMs() : nowMs;
    List<DrainItem> items = t.drains().items(d.id());
    int total = items.size();
    long completed = 0;
    long failed = 0;
    double progress = 0;
    JsonArray servers = new JsonArray();
    for (DrainItem i : items) {
      if (i.state().equals("completed")) completed++;
      if (i.state().equals("failed")) failed++;
      double frac = i.done() ? 1 : 0;
      if (i.state().equals("migrating") && i.migrationUuid() != null) {
        frac =
            t.migrations().byUuid(i.migrationUuid()).map(MigrationRow::copiedFraction).orElse(0.0);
      }
      progress += frac;
      servers.add(
          new JsonObject()
              .put("server_uuid", i.instanceUuid())
              .put("name", i.name())
              .put("state", i.state())
              .put("attempts", i.attempts())
              .put("migration_id", i.migrationId() == 0 ? null : i.migrationId())
              .put("dest_compute", i.destCompute())
              .put("reason", i.reason())
              .put("message", i.message())
              .put(
                  "seconds",
                  i.finishedMs() > 0 ? (i.finishedMs() - i.startedMs()) / 1000.0 : null));
    }
    long elapsed = now - d.startedMs();
    Long eta = null;
    long done = completed + failed;
    if ("running".equals(d.status()) && done > 0) {
      eta = Math.round(elapsed / 1000.0 * (total - done) / done);
    } else if (!"running".equals(d.status())) {
      eta = 0L;
    }
    return new JsonObject()
        .put("id", d.id())
        .put("host", d.host())
        .put("target_host", d.targetHost())
        .put("status", d.status())
        .put("total", total)
        .put("completed", completed)
        .put("failed", failed)
        .put("in_progress", total - done)
        .put("progress_percent", total == 0 ? 100 : Math.round(progress * 100.0 / total))
        .put("eta_seconds", eta)
        .put("elapsed_seconds", elapsed / 1000.0)
        .put("started_at", Instant.ofEpochMilli(d.startedMs()).toString())
        .put(
            "finished_at",
            d.finishedMs() > 0 ? Instant.ofEpochMilli(d.finishedMs()).toString() : null)
        .put("request_id", d.requestId())
        .put("servers", servers);
  }
}
