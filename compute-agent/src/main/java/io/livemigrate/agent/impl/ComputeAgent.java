package io.livemigrate.agent.impl;

import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.Hypervisor.Domain;
import io.livemigrate.agent.Hypervisor.IncomingSpec;
import io.livemigrate.agent.Hypervisor.JobStats;
import io.livemigrate.agent.Hypervisor.MigrationFlags;
import io.livemigrate.agent.Hypervisor.MigrationResult;
import io.livemigrate.agent.HypervisorException;
import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.contract.AgentCommands.AbortMigration;
import io.livemigrate.common.contract.AgentCommands.CleanupSource;
import io.livemigrate.common.contract.AgentCommands.ForceComplete;
import io.livemigrate.common.contract.AgentCommands.PostAtDestination;
import io.livemigrate.common.contract.AgentCommands.PrepareDestination;
import io.livemigrate.common.contract.AgentCommands.RollbackAtDestination;
import io.livemigrate.common.contract.AgentCommands.StartMigration;
import io.livemigrate.common.contract.AgentCommands.TuneMigration;
import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.InstanceReport;
import io.livemigrate.common.contract.AgentEvents.MigrationCompleted;
import io.livemigrate.common.contract.AgentEvents.MigrationFailed;
import io.livemigrate.common.contract.AgentEvents.MigrationProgress;
import io.livemigrate.common.contract.AgentEvents.ServiceHeartbeat;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.InstanceMessage;
import io.livemigrate.common.contract.InvalidMessageException;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.log.Ctx;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The compute agent: reports liveness, resources and instances, and executes the conductor's
 * commands against the hypervisor. It never decides a migration's fate; it reports what happens.
 *
 * <p>All methods run on the agent's event-loop context; hypervisor calls go to a worker pool.
 */
public final class ComputeAgent {
  private static final Logger LOG = LoggerFactory.getLogger(ComputeAgent.class);
  private static final String BINARY = "livemigrate-compute";
  private static final int FINISHED_MEMORY = 10_000;

  private final Vertx vertx;
  private final Bus bus;
  private final Hypervisor hv;
  private final AgentSettings settings;
  private final WorkerExecutor workers;
  private final MeterRegistry registry;
  private final Map<String, Job> jobs = new ConcurrentHashMap<>();

  /** Migrations already started here, so a repeated start_migration has no second effect. */
  private final Map<String, Boolean> started =
      new LinkedHashMap<>() {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> e) {
          return size() > FINISHED_MEMORY;
        }
      };

  private long heartbeatTimer = -1;

  /** Set by {@link #stop}: outcomes arriving later belong to the agent that re-attaches. */
  private volatile boolean stopped;

  /** One outbound migration this agent runs. */
  private static final class Job {
    final String migrationId;
    final Ctx ctx;
    final String instanceUuid;
    final String replyTo;
    final Envelope start;
    long seq;
    long timer = -1;
    volatile boolean finished;

    Job(String migrationId, Ctx ctx, String instanceUuid, String replyTo, Envelope start) {
      this.migrationId = migrationId;
      this.ctx = ctx;
      this.instanceUuid = instanceUuid;
      this.replyTo = replyTo;
      this.start = start;
      // Sequence numbers start at the wall clock so that a restarted agent that re-attaches to
      // a job keeps issuing numbers above those it sent before.
      this.seq = System.currentTimeMillis() * 1000;
    }
  }

  public ComputeAgent(
      Vertx vertx, Bus bus, Hypervisor hv, AgentSettings settings, MeterRegistry registry) {
    this.vertx = vertx;
    this.bus = bus;
    this.hv = hv;
    this.settings = settings;
    this.registry = registry;
    this.workers = vertx.createSharedWorkerExecutor("hypervisor-" + settings.host(), 4);
    registry.gauge(
        "livemigrate_agent_migrations_in_flight",
        io.micrometer.core.instrument.Tags.of("host", settings.host()),
        jobs,
        Map::size);
  }

  /** Starts consuming commands and reporting, re-attached to migrations still running here. */
  public Future<Void> start() {
    return bus.consume(bus.topology().computeQueue(settings.host()), List.of(), this::handle)
        .compose(v -> reattach())
        .compose(v -> report())
        .onSuccess(
            v ->
                heartbeatTimer =
                    vertx.setPeriodic(
                        settings.reportIntervalMs(), t -> report().onFailure(this::reportFailed)));
  }

  public Future<Void> stop() {
    stopped = true;
    if (heartbeatTimer >= 0) vertx.cancelTimer(heartbeatTimer);
    jobs.values().forEach(j -> vertx.cancelTimer(j.timer));
    return workers.close();
  }

  public String host() {
    return settings.host();
  }

  private void reportFailed(Throwable e) {
    LOG.warn("[host {}] heartbeat/report not published: {}", settings.host(), e.toString());
  }

  /** Publishes a heartbeat and a full host report. */
  public Future<Void> report() {
    Envelope hb =
        Envelope.of(
            new ServiceHeartbeat(settings.host(), BINARY, settings.zone(), "0.1.0"), bus.sender());
    return bus.event("service.heartbeat." + settings.host(), hb).compose(v -> hostReport());
  }

  private Future<Void> hostReport() {
    return blocking(
            () -> {
              Hypervisor.HostResources r = hv.resources();
              List<InstanceReport> instances =
                  hv.listDomains().stream().map(ComputeAgent::toReport).toList();
              return new HostReport(
                  settings.host(),
                  settings.zone(),
                  hv.type(),
                  hv.version(),
                  r.vcpus(),
                  r.memoryMb(),
                  r.diskGb(),
                  settings.permitPostCopy(),
                  settings.permitAutoConverge(),
                  instances,
                  settings.cpuAllocationRatio(),
                  settings.ramAllocationRatio(),
                  settings.diskAllocationRatio(),
                  null,
                  settings.maxOutboundMigrations(),
                  settings.maxInboundMigrations());
            })
        .compose(
            rep -> bus.event("host.report." + settings.host(), Envelope.of(rep, bus.sender())));
  }

  private static InstanceReport toReport(Domain d) {
    return new InstanceReport(
        d.uuid(),
        d.name(),
        d.state(),
        d.vcpus(),
        d.memoryMb(),
        d.diskGb(),
        d.projectId(),
        d.userId(),
        d.flavor(),
        d.cpuXml(),
        d.machineType(),
        d.dirtyRateBps());
  }

  private <T> Future<T> blocking(Callable<T> c) {
    return workers.executeBlocking(c, false);
  }

  private Future<Void> handle(Envelope env, Message body) {
    count(env.type());
    Ctx ctx = Ctx.of(env.requestId(), env.migrationId(), instanceOf(body));
    if (env.migrationId() == null && !(body instanceof HostReport)) {
      throw new InvalidMessageException(env.type() + " without migrationId");
    }
    LOG.debug("{} {} received", ctx, env.type());
    if (body instanceof PrepareDestination p) return prepare(env, ctx, p);
    if (body instanceof StartMigration s) return startMigration(env, ctx, s);
    if (body instanceof AbortMigration a) return abort(env, ctx, a);
    if (body instanceof ForceComplete f) return forceComplete(env, ctx, f);
    if (body instanceof TuneMigration t) return tune(env, ctx, t);
    if (body instanceof PostAtDestination p) return postAtDestination(env, ctx, p);
    if (body instanceof RollbackAtDestination r) return rollbackAtDestination(env, ctx, r);
    if (body instanceof CleanupSource c) return cleanupSource(env, ctx, c);
    throw new InvalidMessageException(env.type() + " is not a compute agent command");
  }

  private static String instanceOf(Message body) {
    return body instanceof InstanceMessage m ? m.instanceUuid() : null;
  }

  private void count(String type) {
    Counter.builder("livemigrate_agent_commands")
        .description("Commands received by the compute agent")
        .tags("host", settings.host(), "type", type)
        .register(registry)
        .increment();
  }

  private String replyQueue(Envelope env) {
    return env.replyTo() != null ? env.replyTo() : bus.topology().conductorQueue();
  }

  private Future<Void> reply(Envelope to, Message result) {
    return bus.send(replyQueue(to), to.reply(result, bus.sender()));
  }

  private Future<Void> stepReply(Envelope env, Ctx ctx, String step, Future<?> work) {
    return work.transform(
        ar -> {
          if (ar.succeeded()) {
            LOG.info("{} {} done on {}", ctx, step, settings.host());
            return reply(env, StepResult.ok(step));
          }
          Throwable e = ar.cause();
          String reason = e instanceof HypervisorException he ? he.reason() : "HYPERVISOR_ERROR";
          LOG.error(
              "{} {} failed on {}: {} ({})", ctx, step, settings.host(), e.getMessage(), reason);
          return reply(env, StepResult.failed(step, reason, e.getMessage()));
        });
  }

  private Future<Void> prepare(Envelope env, Ctx ctx, PrepareDestination p) {
    IncomingSpec spec =
        new IncomingSpec(
            p.instanceUuid(),
            p.instanceName(),
            p.sourceHost(),
            p.vcpus(),
            p.memoryMb(),
            p.diskGb(),
            p.blockMigration(),
            null,
            null,
            null,
            p.cpuXml(),
            p.machineType(),
            p.sourceHypervisorVersion(),
            p.sharedStorage(),
            p.dirtyRateBps());
    return stepReply(
        env,
        ctx,
        "prepare_destination",
        blocking(
            () -> {
              hv.prepareIncoming(spec);
              return null;
            }));
  }

  private Future<Void> startMigration(Envelope env, Ctx ctx, StartMigration s) {
    String mid = env.migrationId();
    if (started.containsKey(mid)) {
      LOG.info("{} start_migration repeated; the migration already started here", ctx);
      return Future.succeededFuture();
    }
    started.put(mid, true);
    Job job = new Job(mid, ctx, s.instanceUuid(), replyQueue(env), env);
    MigrationFlags flags =
        new MigrationFlags(
            s.blockMigration(),
            s.autoConverge() && settings.permitAutoConverge(),
            s.postCopy() && settings.permitPostCopy(),
            s.bandwidthMibps(),
            s.maxDowntimeMs());
    LOG.info(
        "{} starting live migration {} -> {} (block={}, autoConverge={}, postCopy={},"
            + " bandwidth={} MiB/s, maxDowntime={} ms)",
        ctx,
        settings.host(),
        s.destHost(),
        flags.blockMigration(),
        flags.autoConverge(),
        flags.postCopy(),
        flags.bandwidthMibps(),
        flags.maxDowntimeMs());
    return blocking(
            () -> {
              // Journalled before the hypervisor starts, so a restart at any point finds it.
              journal(mid, env);
              try {
                return hv.migrate(s.instanceUuid(), s.destHost(), flags);
              } catch (HypervisorException | RuntimeException e) {
                unjournal(mid);
                throw e;
              }
            })
        .transform(
            ar -> {
              if (ar.failed()) {
                Throwable e = ar.cause();
                String reason =
                    e instanceof HypervisorException he ? he.reason() : "HYPERVISOR_ERROR";
                LOG.error(
                    "{} live migration could not start: {} ({})", ctx, e.getMessage(), reason);
                return send(
                    job, new MigrationFailed(s.instanceUuid(), reason, e.getMessage(), false, 0));
              }
              track(job, ar.result());
              return Future.<Void>succeededFuture();
            });
  }

  private void track(Job job, java.util.concurrent.CompletableFuture<MigrationResult> outcome) {
    jobs.put(job.migrationId, job);
    job.timer = vertx.setPeriodic(1, settings.progressIntervalMs(), t -> sendProgress(job));
    outcome.whenComplete((res, err) -> vertx.runOnContext(v -> finished(job, res, err)));
  }

  private Path journalDir() {
    String dir = settings.stateDir();
    return dir == null || dir.isBlank() ? null : Path.of(dir, "migrations");
  }

  /** Blocking: records a started migration (its start command) in the journal. */
  private void journal(String migrationId, Envelope start) throws java.io.IOException {
    Path dir = journalDir();
    if (dir == null) return;
    Files.createDirectories(dir);
    Path tmp = dir.resolve(migrationId + ".tmp");
    Files.writeString(tmp, start.toJson().encode());
    Files.move(tmp, dir.resolve(migrationId + ".json"), StandardCopyOption.ATOMIC_MOVE);
  }

  private void unjournal(String migrationId) {
    Path dir = journalDir();
    if (dir == null) return;
    try {
      Files.deleteIfExists(dir.resolve(migrationId + ".json"));
    } catch (java.io.IOException e) {
      LOG.warn("[host {}] journal entry {} not removed: {}", settings.host(), migrationId, e);
    }
  }

  /**
   * After a restart: the journal says which migrations this agent had started; those the hypervisor
   * still runs are tracked again (progress and outcome go to the conductor as before), those that
   * ended meanwhile are reported from where the instance is now.
   */
  private Future<Void> reattach() {
    if (journalDir() == null) return Future.succeededFuture();
    return blocking(
            () -> {
              List<Envelope> entries = new java.util.ArrayList<>();
              Path dir = journalDir();
              if (Files.isDirectory(dir)) {
                try (var files = Files.list(dir)) {
                  for (Path f : files.filter(p -> p.toString().endsWith(".json")).toList()) {
                    try {
                      entries.add(Envelope.fromJson(new JsonObject(Files.readString(f))));
                    } catch (RuntimeException e) {
                      LOG.warn("[host {}] unreadable journal entry {}: {}", settings.host(), f, e);
                      Files.deleteIfExists(f);
                    }
                  }
                }
              }
              if (entries.isEmpty()) return new Reattached(entries, Map.of(), List.of());
              Map<String, String> destinations = new java.util.HashMap<>();
              for (Envelope e : entries) {
                StartMigration s = e.body(StartMigration.class);
                destinations.put(s.instanceUuid(), s.destHost());
              }
              return new Reattached(
                  entries,
                  hv.reattach(destinations),
                  hv.listDomains().stream()
                      .filter(d -> "running".equals(d.state()) || "paused".equals(d.state()))
                      .map(Domain::uuid)
                      .toList());
            })
        .map(
            r -> {
              for (Envelope env : r.entries()) {
                StartMigration s = env.body(StartMigration.class);
                String mid = env.migrationId();
                Ctx ctx = Ctx.of(env.requestId(), mid, s.instanceUuid());
                Job job = new Job(mid, ctx, s.instanceUuid(), replyQueue(env), env);
                started.put(mid, true);
                var running = r.running().get(s.instanceUuid());
                if (running != null) {
                  LOG.info("{} re-attached to the live migration running on {}", ctx, host());
                  track(job, running);
                } else if (r.here().contains(s.instanceUuid())) {
                  LOG.warn("{} the migration ended while the agent was down; still here", ctx);
                  finished(
                      job,
                      null,
                      new HypervisorException(
                          "HYPERVISOR_ERROR",
                          "the migration ended while the agent was down; the instance still runs"
                              + " on "
                              + host()));
                } else {
                  LOG.info("{} the migration completed while the agent was down", ctx);
                  finished(job, new MigrationResult(-1, 0, 0, 0, 0, 0, 0, "precopy"), null);
                }
              }
              return null;
            });
  }

  private record Reattached(
      List<Envelope> entries,
      Map<String, java.util.concurrent.CompletableFuture<MigrationResult>> running,
      List<String> here) {}

  private Future<Void> send(Job job, Message m) {
    Envelope e = job.start.reply(m, bus.sender()).withSeq(++job.seq);
    return bus.send(job.replyTo, e);
  }

  private void sendProgress(Job job) {
    blocking(() -> hv.jobStats(job.instanceUuid))
        .onSuccess(
            stats -> {
              if (job.finished || stats.isEmpty()) return;
              JobStats st = stats.get();
              send(
                      job,
                      new MigrationProgress(
                          job.instanceUuid,
                          st.mode(),
                          st.memoryTotalBytes(),
                          st.memoryProcessedBytes(),
                          st.memoryRemainingBytes(),
                          st.diskTotalBytes(),
                          st.diskProcessedBytes(),
                          st.diskRemainingBytes(),
                          st.dirtyRateBps(),
                          st.bandwidthBps(),
                          st.iteration(),
                          st.expectedDowntimeMs(),
                          st.elapsedMs(),
                          0L))
                  .onFailure(e -> LOG.warn("{} progress not published: {}", job.ctx, e.toString()));
            });
  }

  private void finished(Job job, MigrationResult res, Throwable err) {
    job.finished = true;
    if (stopped) {
      // The journal entry stays: the next agent on this host reports this outcome.
      LOG.info("{} migration ended after this agent stopped", job.ctx);
      return;
    }
    blocking(
        () -> {
          unjournal(job.migrationId);
          return null;
        });
    vertx.cancelTimer(job.timer);
    jobs.remove(job.migrationId);
    Message outcome;
    String result;
    if (err == null) {
      result = "completed";
      LOG.info(
          "{} live migration completed in {} ms, downtime {} ms, {} iterations, mode {}",
          job.ctx,
          res.elapsedMs(),
          res.downtimeMs(),
          res.iterations(),
          res.mode());
      outcome =
          new MigrationCompleted(
              job.instanceUuid,
              res.downtimeMs(),
              res.memoryTotalBytes(),
              res.memoryTransferredBytes(),
              res.diskTotalBytes(),
              res.diskTransferredBytes(),
              res.iterations(),
              res.elapsedMs(),
              res.mode());
    } else {
      Throwable cause =
          err instanceof java.util.concurrent.CompletionException ? err.getCause() : err;
      String reason = cause instanceof HypervisorException he ? he.reason() : "HYPERVISOR_ERROR";
      boolean cancelled = "CANCELLED".equals(reason);
      result = cancelled ? "cancelled" : "failed";
      if (cancelled) {
        LOG.warn("{} live migration cancelled; the instance keeps running here", job.ctx);
      } else {
        LOG.error(
            "{} live migration failed: {} ({}); the instance keeps running here",
            job.ctx,
            cause.getMessage(),
            reason);
      }
      outcome =
          new MigrationFailed(
              job.instanceUuid, reason, String.valueOf(cause.getMessage()), cancelled, 0);
    }
    Counter.builder("livemigrate_agent_migrations")
        .description("Outbound migrations this agent ran, by result")
        .tags("host", settings.host(), "result", result)
        .register(registry)
        .increment();
    send(job, outcome)
        .onFailure(e -> LOG.error("{} outcome not published: {}", job.ctx, e.toString()));
    hostReport().onFailure(this::reportFailed);
  }

  private Future<Void> abort(Envelope env, Ctx ctx, AbortMigration a) {
    if ("COMPLETION_TIMEOUT".equals(a.reason())) {
      // The line operators grep for (Nova's wording), see the admin guide.
      LOG.warn("{} live migration not completed after {} sec", ctx, a.afterSeconds());
    } else {
      LOG.info("{} aborting live migration ({})", ctx, a.reason());
    }
    return stepReply(
        env,
        ctx,
        "abort_migration",
        blocking(
            () -> {
              hv.abortJob(a.instanceUuid());
              return null;
            }));
  }

  private Future<Void> forceComplete(Envelope env, Ctx ctx, ForceComplete f) {
    LOG.info("{} force-completing live migration by {} ({})", ctx, f.mode(), f.reason());
    return stepReply(
        env,
        ctx,
        "force_complete",
        blocking(
            () -> {
              if ("postcopy".equals(f.mode())) hv.startPostCopy(f.instanceUuid());
              else hv.suspend(f.instanceUuid());
              return null;
            }));
  }

  private Future<Void> tune(Envelope env, Ctx ctx, TuneMigration t) {
    LOG.info(
        "{} tuning live migration: max downtime {} ms, bandwidth {} MiB/s",
        ctx,
        t.maxDowntimeMs(),
        t.bandwidthMibps());
    return stepReply(
        env,
        ctx,
        "tune_migration",
        blocking(
            () -> {
              if (t.maxDowntimeMs() > 0) hv.setMaxDowntime(t.instanceUuid(), t.maxDowntimeMs());
              if (t.bandwidthMibps() > 0) hv.setMaxSpeed(t.instanceUuid(), t.bandwidthMibps());
              return null;
            }));
  }

  private Future<Void> postAtDestination(Envelope env, Ctx ctx, PostAtDestination p) {
    return stepReply(
            env,
            ctx,
            "post_at_destination",
            blocking(
                () -> {
                  hv.finishIncoming(p.instanceUuid());
                  return null;
                }))
        .onSuccess(v -> hostReport().onFailure(this::reportFailed));
  }

  private Future<Void> rollbackAtDestination(Envelope env, Ctx ctx, RollbackAtDestination r) {
    return stepReply(
        env,
        ctx,
        "rollback_at_destination",
        blocking(
            () -> {
              hv.cancelIncoming(r.instanceUuid());
              return null;
            }));
  }

  private Future<Void> cleanupSource(Envelope env, Ctx ctx, CleanupSource c) {
    return stepReply(
            env,
            ctx,
            "cleanup_source",
            blocking(
                () -> {
                  hv.cleanupSource(c.instanceUuid());
                  return null;
                }))
        .onSuccess(v -> hostReport().onFailure(this::reportFailed));
  }

  /** For /health. */
  public JsonObject health() {
    return new JsonObject()
        .put("status", bus.isConnected() ? "UP" : "DOWN")
        .put("host", settings.host())
        .put("migrations", jobs.size());
  }
}
