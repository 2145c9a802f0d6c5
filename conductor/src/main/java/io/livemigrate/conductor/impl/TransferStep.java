package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.AgentEvents.MigrationCompleted;
import io.livemigrate.common.contract.AgentEvents.MigrationFailed;
import io.livemigrate.common.contract.AgentEvents.MigrationProgress;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.MigrationViews;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.Step;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the steps of the transfer on the source (start, monitor, abort) share: the transfer's own
 * events, replies to start_migration. Progress is applied in order (per agent epoch, then seq);
 * completion hands over to post-migration; a failure ends the migration with the instance on the
 * source.
 */
abstract class TransferStep extends MigrationTask {
  private static final Logger LOG = LoggerFactory.getLogger(TransferStep.class);

  @Override
  void onMessage(StepContext c, MigrationRow m, Envelope env, Message body) {
    if (body instanceof MigrationProgress p) onProgress(c, m, env, p);
    else if (body instanceof MigrationCompleted done) onCompleted(c, m, done);
    else if (body instanceof MigrationFailed f) onFailed(c, m, f);
    else onOther(c, m, env, body);
  }

  /** A reply to another command of this step. */
  void onOther(StepContext c, MigrationRow m, Envelope env, Message body) {}

  /**
   * Applies a progress sample if it is newer than the last one: a higher agent epoch (the agent
   * restarted), or a higher seq within the same epoch.
   */
  private void onProgress(StepContext c, MigrationRow m, Envelope env, MigrationProgress p) {
    long seq = env.seq() == null ? 0 : env.seq();
    long epoch = p.epoch();
    boolean newer = epoch > m.progressEpoch || (epoch == m.progressEpoch && seq > m.lastSeq);
    c.metrics().progress(newer);
    if (!newer) return;
    Step before = m.step;
    MigrationStatus statusBefore = m.status;
    m.progressEpoch = epoch;
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
    m.updatedMs = c.now();
    m.jobMissingSinceMs = 0;
    if (m.step == Step.START) {
      await(m, Step.MONITOR, m.startId, 0);
      if (m.completionTimeoutS > 0) {
        m.completionDeadlineMs = m.updatedMs + m.completionTimeoutS * 1000;
      }
      m.act(
          "transfer running on "
              + m.sourceCompute
              + "; completion timeout "
              + m.completionTimeoutS
              + " s",
          m.updatedMs);
    } else if (m.step == Step.MONITOR && m.stepDeadlineMs > 0) {
      // The source agent came back and follows the job again (re-attached): nothing to probe.
      m.stepDeadlineMs = 0;
    }
    if ("postcopy".equals(p.mode()) && m.status == MigrationStatus.RUNNING) {
      m.moveTo(MigrationStatus.POSTCOPY, m.updatedMs);
      m.act("switched to post-copy", c.now());
    }
    int outboxBefore = c.fx().outbox.size();
    if (m.step == Step.MONITOR || m.step == Step.ABORT) {
      c.saga().monitor().evaluatePolicy(c, m);
    }
    MigrationRow snapshot = m.copy();
    c.fx().afterCommit(() -> c.metrics().progress(snapshot));
    c.messages().notifyBestEffort(c, "migration.progress", m, MigrationViews.progress(m));
    // A sample alone need not survive a crash (the next replaces it); a change of step, status or
    // a decision that sent a command must.
    c.fx().progressOnly =
        before == m.step && statusBefore == m.status && c.fx().outbox.size() == outboxBefore;
  }

  /** The transfer's own figures, kept in the record. */
  static void record(MigrationRow m, MigrationCompleted done) {
    m.downtimeMs = done.downtimeMs();
    m.memoryTotal = done.memoryTotalBytes();
    m.memoryProcessed = done.memoryTransferredBytes();
    m.memoryRemaining = 0;
    m.diskTotal = done.diskTotalBytes();
    m.diskProcessed = done.diskTransferredBytes();
    m.diskRemaining = 0;
    m.iteration = Math.max(m.iteration, done.iterations());
    m.mode = done.mode();
  }

  private void onCompleted(StepContext c, MigrationRow m, MigrationCompleted done) {
    record(m, done);
    m.completionDeadlineMs = 0;
    c.fx()
        .afterCommit(
            () ->
                LOG.info(
                    "{} transfer completed: downtime {} ms, {} iterations, {} bytes sent",
                    ctx(m),
                    done.downtimeMs(),
                    done.iterations(),
                    done.memoryTransferredBytes() + done.diskTransferredBytes()));
    // An abort that came too late changes nothing: the guest runs on the destination now.
    c.saga().next(c, m, Step.POST);
  }

  private void onFailed(StepContext c, MigrationRow m, MigrationFailed f) {
    if (f.cancelled() && m.abortReason != null) {
      c.messages().notify(c, "instance.live_migration_abort.end", m, null);
      Reason r = Reason.valueOf(m.abortReason);
      c.saga().finish(c, m, aborted(r), r, abortMessage(m, r));
      return;
    }
    c.saga().finish(c, m, MigrationStatus.FAILED, Reason.fromAgent(f.reason()), f.message());
  }

  /** The status an abort for this reason ends in: the operator's is a cancellation. */
  static MigrationStatus aborted(Reason r) {
    return r == Reason.USER_ABORT ? MigrationStatus.CANCELLED : MigrationStatus.FAILED;
  }

  static String abortMessage(MigrationRow m, Reason r) {
    return switch (r) {
      case COMPLETION_TIMEOUT ->
          "live migration not completed after " + m.completionTimeoutS + " sec; aborted";
      case SOURCE_AGENT_LOST ->
          "The source compute " + m.sourceCompute + " came back without the migration";
      default -> "aborted: " + r;
    };
  }

  /** The payload of a {@code migration.decision}: what the conductor did and why. */
  static JsonObject decision(MigrationRow m, String action, String cause) {
    return new JsonObject()
        .put("decision", action)
        .put("cause", cause)
        .put("completion_timeout_s", m.completionTimeoutS);
  }
}
