package io.livemigrate.conductor.impl;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.InstanceReport;
import io.livemigrate.common.contract.AgentEvents.ServiceHeartbeat;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.InvalidMessageException;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.SchedulerMessages.ReleaseClaim;
import io.livemigrate.common.log.Ctx;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.store.HostRow;
import io.livemigrate.conductor.store.InstanceRow;
import io.livemigrate.conductor.store.MigrationRow;
import io.livemigrate.conductor.store.ServiceRow;
import io.livemigrate.conductor.store.Store;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The migration saga. The conductor is the single writer of migration and instance state: the API
 * creates a migration, and every later change follows a bus message (a reply or an agent's report)
 * or a deadline. Each step sends one command and persists what it waits for and until when, so a
 * restarted conductor re-arms the same deadlines from the store and carries on.
 *
 * <p>Steps: {@code select} (scheduler) → {@code prepare} (destination) → {@code start} (source,
 * until the first progress) → {@code monitor} (progress, completion deadline) → {@code post}
 * (destination takes over). Failures roll back at the destination and leave the instance ACTIVE on
 * the source. Events for one migration are handled one at a time, in arrival order.
 *
 * <p>Threading: all methods run on the conductor's event-loop context; store calls run on one
 * dedicated worker thread.
 */
public final class Conductor implements Saga {
  private static final Logger LOG = LoggerFactory.getLogger(Conductor.class);

  private final Vertx vertx;
  private final Bus bus;
  private final Store store;
  private final WorkerExecutor storeThread;
  private final ConductorSettings settings;
  private final AgentClient agents;
  private final Notifier notifier;
  private final ConductorMetrics metrics;

  /** Unfinished migrations by uuid; the store holds the same rows. */
  private final Map<String, MigrationRow> active = new HashMap<>();

  private final Map<String, String> activeByInstance = new HashMap<>();
  private final Map<String, Future<Void>> chains = new HashMap<>();
  private final Map<String, Long> stepTimers = new HashMap<>();
  private final Map<String, Long> completionTimers = new HashMap<>();
  private final long startedMs = System.currentTimeMillis();
  private long hostGaugeTimer = -1;

  private final TransferTask transfer = new TransferTask(this);

  /** The saga's steps in the order they run. */
  private final List<MigrationTask> order =
      List.of(
          new SelectDestinationTask(this),
          new PrepareDestinationTask(this),
          transfer,
          new PostMigrationTask(this));

  private final Map<String, MigrationTask> tasks = byStep(order);

  private static Map<String, MigrationTask> byStep(List<MigrationTask> order) {
    Map<String, MigrationTask> m = new HashMap<>();
    for (MigrationTask t : order) t.steps().forEach(step -> m.put(step, t));
    return m;
  }

  public Conductor(
      Vertx vertx, Bus bus, Store store, ConductorSettings settings, ConductorMetrics metrics) {
    this.vertx = vertx;
    this.bus = bus;
    this.store = store;
    this.settings = settings;
    this.metrics = metrics;
    this.storeThread = vertx.createSharedWorkerExecutor("conductor-store-" + UUID.randomUUID(), 1);
    this.agents = new AgentClient(bus);
    this.notifier = new Notifier(bus, "conductor:" + settings.host());
    metrics.bindInFlight(active);
  }

  /**
   * A blocking store call on the store's own single thread, which runs calls in submission order.
   * Not "ordered" in Vert.x's sense on purpose: that queue is shared with the RabbitMQ client's
   * channel calls on this context, and a slow store write must never hold up the bus.
   */
  public <T> Future<T> db(StoreCall<T> call) {
    return storeThread.executeBlocking(() -> call.apply(store), false);
  }

  /** A unit of store work. */
  @FunctionalInterface
  public interface StoreCall<T> {
    T apply(Store s) throws Exception;
  }

  /** Loads unfinished migrations, re-arms their deadlines, then starts consuming. */
  public Future<Void> start() {
    return db(Store::unfinishedMigrations)
        .compose(
            rows -> {
              for (MigrationRow m : rows) {
                active.put(m.uuid, m);
                activeByInstance.put(m.instanceUuid, m.uuid);
                LOG.info(
                    "{} resuming migration in status {} (step {})",
                    ctx(m),
                    m.status.wire(),
                    m.step);
                arm(m);
                task(m.step).resume(m);
              }
              refreshHostGauges();
              // Host liveness gauges follow the services table; a second is fine for alerts.
              hostGaugeTimer = vertx.setPeriodic(1000, t -> refreshHostGauges());
              return bus.consume(
                  bus.topology().conductorQueue(), List.of("service.#", "host.#"), this::handle);
            });
  }

  private void refreshHostGauges() {
    metrics.phases(active.values(), System.currentTimeMillis());
    db(Store::services)
        .onSuccess(
            rows -> {
              long now = System.currentTimeMillis();
              metrics.hosts(rows, now, settings.serviceDownTimeMs());
              checkSourceLiveness(rows, now);
            });
  }

  /**
   * The conductor, not the source agent, watches the source: a running migration whose source agent
   * has sent no heartbeat for {@code service_down_time} is marked SOURCE_AGENT_LOST (its deadlines
   * keep running). When the agent is back it re-attaches to the job, or reports how it ended, and
   * the mark is cleared: the saga reconciles from what the agent reports. An agent that came back
   * without a journal reports nothing: a transfer that hears nothing from it for another {@code
   * service_down_time} asks it to abort, and its answer says where the instance is ({@link
   * TransferTask#onDeadline}).
   */
  private void checkSourceLiveness(List<ServiceRow> rows, long now) {
    if (now - startedMs < settings.serviceDownTimeMs()) return; // heartbeats still catching up
    Map<String, ServiceRow> compute = new HashMap<>();
    for (ServiceRow r : rows) {
      if ("livemigrate-compute".equals(r.binary())) compute.put(r.host(), r);
    }
    for (MigrationRow m : List.copyOf(active.values())) {
      if (m.status != MigrationStatus.RUNNING && m.status != MigrationStatus.POSTCOPY) continue;
      ServiceRow src = compute.get(m.sourceCompute);
      if (src == null) continue;
      long silent = now - src.lastSeenMs();
      boolean down = src.forcedDown() || silent > settings.serviceDownTimeMs();
      boolean marked = Reason.SOURCE_AGENT_LOST.name().equals(m.reason);
      if (down && !marked) {
        serialize(
            m.uuid,
            () -> {
              if (m.status.isFinal()) return Future.succeededFuture();
              m.reason = Reason.SOURCE_AGENT_LOST.name();
              m.message = "no heartbeat from " + m.sourceCompute + " for " + silent / 1000 + " s";
              m.actions.add(MigrationTask.stamp("source agent lost: " + m.message));
              LOG.error("{} source compute agent lost: {}", ctx(m), m.message);
              notifier.notify(
                  "migration.decision",
                  m,
                  new JsonObject()
                      .put("decision", "mark_source_agent_lost")
                      .put("cause", "source_agent_lost")
                      .put("completion_timeout_s", m.completionTimeoutS));
              return save(m);
            });
      } else if (!down && marked) {
        serialize(
            m.uuid,
            () -> {
              if (m.status.isFinal()) return Future.succeededFuture();
              m.reason = null;
              m.message = null;
              m.actions.add(MigrationTask.stamp("source agent back; reconciling from its reports"));
              LOG.warn("{} source compute agent {} is back", ctx(m), m.sourceCompute);
              if (m.status == MigrationStatus.RUNNING && MigrationTask.MONITOR.equals(m.step)) {
                // Its progress (re-attached) or the outcome must come by then; see TransferTask.
                m.stepDeadlineMs = System.currentTimeMillis() + settings.serviceDownTimeMs();
              }
              return save(m);
            });
      }
    }
  }

  /** Stops timers; in-flight work stays in the store for the next conductor. */
  public Future<Void> stop() {
    if (hostGaugeTimer >= 0) vertx.cancelTimer(hostGaugeTimer);
    stepTimers.values().forEach(vertx::cancelTimer);
    completionTimers.values().forEach(vertx::cancelTimer);
    return storeThread.close();
  }

  public Bus bus() {
    return bus;
  }

  private static Ctx ctx(MigrationRow m) {
    return Ctx.of(m.requestId, m.uuid, m.instanceUuid);
  }

  // ------------------------------------------------------------------ API entry points

  /**
   * Accepts a live migration: checks the instance, records the migration and marks the instance
   * MIGRATING before returning, then starts the saga.
   *
   * @throws ApiException (as a failed future) 404 unknown instance, 409 not ACTIVE/PAUSED or
   *     already migrating, 400 destination equal to the source
   */
  public Future<MigrationRow> liveMigrate(
      String instanceUuid, String host, boolean blockMigration, String requestId) {
    return liveMigrate(instanceUuid, host, blockMigration, false, requestId);
  }

  /**
   * As {@link #liveMigrate(String, String, boolean, String)}; with {@code force} and a named host
   * the scheduler is skipped (Nova's {@code force}, microversions 2.30 to 2.67): no filters and no
   * claim, the destination's own prepare check is all that stands.
   */
  public Future<MigrationRow> liveMigrate(
      String instanceUuid, String host, boolean blockMigration, boolean force, String requestId) {
    return db(s -> s.instance(instanceUuid))
        .compose(
            opt -> {
              InstanceRow inst =
                  opt.orElseThrow(
                      () ->
                          new ApiException(
                              404, "Instance " + instanceUuid + " could not be found."));
              if (activeByInstance.containsKey(instanceUuid) || "MIGRATING".equals(inst.status())) {
                throw new ApiException(
                    409,
                    "Cannot 'os-migrateLive' instance "
                        + instanceUuid
                        + " while it is in task_state migrating");
              }
              if (!"ACTIVE".equals(inst.status()) && !"PAUSED".equals(inst.status())) {
                throw new ApiException(
                    409,
                    "Cannot 'os-migrateLive' instance "
                        + instanceUuid
                        + " while it is in vm_state "
                        + inst.status().toLowerCase());
              }
              if (host != null && host.equals(inst.host())) {
                throw new ApiException(
                    400,
                    "The target host can't be the same one where the instance "
                        + instanceUuid
                        + " is running.");
              }
              long now = System.currentTimeMillis();
              MigrationRow m = new MigrationRow();
              m.uuid = UUID.randomUUID().toString();
              m.instanceUuid = instanceUuid;
              m.sourceCompute = inst.host();
              m.requestedHost = host;
              m.blockMigration = blockMigration;
              m.requestId = requestId;
              m.projectId = inst.projectId();
              m.userId = inst.userId();
              m.memoryTotal = inst.memoryMb() * 1024 * 1024;
              m.memoryRemaining = m.memoryTotal;
              m.diskTotal = blockMigration ? inst.diskGb() * 1024 * 1024 * 1024 : 0;
              m.diskRemaining = m.diskTotal;
              m.createdMs = now;
              m.updatedMs = now;
              m.step = MigrationTask.SELECT;
              m.stepDeadlineMs = now + settings.prepareTimeoutMs();
              InstanceRow migrating =
                  inst.withHostStatus(inst.host(), "MIGRATING", "migrating", now);
              // Reserve before the write so a concurrent request for the same instance is refused.
              activeByInstance.put(instanceUuid, m.uuid);
              return db(s -> {
                    s.createMigration(m, migrating);
                    return m;
                  })
                  .onFailure(e -> activeByInstance.remove(instanceUuid))
                  .onSuccess(
                      saved -> {
                        active.put(saved.uuid, saved);
                        LOG.info(
                            "{} live migration accepted: {} -> {}, block_migration={}",
                            ctx(saved),
                            saved.sourceCompute,
                            host == null ? "(scheduler picks)" : host,
                            blockMigration);
                        notifier.notify("migration.accepted", saved, null);
                        if (force && host != null) {
                          saved.destCompute = host;
                          saved.actions.add(
                              MigrationTask.stamp("forced to " + host + ", scheduler skipped"));
                          serialize(saved.uuid, () -> next(MigrationTask.PREPARE, saved));
                        } else {
                          serialize(saved.uuid, () -> next(MigrationTask.SELECT, saved));
                        }
                      });
            });
  }

  /** Operator abort (DELETE /servers/{id}/migrations/{mid}). */
  public Future<MigrationRow> abort(String migrationUuid, String requestId) {
    MigrationRow m = active.get(migrationUuid);
    if (m == null) {
      return Future.failedFuture(new ApiException(404, "Migration not in progress."));
    }
    return serialize(
            m.uuid,
            () -> {
              if (m.status.isFinal()) {
                return Future.failedFuture(new ApiException(400, "Migration is not in progress."));
              }
              if (m.status == MigrationStatus.POSTCOPY
                  || m.status == MigrationStatus.POST_MIGRATING) {
                return Future.failedFuture(
                    new ApiException(
                        400,
                        "Migration "
                            + m.id
                            + " state of instance "
                            + m.instanceUuid
                            + " is "
                            + m.status.wire()
                            + ". Cannot abort live migration."));
              }
              LOG.info("{} abort requested by operator ({})", ctx(m), requestId);
              if (m.status == MigrationStatus.RUNNING) {
                return transfer.abort(m, Reason.USER_ABORT, 0);
              }
              // Not started on the source yet: nothing to cancel there.
              return finish(m, MigrationStatus.CANCELLED, Reason.USER_ABORT, "aborted by operator");
            })
        .map(v -> m);
  }

  /** Operator force-complete (POST .../action {"force_complete": null}). */
  public Future<MigrationRow> forceComplete(String migrationUuid, String requestId) {
    MigrationRow m = active.get(migrationUuid);
    if (m == null) {
      return Future.failedFuture(new ApiException(404, "Migration not in progress."));
    }
    return serialize(
            m.uuid,
            () -> {
              if (m.status != MigrationStatus.RUNNING) {
                return Future.failedFuture(
                    new ApiException(
                        400,
                        "Migration "
                            + m.id
                            + " state of instance "
                            + m.instanceUuid
                            + " is "
                            + m.status.wire()
                            + ". Cannot force complete while the migration is in this state."));
              }
              LOG.info("{} force-complete requested by operator ({})", ctx(m), requestId);
              return transfer.forceComplete(m, "operator");
            })
        .map(v -> m);
  }

  /**
   * Nova's server {@code progress} (0-100) of an instance's running migration: the share of the
   * data copied so far, never moving backwards within one view of the data.
   */
  public int progressOf(String instanceUuid) {
    String mid = activeByInstance.get(instanceUuid);
    MigrationRow m = mid == null ? null : active.get(mid);
    if (m == null) return 0;
    long total = m.memoryTotal + m.diskTotal;
    if (total <= 0) return 0;
    long remaining = Math.min(total, m.memoryRemaining + m.diskRemaining);
    return (int) Math.max(0, Math.min(100, 100 - (remaining * 100 / total)));
  }

  /** An unfinished migration by uuid, from memory (the freshest copy). */
  public Optional<MigrationRow> activeMigration(String uuid) {
    MigrationRow m = active.get(uuid);
    return Optional.ofNullable(m == null ? null : m.copy());
  }

  // ------------------------------------------------------------------ serialisation per migration

  private Future<Void> serialize(String migrationUuid, Supplier<Future<Void>> work) {
    Future<Void> prev = chains.getOrDefault(migrationUuid, Future.succeededFuture());
    Future<Void> next =
        prev.transform(
            ignored -> {
              try {
                return work.get();
              } catch (RuntimeException e) {
                return Future.failedFuture(e);
              }
            });
    chains.put(migrationUuid, next);
    next.onComplete(
        ar -> {
          if (chains.get(migrationUuid) == next) chains.remove(migrationUuid);
          if (ar.failed() && !(ar.cause() instanceof ApiException)) {
            LOG.warn(
                "[migration {}] event handling failed: {}", migrationUuid, ar.cause().toString());
          }
        });
    return next;
  }

  // ------------------------------------------------------------------ bus

  private Future<Void> handle(Envelope env, Message body) {
    if (body instanceof ServiceHeartbeat hb) return onHeartbeat(hb);
    if (body instanceof HostReport r) return onHostReport(env, r);
    if (env.migrationId() == null) {
      throw new InvalidMessageException(env.type() + " without migrationId");
    }
    MigrationRow m = active.get(env.migrationId());
    if (m == null) {
      // Finished or unknown: a late duplicate or a reply to a step already decided.
      LOG.debug(
          "[migration {}] {} for no unfinished migration ignored", env.migrationId(), env.type());
      return Future.succeededFuture();
    }
    return serialize(
        m.uuid,
        () -> {
          if (m.status.isFinal()) return Future.succeededFuture();
          MigrationTask t = m.step == null ? null : tasks.get(m.step);
          // Only the task of the current step hears answers: late ones for an earlier step drop.
          return t == null ? Future.succeededFuture() : t.onMessage(m, env, body);
        });
  }

  private Future<Void> onHeartbeat(ServiceHeartbeat hb) {
    long now = System.currentTimeMillis();
    return db(s -> s.heartbeat(hb.host(), hb.binary(), hb.zone(), now)).mapEmpty();
  }

  private Future<Void> onHostReport(Envelope env, HostReport r) {
    long now = System.currentTimeMillis();
    long sentMs = parseMs(env.sentAt(), now);
    Map<String, String> migrating = Map.copyOf(activeByInstance);
    return db(
        s -> {
          s.upsertHost(
              new HostRow(
                  r.host(),
                  r.hypervisorType(),
                  r.hypervisorVersion(),
                  r.vcpus(),
                  r.memoryMb(),
                  r.diskGb(),
                  r.permitPostCopy(),
                  r.permitAutoConverge(),
                  now));
          for (InstanceReport i : r.instances()) {
            if (migrating.containsKey(i.uuid())) continue; // the saga owns it now
            Optional<InstanceRow> known = s.instance(i.uuid());
            // A report taken before our last change of this instance is stale.
            if (known.isPresent() && known.get().updatedMs() > sentMs) continue;
            String status =
                switch (i.state()) {
                  case "paused" -> "PAUSED";
                  case "shutoff" -> "SHUTOFF";
                  default -> "ACTIVE";
                };
            if (known.isPresent()
                && known.get().host().equals(r.host())
                && known.get().status().equals(status)) {
              continue;
            }
            s.upsertInstance(
                new InstanceRow(
                    i.uuid(),
                    i.name(),
                    r.host(),
                    status,
                    null,
                    i.vcpus(),
                    i.memoryMb(),
                    i.diskGb(),
                    i.projectId(),
                    i.userId(),
                    i.flavor(),
                    known.map(InstanceRow::createdMs).orElse(now),
                    now));
          }
          return null;
        });
  }

  private static long parseMs(String iso, long fallback) {
    try {
      return Instant.parse(iso).toEpochMilli();
    } catch (RuntimeException e) {
      return fallback;
    }
  }

  // ------------------------------------------------------------------ tasks and deadlines

  @Override
  public Future<Void> next(String step, MigrationRow m) {
    return task(step).execute(m);
  }

  private MigrationTask task(String step) {
    MigrationTask t = step == null ? null : tasks.get(step);
    if (t == null) throw new IllegalStateException("no task for step " + step);
    return t;
  }

  /** (Re-)arms the step and completion timers of a migration from its persisted deadlines. */
  private void arm(MigrationRow m) {
    long now = System.currentTimeMillis();
    cancelTimers(m.uuid);
    if (m.status.isFinal()) return;
    if (m.stepDeadlineMs > 0) {
      stepTimers.put(
          m.uuid,
          vertx.setTimer(
              Math.max(1, m.stepDeadlineMs - now),
              t -> serialize(m.uuid, () -> onStepDeadline(m, t))));
    }
    if (m.completionDeadlineMs > 0 && m.status == MigrationStatus.RUNNING) {
      completionTimers.put(
          m.uuid,
          vertx.setTimer(
              Math.max(1, m.completionDeadlineMs - now),
              t -> serialize(m.uuid, () -> onCompletionDeadline(m, t))));
    }
  }

  private void cancelTimers(String uuid) {
    Long t = stepTimers.remove(uuid);
    if (t != null) vertx.cancelTimer(t);
    t = completionTimers.remove(uuid);
    if (t != null) vertx.cancelTimer(t);
  }

  private Future<Void> onCompletionDeadline(MigrationRow m, long timerId) {
    if (!Long.valueOf(timerId).equals(completionTimers.get(m.uuid))) {
      return Future.succeededFuture();
    }
    completionTimers.remove(m.uuid);
    return transfer.onCompletionDeadline(m);
  }

  private Future<Void> onStepDeadline(MigrationRow m, long timerId) {
    if (!Long.valueOf(timerId).equals(stepTimers.get(m.uuid))) return Future.succeededFuture();
    stepTimers.remove(m.uuid);
    if (m.status.isFinal() || m.step == null) return Future.succeededFuture();
    LOG.error("{} no answer for step {} before its deadline", ctx(m), m.step);
    return task(m.step).onDeadline(m);
  }

  // ------------------------------------------------------------------ the end

  /**
   * Ends a migration: the final status and reason, the instance's host and status, the rollback at
   * the destination when the instance stays on the source, the notification and the metrics.
   */
  @Override
  public Future<Void> finish(
      MigrationRow m, MigrationStatus status, Reason reason, String message) {
    long now = System.currentTimeMillis();
    m.moveTo(status, now);
    m.reason = reason.name();
    m.message = message;
    m.step = null;
    m.stepDeadlineMs = 0;
    m.completionDeadlineMs = 0;
    cancelTimers(m.uuid);
    boolean moved = status == MigrationStatus.COMPLETED;
    agents.toScheduler(m, new ReleaseClaim(m.instanceUuid, status.wire()));
    boolean onSource = status == MigrationStatus.FAILED || status == MigrationStatus.CANCELLED;
    if (onSource) {
      // Nova's pairs around the rollback: at the source (the instance stays) and, when a
      // destination was prepared, at the destination. The commands are sent, not awaited: the
      // instance is ACTIVE on the source either way, so ".end" means "rollback requested".
      notifier.notify("instance.live_migration_rollback.start", m, null);
      boolean atDest = m.destCompute != null;
      if (atDest) notifier.notify("instance.live_migration_rollback_dest.start", m, null);
      // Compensations of the steps that ran, latest first.
      for (int i = order.size() - 1; i >= 0; i--) {
        if (order.get(i).needsRollback(m)) order.get(i).rollback(m);
      }
      if (atDest) notifier.notify("instance.live_migration_rollback_dest.end", m, null);
    }
    return db(s -> s.instance(m.instanceUuid))
        .compose(
            inst -> {
              InstanceRow i = inst.orElseThrow();
              InstanceRow after;
              if (moved) after = i.withHostStatus(m.destCompute, "ACTIVE", null, now);
              else if (onSource) after = i.withHostStatus(m.sourceCompute, "ACTIVE", null, now);
              else if (reason == Reason.POST_FAILED || reason == Reason.DEST_AGENT_LOST)
                after = i.withHostStatus(m.destCompute, "ERROR", null, now);
              else after = i.withHostStatus(i.host(), "ERROR", null, now);
              return db(
                  s -> {
                    s.save(m, after);
                    return after;
                  });
            })
        .onSuccess(
            after -> {
              active.remove(m.uuid);
              activeByInstance.remove(m.instanceUuid);
              metrics.finished(m);
              if (moved) {
                LOG.info(
                    "{} live migration completed: instance now ACTIVE on {} (downtime {} ms)",
                    ctx(m),
                    m.destCompute,
                    m.downtimeMs);
              } else {
                LOG.warn(
                    "{} live migration {} ({}): {}; instance {} on {}",
                    ctx(m),
                    status.wire(),
                    reason,
                    message,
                    after.status(),
                    after.host());
              }
              if (moved) notifier.notify("instance.live_migration_post.end", m, null);
              else if (onSource) notifier.notify("instance.live_migration_rollback.end", m, null);
              notifier.notify("migration.completed", m, postMortem(m));
            })
        .mapEmpty();
  }

  /** The record kept of a finished migration: phases, bytes, downtime, actions, reason. */
  public static JsonObject postMortem(MigrationRow m) {
    return new JsonObject()
        .put("status", m.status.wire())
        .put("reason", m.reason)
        .put("message", m.message)
        .put("downtime_ms", m.downtimeMs)
        .put("iterations", m.iteration)
        .put("memory_total_bytes", m.memoryTotal)
        .put("memory_processed_bytes", m.memoryProcessed)
        .put("disk_total_bytes", m.diskTotal)
        .put("disk_processed_bytes", m.diskProcessed)
        .put("mode", m.mode)
        .put("actions", new io.vertx.core.json.JsonArray(List.copyOf(m.actions)))
        .put(
            "phases",
            new JsonObject()
                .put("accepted_ms", m.createdMs)
                .put("queued_ms", m.queuedMs)
                .put("preparing_ms", m.preparingMs)
                .put("running_ms", m.runningMs)
                .put("postcopy_ms", m.postcopyMs)
                .put("post_migrating_ms", m.postMigratingMs)
                .put("finished_ms", m.finishedMs));
  }

  @Override
  public Future<Void> save(MigrationRow m) {
    MigrationRow copy = m.copy();
    return db(s -> {
          s.save(copy, null);
          return (Void) null;
        })
        .onSuccess(v -> arm(m));
  }

  @Override
  public ConductorSettings settings() {
    return settings;
  }

  @Override
  public AgentClient agents() {
    return agents;
  }

  @Override
  public Notifier notifier() {
    return notifier;
  }

  @Override
  public ConductorMetrics metrics() {
    return metrics;
  }

  /** For /health. */
  public JsonObject health() {
    return new JsonObject()
        .put("status", bus.isConnected() ? "UP" : "DOWN")
        .put("migrations_in_flight", active.size());
  }
}
