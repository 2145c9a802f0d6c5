package io.livemigrate.agent.impl;

import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.Hypervisor.Domain;
import io.livemigrate.agent.Hypervisor.IncomingSpec;
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
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
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
  // Steps that act on a running outbound job, and what the hypervisor says when it has ended.
  private static final Set<String> JOB_STEPS =
      Set.of("abort_migration", "force_complete", "tune_migration");
  private static final Set<String> NO_JOB_REASONS = Set.of("NO_JOB", "NOT_FOUND");

  private static final String BINARY = "livemigrate-compute";

  private final Vertx vertx;
  private final Bus bus;
  private final Hypervisor hv;
  private final AgentSettings settings;
  private final WorkerExecutor workers;
  private final MeterRegistry registry;
  private final Journal journal;
  private final OutboundJobs jobs;

  private long heartbeatTimer = -1;

  /**
   * Prepares under way, by migration: a rollback crossing its prepare waits for it (else it finds
   * nothing to cancel and the reservation is made after it). Event loop only.
   */
  private final java.util.Map<String, Future<Void>> preparing = new java.util.HashMap<>();

  /** Migrations rolled back here: their prepare, arriving late, reserves nothing. Bounded. */
  private final Set<String> rolledBack = OutboundJobs.boundedSet(10_000);

  /** What the hypervisor ran at the last report, uuid to state: for /health and fault tests. */
  private volatile JsonObject lastDomains = new JsonObject();

  public ComputeAgent(
      Vertx vertx, Bus bus, Hypervisor hv, AgentSettings settings, MeterRegistry registry) {
    this.vertx = vertx;
    this.bus = bus;
    this.hv = hv;
    this.settings = settings;
    this.registry = registry;
    this.workers = vertx.createSharedWorkerExecutor("hypervisor-" + settings.host(), 4);
    this.journal = new Journal(journalDir(settings));
    this.jobs =
        new OutboundJobs(
            vertx,
            bus,
            hv,
            settings,
            journal,
            registry,
            workers,
            () -> hostReport().onFailure(this::reportFailed));
    registry.gauge(
        "livemigrate_agent_migrations_in_flight",
        io.micrometer.core.instrument.Tags.of("host", settings.host()),
        jobs,
        OutboundJobs::size);
  }

  private static Path journalDir(AgentSettings settings) {
    String dir = settings.stateDir();
    return dir == null || dir.isBlank() ? null : Path.of(dir, "migrations");
  }

  /**
   * Re-attaches to the migrations the journal knows (before anything else: a redelivered start or
   * abort must find its job), then consumes commands and reports.
   */
  public Future<Void> start() {
    if (!journal.enabled()) {
      LOG.warn(
          "[host {}] [compute] state_dir is empty: no journal, so a restarted agent cannot"
              + " re-attach to its running migrations",
          settings.host());
    }
    return blocking(journal::nextEpoch)
        .compose(jobs::reattach)
        .compose(
            v -> bus.consume(bus.topology().computeQueue(settings.host()), List.of(), this::handle))
        .compose(v -> report())
        .onSuccess(
            v ->
                heartbeatTimer =
                    vertx.setPeriodic(
                        settings.reportIntervalMs(), t -> report().onFailure(this::reportFailed)));
  }

  /**
   * Stops reporting and following jobs; the hypervisor's jobs go on (they belong to libvirtd) and
   * stay in the journal for the next start to re-attach.
   */
  public Future<Void> stop() {
    jobs.stop();
    if (heartbeatTimer >= 0) vertx.cancelTimer(heartbeatTimer);
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
              JsonObject seen = new JsonObject();
              for (InstanceReport i : instances) seen.put(i.uuid(), i.state());
              lastDomains = seen;
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
                  hv.cpuModel(),
                  settings.maxOutboundMigrations(),
                  settings.maxInboundMigrations(),
                  jobsHere(),
                  hv.sharedStorageWith());
            })
        .compose(
            rep -> bus.event("host.report." + settings.host(), Envelope.of(rep, bus.sender())));
  }

  /**
   * The instances with an outbound job here: those this agent follows (journalled, outcome not yet
   * confirmed) and those the hypervisor runs, so a restarted agent without a journal still says
   * what libvirt runs. Blocking (a hypervisor call).
   */
  private List<String> jobsHere() {
    java.util.Set<String> all = new java.util.TreeSet<>(jobs.instances());
    all.addAll(hv.outboundJobs());
    return List.copyOf(all);
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
        d.dirtyRateBps(),
        d.memoryDataBytes());
  }

  private <T> Future<T> blocking(Callable<T> c) {
    return workers.executeBlocking(c, false);
  }

  /** A hypervisor call on a worker thread. */
  private Future<Void> run(HvCall call) {
    return blocking(
        () -> {
          call.run();
          return null;
        });
  }

  private interface HvCall {
    void run() throws Exception;
  }

  private Future<Void> handle(Envelope env, Message body) {
    count(env.type());
    Ctx ctx = Ctx.of(env.requestId(), env.migrationId(), instanceOf(body));
    if (env.migrationId() == null && !(body instanceof HostReport)) {
      throw new InvalidMessageException(env.type() + " without migrationId");
    }
    LOG.debug("{} {} received", ctx, env.type());
    if (body instanceof PrepareDestination p) return prepare(env, ctx, p);
    if (body instanceof StartMigration s) return jobs.start(env, ctx, s);
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
          if (JOB_STEPS.contains(step) && NO_JOB_REASONS.contains(reason)) {
            // The job ended (or the guest left) before the command arrived: a race the conductor
            // settles from the outcome, not a failure of this host.
            LOG.info("{} {}: no job runs here for it any more ({})", ctx, step, e.getMessage());
          } else {
            LOG.error(
                "{} {} failed on {}: {} ({})", ctx, step, settings.host(), e.getMessage(), reason);
          }
          return reply(env, StepResult.failed(step, reason, e.getMessage()));
        });
  }

  private Future<Void> prepare(Envelope env, Ctx ctx, PrepareDestination p) {
    String mid = env.migrationId();
    if (rolledBack.contains(mid)) {
      LOG.warn("{} prepare_destination arrived after its rollback; nothing reserved", ctx);
      return reply(
          env,
          StepResult.failed(
              "prepare_destination", "ROLLED_BACK", "the migration was rolled back here"));
    }
    Future<Void> f = reserve(env, ctx, p);
    preparing.put(mid, f);
    f.onComplete(ar -> preparing.remove(mid, f));
    return f;
  }

  private Future<Void> reserve(Envelope env, Ctx ctx, PrepareDestination p) {
    String refused = settings.peers().refuse(p.sourceHost());
    if (refused != null) {
      LOG.error("{} incoming live migration refused: {}", ctx, refused);
      return reply(env, StepResult.failed("prepare_destination", "PEER_REFUSED", refused));
    }
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
    return stepReply(env, ctx, "prepare_destination", run(() -> hv.prepareIncoming(spec)));
  }

  private Future<Void> abort(Envelope env, Ctx ctx, AbortMigration a) {
    return stepReply(
        env,
        ctx,
        "abort_migration",
        jobs.beforeAbort(env.migrationId()).compose(ready -> run(() -> abortJob(ctx, a))));
  }

  /** Blocking: the hypervisor's abort. */
  private void abortJob(Ctx ctx, AbortMigration a) throws HypervisorException {
    if ("COMPLETION_TIMEOUT".equals(a.reason()) && hv.jobStats(a.instanceUuid()).isPresent()) {
      // The line operators grep for (Nova's wording), see the admin guide; only while the job
      // really runs (an abort that crossed the job's end is no timeout).
      LOG.warn("{} live migration not completed after {} sec", ctx, a.afterSeconds());
    } else {
      LOG.info("{} aborting live migration ({})", ctx, a.reason());
    }
    hv.abortJob(a.instanceUuid());
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
            env, ctx, "post_at_destination", run(() -> hv.finishIncoming(p.instanceUuid())))
        .onSuccess(v -> hostReport().onFailure(this::reportFailed));
  }

  private Future<Void> rollbackAtDestination(Envelope env, Ctx ctx, RollbackAtDestination r) {
    rolledBack.add(env.migrationId());
    Future<Void> before = preparing.getOrDefault(env.migrationId(), Future.succeededFuture());
    return before.transform(
        ar ->
            stepReply(
                env,
                ctx,
                "rollback_at_destination",
                run(() -> hv.cancelIncoming(r.instanceUuid()))));
  }

  private Future<Void> cleanupSource(Envelope env, Ctx ctx, CleanupSource c) {
    return stepReply(env, ctx, "cleanup_source", run(() -> hv.cleanupSource(c.instanceUuid())))
        .onSuccess(v -> hostReport().onFailure(this::reportFailed));
  }

  /** For /health. */
  public JsonObject health() {
    return new JsonObject()
        .put("status", bus.isConnected() ? "UP" : "DOWN")
        .put("host", settings.host())
        .put("migrations", jobs.size())
        .put("journal", journal.enabled())
        .put("domains", lastDomains.copy());
  }
}
