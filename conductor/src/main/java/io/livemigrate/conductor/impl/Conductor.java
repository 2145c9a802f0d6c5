package io.livemigrate.conductor.impl;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.contract.AgentCommands.AbortMigration;
import io.livemigrate.common.contract.AgentCommands.CleanupSource;
import io.livemigrate.common.contract.AgentCommands.ForceComplete;
import io.livemigrate.common.contract.AgentCommands.PostAtDestination;
import io.livemigrate.common.contract.AgentCommands.PrepareDestination;
import io.livemigrate.common.contract.AgentCommands.RollbackAtDestination;
import io.livemigrate.common.contract.AgentCommands.StartMigration;
import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.InstanceReport;
import io.livemigrate.common.contract.AgentEvents.MigrationCompleted;
import io.livemigrate.common.contract.AgentEvents.MigrationFailed;
import io.livemigrate.common.contract.AgentEvents.MigrationProgress;
import io.livemigrate.common.contract.AgentEvents.ServiceHeartbeat;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.InvalidMessageException;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import io.livemigrate.common.log.Ctx;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.store.HostRow;
import io.livemigrate.conductor.store.InstanceRow;
import io.livemigrate.conductor.store.MigrationRow;
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
public final class Conductor {
  private static final Logger LOG = LoggerFactory.getLogger(Conductor.class);

  static final String STEP_SELECT = "select";
  static final String STEP_PREPARE = "prepare";
  static final String STEP_START = "start";
  static final String STEP_MONITOR = "monitor";
  static final String STEP_ABORT = "abort";
  static final String STEP_POST = "post";

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
                resend(m);
              }
              return bus.consume(
                  bus.topology().conductorQueue(), List.of("service.#", "host.#"), this::handle);
            });
  }

  /** Stops timers; in-flight work stays in the store for the next conductor. */
  public Future<Void> stop() {
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
              m.step = STEP_SELECT;
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
                        serialize(saved.uuid, () -> select(saved));
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
                return requestAbort(m, Reason.USER_ABORT, 0);
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
              return requestForceComplete(m, "operator");
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
          if (body instanceof Destinations d) return onDestinations(m, d);
          if (body instanceof StepResult r) return onStepResult(m, r);
          if (body instanceof MigrationProgress p) return onProgress(m, env, p);
          if (body instanceof MigrationCompleted c) return onCompleted(m, env, c);
          if (body instanceof MigrationFailed f) return onFailed(m, env, f);
          return Future.failedFuture(
              new InvalidMessageException(env.type() + " is not a conductor message"));
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

  // ------------------------------------------------------------------ step: select

  private Future<Void> select(MigrationRow m) {
    return db(s -> s.instance(m.instanceUuid))
        .compose(
            inst -> {
              InstanceRow i = inst.orElseThrow();
              List<String> ignore = new java.util.ArrayList<>(m.triedHosts);
              SelectDestinations req =
                  new SelectDestinations(
                      m.instanceUuid,
                      m.sourceCompute,
                      m.requestedHost,
                      i.vcpus(),
                      i.memoryMb(),
                      m.blockMigration ? i.diskGb() : 0,
                      ignore);
              m.step = STEP_SELECT;
              m.stepDeadlineMs = System.currentTimeMillis() + settings.prepareTimeoutMs();
              return save(m).compose(v -> agents.toScheduler(m, req)).onSuccess(v -> arm(m));
            });
  }

  private Future<Void> onDestinations(MigrationRow m, Destinations d) {
    if (!STEP_SELECT.equals(m.step)) return Future.succeededFuture();
    if (d.hosts().isEmpty()) {
      String why =
          d.rejected().isEmpty()
              ? "No valid host was found. There are not enough hosts available."
              : "No valid host was found. " + String.join(" ", d.rejected().values());
      LOG.warn("{} {}", ctx(m), why);
      return finish(m, MigrationStatus.FAILED, Reason.NO_VALID_HOST, why);
    }
    String dest = d.hosts().get(0);
    LOG.info("{} scheduler chose {} (candidates {})", ctx(m), dest, d.hosts());
    return prepare(m, dest);
  }

  // ------------------------------------------------------------------ step: prepare

  private Future<Void> prepare(MigrationRow m, String dest) {
    long now = System.currentTimeMillis();
    m.destCompute = dest;
    if (m.status == MigrationStatus.ACCEPTED) m.moveTo(MigrationStatus.QUEUED, now);
    m.moveTo(MigrationStatus.PREPARING, now);
    m.step = STEP_PREPARE;
    m.stepDeadlineMs = now + settings.prepareTimeoutMs();
    return db(s -> s.instance(m.instanceUuid))
        .compose(
            inst -> {
              InstanceRow i = inst.orElseThrow();
              PrepareDestination cmd =
                  new PrepareDestination(
                      m.instanceUuid,
                      i.name(),
                      m.sourceCompute,
                      i.vcpus(),
                      i.memoryMb(),
                      i.diskGb(),
                      m.blockMigration);
              notifier.notify("instance.live_migration_pre.start", m, null);
              return save(m).compose(v -> agents.toCompute(dest, m, cmd)).onSuccess(v -> arm(m));
            });
  }

  private Future<Void> onStepResult(MigrationRow m, StepResult r) {
    switch (r.step()) {
      case "prepare_destination" -> {
        if (!STEP_PREPARE.equals(m.step)) return Future.succeededFuture();
        if (r.ok()) {
          notifier.notify("instance.live_migration_pre.end", m, null);
          return startTransfer(m);
        }
        return prepareFailed(m, r.reason() + ": " + r.message());
      }
      case "post_at_destination" -> {
        if (!STEP_POST.equals(m.step)) return Future.succeededFuture();
        if (r.ok()) return completed(m);
        LOG.error("{} destination {} could not take over: {}", ctx(m), m.destCompute, r.message());
        return finish(m, MigrationStatus.ERROR, Reason.POST_FAILED, r.message());
      }
      case "abort_migration" -> {
        if (!r.ok()) {
          LOG.warn("{} source could not abort: {} ({})", ctx(m), r.message(), r.reason());
        }
        return Future.succeededFuture();
      }
      case "force_complete" -> {
        if (!r.ok()) {
          LOG.warn("{} source could not force-complete: {} ({})", ctx(m), r.message(), r.reason());
          m.actions.add(stamp("force_complete failed: " + r.message()));
          return save(m);
        }
        return Future.succeededFuture();
      }
      default -> {
        LOG.debug("{} {} ok={}", ctx(m), r.step(), r.ok());
        return Future.succeededFuture();
      }
    }
  }

  private Future<Void> prepareFailed(MigrationRow m, String why) {
    String failed = m.destCompute;
    LOG.warn("{} destination {} could not be prepared: {}", ctx(m), failed, why);
    agents.toCompute(failed, m, new RollbackAtDestination(m.instanceUuid));
    m.triedHosts.add(failed);
    int retries = m.triedHosts.size();
    boolean canRetry =
        m.requestedHost == null
            && (settings.migrateMaxRetries() < 0 || retries <= settings.migrateMaxRetries());
    if (canRetry) {
      m.actions.add(stamp("prepare failed on " + failed + ", rescheduling: " + why));
      m.destCompute = null;
      return select(m);
    }
    return finish(
        m,
        MigrationStatus.FAILED,
        Reason.PREPARE_FAILED,
        "Migration pre-check error on " + failed + ": " + why);
  }

  // ------------------------------------------------------------------ step: start / monitor

  private Future<Void> startTransfer(MigrationRow m) {
    return db(s -> s.host(m.sourceCompute))
        .compose(
            src -> {
              long now = System.currentTimeMillis();
              boolean postCopy = src.map(HostRow::permitPostCopy).orElse(false);
              // Nova: auto-converge only when post-copy is not enabled.
              boolean autoConverge =
                  !postCopy && src.map(HostRow::permitAutoConverge).orElse(false);
              double dataGb =
                  Timeouts.dataGb(
                      m.memoryTotal / (1024 * 1024), m.diskTotal >> 30, m.blockMigration);
              m.completionTimeoutS =
                  Timeouts.completionTimeoutSeconds(settings.completionTimeoutPerGiB(), dataGb);
              m.moveTo(MigrationStatus.RUNNING, now);
              m.completionDeadlineMs =
                  m.completionTimeoutS > 0 ? now + m.completionTimeoutS * 1000 : 0;
              m.step = STEP_START;
              m.stepDeadlineMs = now + settings.startTimeoutMs();
              StartMigration cmd =
                  new StartMigration(
                      m.instanceUuid,
                      m.destCompute,
                      m.blockMigration,
                      autoConverge,
                      postCopy,
                      settings.bandwidthMibps(),
                      Math.max(
                          1,
                          Timeouts.initialDowntimeMs(
                              settings.downtimeMs(), settings.downtimeSteps())));
              LOG.info(
                  "{} starting transfer {} -> {}; completion timeout {} s ({} s/GiB x {} GiB)",
                  ctx(m),
                  m.sourceCompute,
                  m.destCompute,
                  m.completionTimeoutS,
                  settings.completionTimeoutPerGiB(),
                  dataGb);
              return save(m)
                  .compose(v -> agents.toCompute(m.sourceCompute, m, cmd))
                  .onSuccess(v -> arm(m));
            });
  }

  private Future<Void> onProgress(MigrationRow m, Envelope env, MigrationProgress p) {
    long seq = env.seq() == null ? 0 : env.seq();
    if (seq <= m.lastSeq) {
      metrics.progress(false);
      return Future.succeededFuture();
    }
    metrics.progress(true);
    m.lastSeq = seq;
    m.memoryTotal = p.memoryTotalBytes();
    m.memoryProcessed = p.memoryProcessedBytes();
    m.memoryRemaining = p.memoryRemainingBytes();
    m.diskTotal = p.diskTotalBytes();
    m.diskProcessed = p.diskProcessedBytes();
    m.diskRemaining = p.diskRemainingBytes();
    m.dirtyRate = p.dirtyRateBps();
    m.bandwidth = p.bandwidthBps();
    m.iteration = p.iteration();
    m.expectedDowntimeMs = p.expectedDowntimeMs();
    m.mode = p.mode();
    m.updatedMs = System.currentTimeMillis();
    if (STEP_START.equals(m.step)) {
      m.step = STEP_MONITOR;
      m.stepDeadlineMs = 0;
    }
    if ("postcopy".equals(p.mode()) && m.status == MigrationStatus.RUNNING) {
      m.moveTo(MigrationStatus.POSTCOPY, m.updatedMs);
      m.actions.add(stamp("switched to post-copy"));
    }
    notifier.notify(
        "migration.progress",
        m,
        new JsonObject()
            .put("memory_total_bytes", m.memoryTotal)
            .put("memory_processed_bytes", m.memoryProcessed)
            .put("memory_remaining_bytes", m.memoryRemaining)
            .put("disk_total_bytes", m.diskTotal)
            .put("disk_processed_bytes", m.diskProcessed)
            .put("disk_remaining_bytes", m.diskRemaining)
            .put("dirty_rate_bps", m.dirtyRate)
            .put("iteration", m.iteration)
            .put("mode", m.mode));
    return save(m).onSuccess(v -> arm(m));
  }

  private Future<Void> onCompleted(MigrationRow m, Envelope env, MigrationCompleted c) {
    if (m.status.rank() >= MigrationStatus.POST_MIGRATING.rank()) return Future.succeededFuture();
    long now = System.currentTimeMillis();
    m.downtimeMs = c.downtimeMs();
    m.memoryTotal = c.memoryTotalBytes();
    m.memoryProcessed = c.memoryTransferredBytes();
    m.memoryRemaining = 0;
    m.diskTotal = c.diskTotalBytes();
    m.diskProcessed = c.diskTransferredBytes();
    m.diskRemaining = 0;
    m.iteration = Math.max(m.iteration, c.iterations());
    m.mode = c.mode();
    m.moveTo(MigrationStatus.POST_MIGRATING, now);
    m.step = STEP_POST;
    m.stepDeadlineMs = now + settings.postTimeoutMs();
    m.completionDeadlineMs = 0;
    LOG.info(
        "{} transfer completed: downtime {} ms, {} iterations, {} bytes sent",
        ctx(m),
        c.downtimeMs(),
        c.iterations(),
        c.memoryTransferredBytes() + c.diskTransferredBytes());
    return save(m)
        .compose(
            v ->
                agents.toCompute(
                    m.destCompute, m, new PostAtDestination(m.instanceUuid, m.sourceCompute)))
        .onSuccess(
            v -> {
              arm(m);
              agents.toCompute(
                  m.sourceCompute, m, new CleanupSource(m.instanceUuid, m.destCompute));
            });
  }

  private Future<Void> completed(MigrationRow m) {
    return finish(m, MigrationStatus.COMPLETED, Reason.COMPLETED, null);
  }

  private Future<Void> onFailed(MigrationRow m, Envelope env, MigrationFailed f) {
    if (m.status.rank() >= MigrationStatus.POST_MIGRATING.rank()) return Future.succeededFuture();
    if (f.cancelled() && m.abortReason != null) {
      Reason r = Reason.valueOf(m.abortReason);
      MigrationStatus st =
          r == Reason.USER_ABORT ? MigrationStatus.CANCELLED : MigrationStatus.FAILED;
      String msg =
          r == Reason.COMPLETION_TIMEOUT
              ? "live migration not completed after " + m.completionTimeoutS + " sec; aborted"
              : "aborted: " + r;
      return finish(m, st, r, msg);
    }
    return finish(m, MigrationStatus.FAILED, Reason.fromAgent(f.reason()), f.message());
  }

  // ------------------------------------------------------------------ actions

  private Future<Void> requestAbort(MigrationRow m, Reason why, long afterSeconds) {
    m.abortReason = why.name();
    m.actions.add(stamp("abort (" + why + ")"));
    m.step = STEP_ABORT;
    m.stepDeadlineMs = System.currentTimeMillis() + settings.rollbackTimeoutMs();
    notifier.notify("instance.live_migration_abort.start", m, null);
    return save(m)
        .compose(
            v ->
                agents.toCompute(
                    m.sourceCompute,
                    m,
                    new AbortMigration(m.instanceUuid, why.name(), afterSeconds)))
        .onSuccess(v -> arm(m));
  }

  private Future<Void> requestForceComplete(MigrationRow m, String who) {
    return db(s -> s.host(m.sourceCompute))
        .compose(
            src -> {
              String mode = src.map(HostRow::permitPostCopy).orElse(false) ? "postcopy" : "pause";
              m.actions.add(stamp("force_complete by " + mode + " (" + who + ")"));
              notifier.notify(
                  "instance.live_migration_force_complete.start",
                  m,
                  new JsonObject().put("mode", mode));
              return save(m)
                  .compose(
                      v ->
                          agents.toCompute(
                              m.sourceCompute, m, new ForceComplete(m.instanceUuid, mode, who)));
            });
  }

  private static String stamp(String action) {
    return Instant.now() + " " + action;
  }

  // ------------------------------------------------------------------ deadlines

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
    if (!Long.valueOf(timerId).equals(completionTimers.get(m.uuid)))
      return Future.succeededFuture();
    completionTimers.remove(m.uuid);
    if (m.status != MigrationStatus.RUNNING || m.abortReason != null) {
      return Future.succeededFuture();
    }
    metrics.timeoutAction(settings.timeoutAction());
    LOG.warn(
        "{} live migration not completed after {} sec; timeout action {}",
        ctx(m),
        m.completionTimeoutS,
        settings.timeoutAction());
    if ("force_complete".equals(settings.timeoutAction())) {
      m.completionDeadlineMs = 0;
      return requestForceComplete(m, "completion timeout");
    }
    return requestAbort(m, Reason.COMPLETION_TIMEOUT, m.completionTimeoutS);
  }

  private Future<Void> onStepDeadline(MigrationRow m, long timerId) {
    if (!Long.valueOf(timerId).equals(stepTimers.get(m.uuid))) return Future.succeededFuture();
    stepTimers.remove(m.uuid);
    if (m.status.isFinal()) return Future.succeededFuture();
    String step = m.step;
    LOG.error("{} no answer for step {} before its deadline", ctx(m), step);
    return switch (step == null ? "" : step) {
      case STEP_SELECT ->
          finish(
              m,
              MigrationStatus.FAILED,
              Reason.SCHEDULER_UNAVAILABLE,
              "The scheduler did not answer within " + settings.prepareTimeoutMs() / 1000 + " s.");
      case STEP_PREPARE ->
          prepareFailed(
              m, "DEST_AGENT_LOST: no answer within " + settings.prepareTimeoutMs() / 1000 + " s");
      case STEP_START -> {
        // The source may still start late: ask it to abort so the VM stays where it is.
        agents.toCompute(
            m.sourceCompute,
            m,
            new AbortMigration(m.instanceUuid, Reason.SOURCE_AGENT_LOST.name(), 0));
        yield finish(
            m,
            MigrationStatus.FAILED,
            Reason.SOURCE_AGENT_LOST,
            "The source compute "
                + m.sourceCompute
                + " did not start the migration within "
                + settings.startTimeoutMs() / 1000
                + " s.");
      }
      case STEP_ABORT ->
          finish(
              m,
              MigrationStatus.ERROR,
              Reason.SOURCE_AGENT_LOST,
              "The source compute "
                  + m.sourceCompute
                  + " did not confirm the abort within "
                  + settings.rollbackTimeoutMs() / 1000
                  + " s; where the instance runs is unknown.");
      case STEP_POST ->
          finish(
              m,
              MigrationStatus.ERROR,
              Reason.DEST_AGENT_LOST,
              "The destination "
                  + m.destCompute
                  + " did not confirm post-migration within "
                  + settings.postTimeoutMs() / 1000
                  + " s.");
      default -> Future.succeededFuture();
    };
  }

  /** After a restart: commands whose answers we wait for are sent again (they are idempotent). */
  private void resend(MigrationRow m) {
    if (STEP_SELECT.equals(m.step)) {
      serialize(m.uuid, () -> select(m));
    } else if (STEP_POST.equals(m.step)) {
      agents.toCompute(m.destCompute, m, new PostAtDestination(m.instanceUuid, m.sourceCompute));
    }
  }

  // ------------------------------------------------------------------ the end

  /**
   * Ends a migration: the final status and reason, the instance's host and status, the rollback at
   * the destination when the instance stays on the source, the notification and the metrics.
   */
  private Future<Void> finish(
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
    boolean onSource = status == MigrationStatus.FAILED || status == MigrationStatus.CANCELLED;
    if (onSource && m.destCompute != null) {
      agents.toCompute(m.destCompute, m, new RollbackAtDestination(m.instanceUuid));
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

  private Future<Void> save(MigrationRow m) {
    MigrationRow copy = m.copy();
    return db(
        s -> {
          s.save(copy, null);
          return null;
        });
  }

  /** For /health. */
  public JsonObject health() {
    return new JsonObject()
        .put("status", bus.isConnected() ? "UP" : "DOWN")
        .put("migrations_in_flight", active.size());
  }
}
