package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.AgentCommands.CleanupSource;
import io.livemigrate.common.contract.AgentCommands.PostAtDestination;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.store.MigrationRow;
import io.vertx.core.Future;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * After the transfer: the destination takes the instance over and the source cleans up. Past the
 * point of no return, so failure here is {@code error} (an operator must look), never a rollback.
 */
final class PostMigrationTask extends MigrationTask {
  private static final Logger LOG = LoggerFactory.getLogger(PostMigrationTask.class);

  PostMigrationTask(Saga saga) {
    super(saga);
  }

  @Override
  List<String> steps() {
    return List.of(POST);
  }

  @Override
  Future<Void> execute(MigrationRow m) {
    long now = now();
    m.moveTo(MigrationStatus.POST_MIGRATING, now);
    m.step = POST;
    m.stepDeadlineMs = now + saga.settings().postTimeoutMs();
    // Nova's order: post at the source starts, the destination's part starts and ends, and the
    // source's ".end" comes with the final status (Conductor.finish).
    saga.notifier().notify("instance.live_migration_post.start", m, null);
    saga.notifier().notify("instance.live_migration_post_dest.start", m, null);
    return saga.save(m)
        .compose(v -> resume(m))
        .onSuccess(
            v ->
                saga.agents()
                    .toCompute(
                        m.sourceCompute, m, new CleanupSource(m.instanceUuid, m.destCompute)));
  }

  @Override
  Future<Void> resume(MigrationRow m) {
    return saga.agents()
        .toCompute(m.destCompute, m, new PostAtDestination(m.instanceUuid, m.sourceCompute));
  }

  @Override
  Future<Void> onMessage(MigrationRow m, Envelope env, Message body) {
    if (!(body instanceof StepResult r) || !"post_at_destination".equals(r.step())) {
      return Future.succeededFuture();
    }
    if (r.ok()) {
      saga.notifier().notify("instance.live_migration_post_dest.end", m, null);
      return saga.finish(m, MigrationStatus.COMPLETED, Reason.COMPLETED, null);
    }
    LOG.error("{} destination {} could not take over: {}", ctx(m), m.destCompute, r.message());
    return saga.finish(m, MigrationStatus.ERROR, Reason.POST_FAILED, r.message());
  }

  @Override
  Future<Void> onDeadline(MigrationRow m) {
    return saga.finish(
        m,
        MigrationStatus.ERROR,
        Reason.DEST_AGENT_LOST,
        "The destination "
            + m.destCompute
            + " did not confirm post-migration within "
            + saga.settings().postTimeoutMs() / 1000
            + " s.");
  }
}
