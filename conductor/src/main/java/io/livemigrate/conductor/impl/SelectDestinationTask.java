package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.store.InstanceRow;
import io.livemigrate.conductor.store.MigrationRow;
import io.vertx.core.Future;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks the scheduler for destinations, skipping hosts already tried for this migration. When the
 * source or the cluster is at its live-migration limit the migration waits, {@code queued}, and
 * asks again every {@code queue_retry_ms} (Nova queues on the source host instead).
 */
final class SelectDestinationTask extends MigrationTask {
  private static final Logger LOG = LoggerFactory.getLogger(SelectDestinationTask.class);

  SelectDestinationTask(Saga saga) {
    super(saga);
  }

  @Override
  List<String> steps() {
    return List.of(SELECT, QUEUE);
  }

  @Override
  Future<Void> execute(MigrationRow m) {
    return saga.db(s -> s.instance(m.instanceUuid))
        .compose(
            inst -> {
              InstanceRow i = inst.orElseThrow();
              SelectDestinations req =
                  new SelectDestinations(
                      m.instanceUuid,
                      m.sourceCompute,
                      m.requestedHost,
                      i.vcpus(),
                      i.memoryMb(),
                      m.blockMigration ? i.diskGb() : 0,
                      List.copyOf(m.triedHosts));
              m.step = SELECT;
              m.stepDeadlineMs = now() + saga.settings().prepareTimeoutMs();
              return saga.save(m).compose(v -> saga.agents().toScheduler(m, req));
            });
  }

  @Override
  Future<Void> onMessage(MigrationRow m, Envelope env, Message body) {
    if (!(body instanceof Destinations d) || !SELECT.equals(m.step)) {
      return Future.succeededFuture();
    }
    if (d.waitReason() != null) {
      if (m.status == MigrationStatus.ACCEPTED) m.moveTo(MigrationStatus.QUEUED, now());
      if (!d.waitReason().equals(m.message)) {
        LOG.info("{} queued: {}", ctx(m), d.waitReason());
      }
      m.message = d.waitReason();
      m.step = QUEUE;
      m.stepDeadlineMs = now() + saga.settings().queueRetryMs();
      return saga.save(m);
    }
    m.message = null;
    if (d.hosts().isEmpty()) {
      String why =
          d.rejected().isEmpty()
              ? "No valid host was found. There are not enough hosts available."
              : "No valid host was found. " + String.join(" ", d.rejected().values());
      LOG.warn("{} {}", ctx(m), why);
      return saga.finish(m, MigrationStatus.FAILED, Reason.NO_VALID_HOST, why);
    }
    m.destCompute = d.hosts().get(0);
    LOG.info("{} scheduler chose {} (candidates {})", ctx(m), m.destCompute, d.hosts());
    return saga.next(PREPARE, m);
  }

  @Override
  Future<Void> onDeadline(MigrationRow m) {
    if (QUEUE.equals(m.step)) return execute(m); // time to ask again
    return saga.finish(
        m,
        MigrationStatus.FAILED,
        Reason.SCHEDULER_UNAVAILABLE,
        "The scheduler did not answer within " + saga.settings().prepareTimeoutMs() / 1000 + " s.");
  }

  @Override
  Future<Void> resume(MigrationRow m) {
    return execute(m);
  }
}
