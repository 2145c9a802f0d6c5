package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.AgentCommands.CleanupSource;
import io.livemigrate.common.contract.AgentCommands.PostAtDestination;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.Step;

/**
 * After the transfer: the destination takes the instance over and the source cleans up. Past the
 * point of no return, so failure here is {@code error} (an operator must look), never a rollback.
 */
final class PostMigrationTask extends MigrationTask {
  @Override
  Step step() {
    return Step.POST;
  }

  @Override
  void execute(StepContext c, MigrationRow m) {
    m.moveTo(MigrationStatus.POST_MIGRATING, c.now());
    // Nova's order: post at the source starts, the destination's part starts and ends, and the
    // source's ".end" comes with the final status (Saga.finish).
    c.messages().notify(c, "instance.live_migration_post.start", m, null);
    c.messages().notify(c, "instance.live_migration_post_dest.start", m, null);
    String id =
        c.messages()
            .toCompute(c, m.destCompute, m, new PostAtDestination(m.instanceUuid, m.sourceCompute));
    c.messages().toCompute(c, m.sourceCompute, m, new CleanupSource(m.instanceUuid, m.destCompute));
    await(m, Step.POST, id, c.now() + c.settings().postTimeoutMs());
  }

  @Override
  void onMessage(StepContext c, MigrationRow m, Envelope env, Message body) {
    if (!(body instanceof StepResult r) || !"post_at_destination".equals(r.step())) return;
    if (r.ok()) {
      c.messages().notify(c, "instance.live_migration_post_dest.end", m, null);
      c.saga().finish(c, m, MigrationStatus.COMPLETED, Reason.COMPLETED, null);
    } else {
      c.saga().finish(c, m, MigrationStatus.ERROR, Reason.POST_FAILED, r.message());
    }
  }

  @Override
  void onDeadline(StepContext c, MigrationRow m) {
    c.saga()
        .finish(
            c,
            m,
            MigrationStatus.ERROR,
            Reason.DEST_AGENT_LOST,
            "The destination "
                + m.destCompute
                + " did not confirm post-migration within "
                + c.settings().postTimeoutMs() / 1000
                + " s.");
  }
}
