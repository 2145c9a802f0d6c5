package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.AgentCommands.ForceComplete;
import io.livemigrate.common.contract.AgentCommands.TuneMigration;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.conductor.HostRow;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.Step;
import io.livemigrate.conductor.policy.Decision;
import io.livemigrate.conductor.policy.MigrationPolicy;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * While the transfer runs: the convergence policy on every progress sample (downtime ramp, stall
 * detection, escalation), the completion timeout's action (abort, or force-complete by post-copy or
 * pause) and the operator's force-complete.
 */
final class MonitorTask extends TransferStep {
  private static final Logger LOG = LoggerFactory.getLogger(MonitorTask.class);

  @Override
  Step step() {
    return Step.MONITOR;
  }

  /** Entered from the first progress sample (see {@link TransferStep}); nothing to send. */
  @Override
  void execute(StepContext c, MigrationRow m) {
    await(m, Step.MONITOR, m.startId, 0);
  }

  @Override
  void onOther(StepContext c, MigrationRow m, Envelope env, Message body) {
    if (body instanceof StepResult r && !r.ok() && "force_complete".equals(r.step())) {
      m.act("force_complete failed: " + r.message(), c.now());
    }
  }

  /** Runs the policy over the sample just applied and carries out its decisions. */
  void evaluatePolicy(StepContext c, MigrationRow m) {
    MigrationPolicy.Result verdict = PolicyRunner.evaluate(c.settings(), m, c.now());
    for (Decision d : verdict.decisions()) apply(c, m, d);
  }

  private void apply(StepContext c, MigrationRow m, Decision d) {
    c.fx().afterCommit(() -> LOG.info("{} policy: {}", ctx(m), d));
    String cause = d.reason().toLowerCase();
    switch (d.action()) {
      case "set_downtime" -> {
        m.act("max downtime " + d.downtimeMs() + " ms (" + d.reason() + ")", c.now());
        c.messages()
            .toCompute(c, m.sourceCompute, m, new TuneMigration(m.instanceUuid, d.downtimeMs(), 0));
      }
      case "wait_auto_converge" -> {
        m.act("waiting for auto-converge's throttle (" + d.detail() + ")", c.now());
        c.messages().notify(c, "migration.decision", m, decision(m, "wait_auto_converge", cause));
      }
      case "force_complete" -> {
        if ("COMPLETION_TIMEOUT".equals(d.reason())) {
          timeoutAction(c, m);
        } else {
          c.messages().notify(c, "migration.decision", m, decision(m, "force_complete", cause));
          forceComplete(c, m, d.mode(), "policy: " + d.detail());
        }
      }
      case "abort" -> {
        if ("COMPLETION_TIMEOUT".equals(d.reason())) {
          timeoutAction(c, m);
        } else {
          c.messages().notify(c, "migration.decision", m, decision(m, "abort", cause));
          c.saga()
              .abortTask()
              .execute(c, m, Reason.valueOf(d.reason()), (c.now() - m.runningMs) / 1000);
        }
      }
      default -> {}
    }
  }

  /** The completion deadline passed. */
  void onCompletionDeadline(StepContext c, MigrationRow m) {
    // The policy may have taken its final action already (it also watches the timeout).
    if (!m.finalAction) timeoutAction(c, m);
  }

  private void timeoutAction(StepContext c, MigrationRow m) {
    if (m.status != MigrationStatus.RUNNING || m.abortReason != null) return;
    String action = c.settings().timeoutAction();
    if ("force_complete".equals(action) && m.sourceLost) {
      // A lost source cannot force the transfer to finish, and nothing would bound the wait:
      // abort, which the rollback deadline ends either way.
      m.act("source agent lost: abort instead of force_complete", c.now());
      action = "abort";
    }
    PolicyRunner.markDecided(m);
    String taken = action;
    c.fx().afterCommit(() -> c.metrics().timeoutAction(taken));
    c.messages().notify(c, "migration.decision", m, decision(m, action, "completion_timeout"));
    if ("force_complete".equals(action)) {
      m.completionDeadlineMs = 0;
      c.fx()
          .afterCommit(
              () ->
                  LOG.info(
                      "{} live migration not completed after {} sec; timeout action {}",
                      ctx(m),
                      m.completionTimeoutS,
                      taken));
      forceComplete(c, m, "completion timeout");
      return;
    }
    c.saga().abortTask().execute(c, m, Reason.COMPLETION_TIMEOUT, m.completionTimeoutS);
  }

  /** Makes the transfer finish: post-copy where the source permits it, else pause. */
  void forceComplete(StepContext c, MigrationRow m, String who) {
    boolean postCopy =
        c.tx().inventory().host(m.sourceCompute).map(HostRow::permitPostCopy).orElse(false);
    forceComplete(c, m, postCopy ? "postcopy" : "pause", who);
  }

  private void forceComplete(StepContext c, MigrationRow m, String mode, String who) {
    m.act("force_complete by " + mode + " (" + who + ")", c.now());
    if ("operator".equals(who)) {
      // A timeout's decision was announced with its cause; the operator's is here.
      c.messages().notify(c, "migration.decision", m, decision(m, "force_complete", who));
    }
    JsonObject modeJson = new JsonObject().put("mode", mode);
    c.messages().notify(c, "instance.live_migration_force_complete.start", m, modeJson);
    c.messages().toCompute(c, m.sourceCompute, m, new ForceComplete(m.instanceUuid, mode, who));
    // ".end": the source has the command (it is in the outbox); the transfer's own end follows.
    c.messages().notify(c, "instance.live_migration_force_complete.end", m, modeJson);
  }

  /**
   * Set when the source agent came back (liveness): since then it has reported nothing of this
   * migration, so it lost track of it (no journal). Abort: that cancels a job it may still run
   * there, and its answer says where the instance is.
   */
  @Override
  void onDeadline(StepContext c, MigrationRow m) {
    m.act("source agent back without the migration", c.now());
    c.fx()
        .afterCommit(
            () ->
                LOG.info(
                    "{} source compute {} came back without reporting on the migration; aborting"
                        + " it",
                    ctx(m),
                    m.sourceCompute));
    c.saga().abortTask().execute(c, m, Reason.SOURCE_AGENT_LOST, 0);
  }
}
