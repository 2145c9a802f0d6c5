package io.livemigrate.agent.impl;

import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.Hypervisor.Domain;
import io.livemigrate.agent.Hypervisor.JobStats;
import io.livemigrate.agent.Hypervisor.MigrationFlags;
import io.livemigrate.agent.Hypervisor.MigrationResult;
import io.livemigrate.agent.HypervisorException;
import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.contract.AgentCommands.StartMigration;
import io.livemigrate.common.contract.AgentEvents.MigrationCompleted;
import io.livemigrate.common.contract.AgentEvents.MigrationFailed;
import io.livemigrate.common.contract.AgentEvents.MigrationProgress;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.log.Ctx;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outbound migrations this agent runs: started from the conductor's command (journalled first),
 * followed with progress every {@code progress_interval_ms}, and ended with an outcome that is
 * journalled, then sent until the broker confirms it. After a restart, {@link #reattach} (which
 * runs before any command is consumed) finds the journal's migrations again: a job still running is
 * followed, one that ended is reported from where the instance is, an outcome not yet confirmed is
 * sent again with its original id (the conductor dedupes).
 *
 * <p>All methods run on the agent's event-loop context; hypervisor and journal calls go to workers.
 */
final class OutboundJobs {
  private static final Logger LOG = LoggerFactory.getLogger(OutboundJobs.class);

  private final Vertx vertx;
  private final Bus bus;
  private final Hypervisor hv;
  private final AgentSettings settings;
  private final Journal journal;
  private final MeterRegistry registry;
  private final WorkerExecutor workers;
  private final Map<String, Job> jobs = new ConcurrentHashMap<>();
  private final Runnable reportChanged;
  private long epoch;

  /**
   * Migrations aborted here before their start arrived (a start can trail its abort: left in a dead
   * conductor's outbox and sent again later). Kept in memory for an agent without a journal; the
   * journal tombstones them too.
   */
  private final Set<String> abortedBeforeStart = boundedSet(10_000);

  /** A set that forgets its oldest entries beyond {@code max}. Not thread-safe. */
  static Set<String> boundedSet(int max) {
    return java.util.Collections.newSetFromMap(
        new java.util.LinkedHashMap<>() {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > max;
          }
        });
  }

  /** Set by {@link #stop}: outcomes arriving later belong to the agent that re-attaches. */
  private volatile boolean stopped;

  /** One outbound migration. */
  private static final class Job {
    final String migrationId;
    final Ctx ctx;
    final String instanceUuid;
    final Envelope start;
    long seq;
    long timer = -1;
    volatile boolean finished;

    /** Completed once the hypervisor's migrate call returned (or was never made). */
    final Promise<Void> launched = Promise.promise();

    Job(Envelope start, String instanceUuid) {
      this.migrationId = start.migrationId();
      this.ctx = Ctx.of(start.requestId(), start.migrationId(), instanceUuid);
      this.instanceUuid = instanceUuid;
      this.start = start;
    }
  }

  OutboundJobs(
      Vertx vertx,
      Bus bus,
      Hypervisor hv,
      AgentSettings settings,
      Journal journal,
      MeterRegistry registry,
      WorkerExecutor workers,
      Runnable reportChanged) {
    this.vertx = vertx;
    this.bus = bus;
    this.hv = hv;
    this.settings = settings;
    this.journal = journal;
    this.registry = registry;
    this.workers = workers;
    this.reportChanged = reportChanged;
  }

  private <T> Future<T> blocking(Callable<T> c) {
    return workers.executeBlocking(c, false);
  }

  int size() {
    return jobs.size();
  }

  /** Instances with an outbound job here (running, or ended with the outcome unconfirmed). */
  List<String> instances() {
    return jobs.values().stream().map(j -> j.instanceUuid).distinct().toList();
  }

  void stop() {
    stopped = true;
    jobs.values().forEach(j -> vertx.cancelTimer(j.timer));
  }

  /**
   * A start_migration. A repeated one (redelivered, or resent by a conductor's outbox) is answered
   * from the job: nothing while it runs, its outcome again once it ended; never a second migrate.
   */
  Future<Void> start(Envelope env, Ctx ctx, StartMigration s) {
    String mid = env.migrationId();
    Job known = jobs.get(mid);
    if (known != null) {
      LOG.info("{} start_migration repeated; the migration already runs here", ctx);
      return Future.succeededFuture();
    }
    if (abortedBeforeStart.contains(mid)) {
      LOG.warn("{} start_migration arrived after its abort; not started", ctx);
      return Future.succeededFuture();
    }
    // Registered before anything asynchronous, so an abort arriving meanwhile waits for it.
    Job job = new Job(env, s.instanceUuid());
    jobs.put(mid, job);
    return blocking(() -> journal.finished(mid))
        .transform(
            ar -> {
              if (ar.succeeded() && !ar.result()) return begin(job, ctx, s);
              jobs.remove(mid);
              job.launched.tryComplete();
              if (ar.failed()) return Future.<Void>failedFuture(ar.cause());
              LOG.info(
                  "{} start_migration repeated; the migration ended or was aborted here already",
                  ctx);
              return Future.<Void>succeededFuture();
            });
  }

  /**
   * Before an abort acts: one crossing its start waits until the migrate call returned (else the
   * abort finds no job and the migration starts after it); one with no start here leaves a
   * tombstone, so a start that trails it is never a migrate call. Never fails for a known job.
   */
  Future<Void> beforeAbort(String migrationId) {
    Job job = jobs.get(migrationId);
    if (job != null) return job.launched.future();
    abortedBeforeStart.add(migrationId);
    return blocking(
        () -> {
          journal.abortedBeforeStart(migrationId);
          return null;
        });
  }

  private Future<Void> begin(Job job, Ctx ctx, StartMigration s) {
    Envelope env = job.start;
    String refused = settings.peers().refuse(s.destHost());
    if (refused != null) {
      // Checked before any libvirt URI is built from the name: the guest stays where it is.
      LOG.error("{} live migration refused: {}", ctx, refused);
      job.launched.tryComplete();
      end(job, new MigrationFailed(s.instanceUuid(), "PEER_REFUSED", refused, false, 0));
      return Future.succeededFuture();
    }
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
              journal.started(job.migrationId, env);
              return hv.migrate(s.instanceUuid(), s.destHost(), flags);
            })
        .transform(
            ar -> {
              job.launched.tryComplete();
              if (ar.succeeded()) {
                track(job, ar.result());
                return Future.<Void>succeededFuture();
              }
              Throwable e = ar.cause();
              String reason =
                  e instanceof HypervisorException he ? he.reason() : "HYPERVISOR_ERROR";
              LOG.error("{} live migration could not start: {} ({})", ctx, e.getMessage(), reason);
              end(job, new MigrationFailed(s.instanceUuid(), reason, e.getMessage(), false, 0));
              return Future.<Void>succeededFuture();
            });
  }

  private void track(Job job, CompletableFuture<MigrationResult> outcome) {
    job.timer = vertx.setPeriodic(1, settings.progressIntervalMs(), t -> progress(job));
    outcome.whenComplete((res, err) -> vertx.runOnContext(v -> finished(job, res, err)));
  }

  /**
   * After a restart, before any command is consumed: the journal's migrations, re-attached to the
   * hypervisor's jobs or reported from where the instance is now.
   */
  Future<Void> reattach(long epoch) {
    this.epoch = epoch;
    return blocking(
            () -> {
              List<Journal.Entry> entries = journal.entries();
              journal.prune();
              Map<String, String> destinations = new HashMap<>();
              for (Journal.Entry e : entries) {
                if (e.outcome() != null) continue;
                StartMigration s = e.start().body(StartMigration.class);
                destinations.put(s.instanceUuid(), s.destHost());
              }
              Map<String, CompletableFuture<MigrationResult>> running =
                  destinations.isEmpty() ? Map.of() : hv.reattach(destinations);
              Set<String> here =
                  Set.copyOf(
                      hv.listDomains().stream()
                          .filter(d -> "running".equals(d.state()) || "paused".equals(d.state()))
                          .map(Domain::uuid)
                          .toList());
              return new Reattached(entries, running, here);
            })
        .map(
            r -> {
              for (Journal.Entry e : r.entries()) resume(e, r);
              return null;
            });
  }

  private record Reattached(
      List<Journal.Entry> entries,
      Map<String, CompletableFuture<MigrationResult>> running,
      Set<String> here) {}

  private void resume(Journal.Entry e, Reattached r) {
    StartMigration s = e.start().body(StartMigration.class);
    Job job = new Job(e.start(), s.instanceUuid());
    job.launched.tryComplete();
    jobs.put(job.migrationId, job);
    if (e.outcome() != null) {
      LOG.info("{} sending the outcome again (not confirmed before the restart)", job.ctx);
      job.finished = true;
      deliver(job, e.outcome());
      return;
    }
    CompletableFuture<MigrationResult> running = r.running().get(s.instanceUuid());
    if (running != null) {
      LOG.info("{} re-attached to the live migration running on {}", job.ctx, settings.host());
      track(job, running);
    } else if (r.here().contains(s.instanceUuid())) {
      LOG.info("{} the migration ended while the agent was down; the instance is here", job.ctx);
      finished(
          job,
          null,
          new HypervisorException(
              "HYPERVISOR_ERROR",
              "the migration ended while the agent was down; the instance still runs on "
                  + settings.host()));
    } else {
      LOG.info("{} the migration completed while the agent was down", job.ctx);
      finished(job, new MigrationResult(-1, 0, 0, 0, 0, 0, 0, "precopy"), null);
    }
  }

  private void progress(Job job) {
    blocking(() -> hv.jobStats(job.instanceUuid))
        .onSuccess(
            stats -> {
              if (job.finished || stats.isEmpty()) return;
              JobStats st = stats.get();
              Envelope e =
                  job.start
                      .reply(
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
                              epoch),
                          bus.sender())
                      .withSeq(++job.seq);
              // Progress needs no resend: the next sample replaces a lost one.
              bus.send(replyQueue(job), e)
                  .onFailure(
                      x -> LOG.debug("{} progress not published: {}", job.ctx, x.toString()));
            });
  }

  private String replyQueue(Job job) {
    return job.start.replyTo() != null ? job.start.replyTo() : bus.topology().conductorQueue();
  }

  private void finished(Job job, MigrationResult res, Throwable err) {
    job.finished = true;
    vertx.cancelTimer(job.timer);
    if (stopped) {
      // The journal entry stays: the next agent on this host reports this outcome.
      LOG.info("{} migration ended after this agent stopped", job.ctx);
      return;
    }
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
      Throwable cause = err instanceof CompletionException ? err.getCause() : err;
      String reason = cause instanceof HypervisorException he ? he.reason() : "HYPERVISOR_ERROR";
      boolean cancelled = "CANCELLED".equals(reason);
      result = cancelled ? "cancelled" : "failed";
      LOG.info(
          "{} live migration {}: {} ({}); the instance keeps running here",
          job.ctx,
          result,
          cause.getMessage(),
          reason);
      outcome =
          new MigrationFailed(
              job.instanceUuid, reason, String.valueOf(cause.getMessage()), cancelled, 0);
    }
    Counter.builder("livemigrate_agent_migrations")
        .description("Outbound migrations this agent ran, by result")
        .tags("host", settings.host(), "result", result)
        .register(registry)
        .increment();
    end(job, outcome);
  }

  /** Journals the outcome, then sends it until the broker confirms it. */
  private void end(Job job, Message outcome) {
    job.finished = true;
    Envelope env = job.start.reply(outcome, bus.sender()).withSeq(++job.seq);
    blocking(
            () -> {
              journal.ended(job.migrationId, job.start, env);
              return null;
            })
        .onComplete(ar -> deliver(job, env));
    reportChanged.run();
  }

  /** Until the broker confirms it (same id each time); only then is the journal entry done. */
  private void deliver(Job job, Envelope outcome) {
    bus.sendUntilConfirmed(replyQueue(job), outcome)
        .onSuccess(
            v ->
                blocking(
                        () -> {
                          journal.confirmed(job.migrationId);
                          return null;
                        })
                    .onComplete(ar -> jobs.remove(job.migrationId)))
        .onFailure(
            e ->
                LOG.info(
                    "{} outcome not confirmed before the bus closed; the journal sends it again at"
                        + " the next start",
                    job.ctx));
  }
}
