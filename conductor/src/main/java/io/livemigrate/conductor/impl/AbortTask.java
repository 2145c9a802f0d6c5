package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.AgentCommands.AbortMigration;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.Step;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks the source to cancel the transfer (the VM stays there), under the rollback deadline. The
 * source's answer, or the transfer's own end, decides: cancelled, no job (the instance is on the
 * source), or not found (the instance left the source: the transfer completed, too late to abort).
 */
final class AbortTask extends TransferStep {
  private static final Logger LOG = LoggerFactory.getLogger(AbortTask.class);

  @Override
  Step step() {
    return Step.ABORT;
  }

  @Override
  void execute(StepContext c, MigrationRow m) {
    execute(c, m, Reason.USER_ABORT, 0);
  }

  void execute(StepContext c, MigrationRow m, Reason why, long afterSeconds) {
    m.abortReason = why.name();
    m.act("abort (" + why + ")", c.now());
    if (why == Reason.USER_ABORT) {
      c.messages().notify(c, "migration.decision", m, decision(m, "abort", "operator"));
    }
    c.messages().notify(c, "instance.live_migration_abort.start", m, null);
    String id =
        c.messages()
            .toCompute(
                c,
                m.sourceCompute,
                m,
                new AbortMigration(m.instanceUuid, why.name(), afterSeconds));
    await(m, Step.ABORT, id, c.now() + c.settings().rollbackTimeoutMs());
  }

  /** The source's answer to the abort (correlated to it by the saga). */
  @Override
  void onOther(StepContext c, MigrationRow m, Envelope env, Message body) {
    if (!(body instanceof StepResult r) || !"abort_migration".equals(r.step())) return;
    String src = m.sourceCompute;
    if (r.ok()) {
      // The job's own end (MigrationFailed, cancelled) follows, except for a job no agent follows
      // any more (the probe after the source came back), whose end nobody reports.
      if (!Reason.SOURCE_AGENT_LOST.name().equals(m.abortReason)) return;
      endAborted(
          c, m, "its migration job there was cancelled and the instance is still on " + src + ".");
    } else if ("NO_JOB".equals(r.reason())) {
      endAborted(
          c, m, "no migration job runs there any more and the instance is still on " + src + ".");
    } else if ("NOT_FOUND".equals(r.reason())) {
      m.act("instance not on " + src + " any more: transfer completed, abort too late", c.now());
      c.fx()
          .afterCommit(
              () ->
                  LOG.info(
                      "{} instance not on {} any more: the transfer completed; post-migration at"
                          + " {}",
                      ctx(m),
                      src,
                      m.destCompute));
      m.completionDeadlineMs = 0;
      c.saga().next(c, m, Step.POST);
    } else {
      m.act("source could not abort: " + r.message() + " (" + r.reason() + ")", c.now());
    }
  }

  private void endAborted(StepContext c, MigrationRow m, String where) {
    c.messages().notify(c, "instance.live_migration_abort.end", m, null);
    Reason r = Reason.valueOf(m.abortReason);
    c.saga().finish(c, m, aborted(r), r, abortMessage(m, r) + "; " + where);
  }

  @Override
  void onDeadline(StepContext c, MigrationRow m) {
    c.saga()
        .finish(
            c,
            m,
            MigrationStatus.ERROR,
            Reason.SOURCE_AGENT_LOST,
            "The source compute "
                + m.sourceCompute
                + " did not confirm the abort within "
                + c.settings().rollbackTimeoutMs() / 1000
                + " s; where the instance runs is unknown.");
  }
}
