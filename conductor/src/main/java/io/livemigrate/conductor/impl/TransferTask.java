package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.AgentCommands.AbortMigration;
import io.livemigrate.common.contract.AgentCommands.ForceComplete;
import io.livemigrate.common.contract.AgentCommands.StartMigration;
import io.livemigrate.common.contract.AgentCommands.TuneMigration;
import io.livemigrate.common.contract.AgentEvents.MigrationCompleted;
import io.livemigrate.common.contract.AgentEvents.MigrationFailed;
import io.livemigrate.common.contract.AgentEvents.MigrationProgress;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.policy.Decision;
import io.livemigrate.conductor.policy.MigrationPolicy;
import io.livemigrate.conductor.store.HostRow;
import io.livemigrate.conductor.store.MigrationRow;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transfer on the source: starts it with Nova's flags, applies its progress, enforces the
 * completion timeout (abort, or force-complete by post-copy or pause) and carries operator aborts
 * and force-completes to the source. Steps: {@code start} until the first progress, {@code monitor}
 * while it runs, {@code abort} while an abort is awaited.
 */
final class TransferTask extends MigrationTask {
  private static final Logger LOG = LoggerFactory.getLogger(TransferTask.class);

  TransferTask(Saga saga) {
    super(saga);
  }

  @Override
  List<String> steps() {
    return List.of(START, MONITOR, ABORT);
  }

  @Override
  Future<Void> execute(MigrationRow m) {
    ConductorSettings settings = saga.settings();
    return saga.db(s -> s.host(m.sourceCompute))
        .compose(
            src -> {
              long now = now();
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
              m.step = START;
              m.stepDeadlineMs = now + settings.startTimeoutMs();
              m.policy = PolicyRunner.initial(settings, dataGb, postCopy, autoConverge);
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
              return saga.save(m).compose(v -> saga.agents().toCompute(m.sourceCompute, m, cmd));
            });
  }

  @Override
  Future<Void> onMessage(MigrationRow m, Envelope env, Message body) {
    if (body instanceof MigrationProgress p) return onProgress(m, env, p);
    if (body instanceof MigrationCompleted c) return onCompleted(m, c);
    if (body instanceof MigrationFailed f) return onFailed(m, f);
    if (body instanceof StepResult r
        && "abort_migration".equals(r.step())
        && ABORT.equals(m.step)) {
      return onAbortAnswer(m, r);
    }
    if (body instanceof StepResult r && !r.ok()) {
      LOG.warn("{} source could not {}: {} ({})", ctx(m), r.step(), r.message(), r.reason());
      if ("force_complete".equals(r.step())) {
        m.actions.add(stamp("force_complete failed: " + r.message()));
        return saga.save(m);
      }
    }
    return Future.succeededFuture();
  }

  private Future<Void> onProgress(MigrationRow m, Envelope env, MigrationProgress p) {
    long seq = env.seq() == null ? 0 : env.seq();
    if (seq <= m.lastSeq) {
      saga.metrics().progress(false);
      return Future.succeededFuture();
    }
    saga.metrics().progress(true);
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
    m.updatedMs = now();
    if (START.equals(m.step)) {
      m.step = MONITOR;
      m.stepDeadlineMs = 0;
    } else if (MONITOR.equals(m.step) && m.stepDeadlineMs > 0) {
      // The source agent came back and follows the job again (re-attached): nothing to probe.
      m.stepDeadlineMs = 0;
    }
    if ("postcopy".equals(p.mode()) && m.status == MigrationStatus.RUNNING) {
      m.moveTo(MigrationStatus.POSTCOPY, m.updatedMs);
      m.actions.add(stamp("switched to post-copy"));
    }
    MigrationPolicy.Result verdict = PolicyRunner.evaluate(saga.settings(), m, m.updatedMs);
    saga.metrics().progress(m);
    long net = m.bandwidth - m.dirtyRate;
    saga.notifier()
        .notify(
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
                .put("bandwidth_bps", m.bandwidth)
                .put("expected_downtime_ms", m.expectedDowntimeMs)
                // null while the guest dirties memory faster than the link copies it
                .put(
                    "eta_seconds",
                    net > 0 ? (m.memoryRemaining + m.diskRemaining + net - 1) / net : null)
                .put("iteration", m.iteration)
                .put("mode", m.mode));
    Future<Void> acted = Future.succeededFuture();
    for (Decision d : verdict.decisions()) {
      acted = acted.compose(v -> apply(m, d));
    }
    return acted.compose(v -> saga.save(m));
  }

  /** Carries out one of the policy's decisions. */
  private Future<Void> apply(MigrationRow m, Decision d) {
    LOG.info("{} policy: {}", ctx(m), d);
    String cause = d.reason().toLowerCase();
    switch (d.action()) {
      case "set_downtime" -> {
        m.actions.add(stamp("max downtime " + d.downtimeMs() + " ms (" + d.reason() + ")"));
        return saga.agents()
            .toCompute(m.sourceCompute, m, new TuneMigration(m.instanceUuid, d.downtimeMs(), 0));
      }
      case "wait_auto_converge" -> {
        m.actions.add(stamp("waiting for auto-converge's throttle (" + d.detail() + ")"));
        saga.notifier().notify("migration.decision", m, decision(m, "wait_auto_converge", cause));
        return Future.succeededFuture();
      }
      case "force_complete" -> {
        if ("COMPLETION_TIMEOUT".equals(d.reason())) return timeoutAction(m);
        saga.notifier().notify("migration.decision", m, decision(m, "force_complete", cause));
        return forceComplete(m, d.mode(), "policy: " + d.detail());
      }
      case "abort" -> {
        if ("COMPLETION_TIMEOUT".equals(d.reason())) return timeoutAction(m);
        saga.notifier().notify("migration.decision", m, decision(m, "abort", cause));
        return abort(m, Reason.valueOf(d.reason()), (now() - m.runningMs) / 1000);
      }
      default -> {
        return Future.succeededFuture();
      }
    }
  }

  private Future<Void> onCompleted(MigrationRow m, MigrationCompleted c) {
    m.downtimeMs = c.downtimeMs();
    m.memoryTotal = c.memoryTotalBytes();
    m.memoryProcessed = c.memoryTransferredBytes();
    m.memoryRemaining = 0;
    m.diskTotal = c.diskTotalBytes();
    m.diskProcessed = c.diskTransferredBytes();
    m.diskRemaining = 0;
    m.iteration = Math.max(m.iteration, c.iterations());
    m.mode = c.mode();
    m.completionDeadlineMs = 0;
    LOG.info(
        "{} transfer completed: downtime {} ms, {} iterations, {} bytes sent",
        ctx(m),
        c.downtimeMs(),
        c.iterations(),
        c.memoryTransferredBytes() + c.diskTransferredBytes());
    // An abort that came too late changes nothing: the guest runs on the destination now.
    return saga.next(POST, m);
  }

  private Future<Void> onFailed(MigrationRow m, MigrationFailed f) {
    if (f.cancelled() && m.abortReason != null) {
      saga.notifier().notify("instance.live_migration_abort.end", m, null);
      Reason r = Reason.valueOf(m.abortReason);
      MigrationStatus st =
          r == Reason.USER_ABORT ? MigrationStatus.CANCELLED : MigrationStatus.FAILED;
      String msg =
          r == Reason.COMPLETION_TIMEOUT
              ? "live migration not completed after " + m.completionTimeoutS + " sec; aborted"
              : "aborted: " + r;
      return saga.finish(m, st, r, msg);
    }
    return saga.finish(m, MigrationStatus.FAILED, Reason.fromAgent(f.reason()), f.message());
  }

  /**
   * The source's answer to an abort. Cancelled: the job's own end (MigrationFailed) follows, except
   * for a job no agent follows any more (the probe of {@link #onDeadline}), whose end nobody
   * reports. NO_JOB: the instance is on the source and no job runs; NOT_FOUND: the instance has
   * left the source, so the transfer completed (too late to abort).
   */
  private Future<Void> onAbortAnswer(MigrationRow m, StepResult r) {
    String src = m.sourceCompute;
    if (r.ok()) {
      if (!Reason.SOURCE_AGENT_LOST.name().equals(m.abortReason)) return Future.succeededFuture();
      return endAborted(
          m, "its migration job there was cancelled and the instance is still on " + src + ".");
    }
    if ("NO_JOB".equals(r.reason())) {
      return endAborted(
          m, "no migration job runs there any more and the instance is still on " + src + ".");
    }
    if ("NOT_FOUND".equals(r.reason())) {
      LOG.warn(
          "{} instance not on {} any more: the transfer completed; post-migration at {}",
          ctx(m),
          src,
          m.destCompute);
      m.actions.add(
          stamp("instance not on " + src + " any more: transfer completed, abort too late"));
      m.completionDeadlineMs = 0;
      return saga.next(POST, m);
    }
    LOG.warn("{} source could not abort: {} ({})", ctx(m), r.message(), r.reason());
    return Future.succeededFuture();
  }

  /** Ends an aborted migration whose instance the source still has. */
  private Future<Void> endAborted(MigrationRow m, String where) {
    saga.notifier().notify("instance.live_migration_abort.end", m, null);
    Reason r = Reason.valueOf(m.abortReason);
    MigrationStatus st =
        r == Reason.USER_ABORT ? MigrationStatus.CANCELLED : MigrationStatus.FAILED;
    String why =
        switch (r) {
          case COMPLETION_TIMEOUT ->
              "live migration not completed after " + m.completionTimeoutS + " sec; aborted";
          case SOURCE_AGENT_LOST ->
              "The source compute " + m.sourceCompute + " came back without the migration";
          default -> "aborted: " + r;
        };
    return saga.finish(m, st, r, why + "; " + where);
  }

  /** The completion deadline passed: the configured timeout action. */
  Future<Void> onCompletionDeadline(MigrationRow m) {
    // The policy may have taken its final action already (it also watches the timeout).
    if (PolicyRunner.decided(m)) return Future.succeededFuture();
    return timeoutAction(m);
  }

  private Future<Void> timeoutAction(MigrationRow m) {
    if (m.status != MigrationStatus.RUNNING || m.abortReason != null) {
      return Future.succeededFuture();
    }
    String action = saga.settings().timeoutAction();
    if ("force_complete".equals(action) && Reason.SOURCE_AGENT_LOST.name().equals(m.reason)) {
      // A lost source cannot force the transfer to finish, and nothing would bound the wait:
      // abort, which the rollback deadline ends either way.
      m.actions.add(stamp("source agent lost: abort instead of force_complete"));
      action = "abort";
    }
    PolicyRunner.markDecided(m);
    saga.metrics().timeoutAction(action);
    saga.notifier().notify("migration.decision", m, decision(m, action, "completion_timeout"));
    LOG.warn(
        "{} live migration not completed after {} sec; timeout action {}",
        ctx(m),
        m.completionTimeoutS,
        action);
    if ("force_complete".equals(action)) {
      m.completionDeadlineMs = 0;
      return forceComplete(m, "completion timeout");
    }
    return abort(m, Reason.COMPLETION_TIMEOUT, m.completionTimeoutS);
  }

  /** The payload of a {@code migration.decision}: what the conductor did and why. */
  private static JsonObject decision(MigrationRow m, String action, String cause) {
    return new JsonObject()
        .put("decision", action)
        .put("cause", cause)
        .put("completion_timeout_s", m.completionTimeoutS);
  }

  /** Asks the source to cancel; the VM stays there. Awaited under the rollback deadline. */
  Future<Void> abort(MigrationRow m, Reason why, long afterSeconds) {
    m.abortReason = why.name();
    m.actions.add(stamp("abort (" + why + ")"));
    if (why == Reason.USER_ABORT) {
      saga.notifier().notify("migration.decision", m, decision(m, "abort", "operator"));
    }
    m.step = ABORT;
    m.stepDeadlineMs = now() + saga.settings().rollbackTimeoutMs();
    saga.notifier().notify("instance.live_migration_abort.start", m, null);
    return saga.save(m)
        .compose(
            v ->
                saga.agents()
                    .toCompute(
                        m.sourceCompute,
                        m,
                        new AbortMigration(m.instanceUuid, why.name(), afterSeconds)));
  }

  /** Makes the transfer finish: post-copy where the source permits it, else pause. */
  Future<Void> forceComplete(MigrationRow m, String who) {
    return saga.db(s -> s.host(m.sourceCompute))
        .compose(
            src ->
                forceComplete(
                    m, src.map(HostRow::permitPostCopy).orElse(false) ? "postcopy" : "pause", who));
  }

  /** Makes the transfer finish by {@code mode} ({@code postcopy} or {@code pause}). */
  Future<Void> forceComplete(MigrationRow m, String mode, String who) {
    return Future.succeededFuture()
        .compose(
            unused -> {
              m.actions.add(stamp("force_complete by " + mode + " (" + who + ")"));
              if ("operator".equals(who)) {
                // A timeout's decision was announced with its cause; the operator's is here.
                saga.notifier().notify("migration.decision", m, decision(m, "force_complete", who));
              }
              saga.notifier()
                  .notify(
                      "instance.live_migration_force_complete.start",
                      m,
                      new JsonObject().put("mode", mode));
              return saga.save(m)
                  .compose(
                      v ->
                          saga.agents()
                              .toCompute(
                                  m.sourceCompute, m, new ForceComplete(m.instanceUuid, mode, who)))
                  // ".end": the source has the command; the transfer's own end follows.
                  .onSuccess(
                      v ->
                          saga.notifier()
                              .notify(
                                  "instance.live_migration_force_complete.end",
                                  m,
                                  new JsonObject().put("mode", mode)));
            });
  }

  @Override
  Future<Void> onDeadline(MigrationRow m) {
    if (ABORT.equals(m.step)) {
      return saga.finish(
          m,
          MigrationStatus.ERROR,
          Reason.SOURCE_AGENT_LOST,
          "The source compute "
              + m.sourceCompute
              + " did not confirm the abort within "
              + saga.settings().rollbackTimeoutMs() / 1000
              + " s; where the instance runs is unknown.");
    }
    if (MONITOR.equals(m.step)) {
      // Set when the source agent came back (Conductor.checkSourceLiveness): since then it has
      // reported nothing of this migration, so it lost track of it (no journal). Abort: that
      // cancels a job it may still run there, and its answer says where the instance is.
      LOG.warn(
          "{} source compute {} came back without reporting on the migration; aborting it",
          ctx(m),
          m.sourceCompute);
      m.actions.add(stamp("source agent back without the migration"));
      return abort(m, Reason.SOURCE_AGENT_LOST, 0);
    }
    // START: the source may still start late; ask it to abort so the VM stays where it is.
    saga.agents()
        .toCompute(
            m.sourceCompute,
            m,
            new AbortMigration(m.instanceUuid, Reason.SOURCE_AGENT_LOST.name(), 0));
    return saga.finish(
        m,
        MigrationStatus.FAILED,
        Reason.SOURCE_AGENT_LOST,
        "The source compute "
            + m.sourceCompute
            + " did not start the migration within "
            + saga.settings().startTimeoutMs() / 1000
            + " s.");
  }
}
