package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.AgentCommands.PrepareDestination;
import io.livemigrate.common.contract.AgentCommands.RollbackAtDestination;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.store.InstanceRow;
import io.livemigrate.conductor.store.MigrationRow;
import io.vertx.core.Future;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks and prepares the chosen destination. A refusal or silence rolls the destination back and
 * reschedules (up to {@code migrate_max_retries}; never for an operator-named host).
 */
final class PrepareDestinationTask extends MigrationTask {
  private static final Logger LOG = LoggerFactory.getLogger(PrepareDestinationTask.class);

  PrepareDestinationTask(Saga saga) {
    super(saga);
  }

  @Override
  List<String> steps() {
    return List.of(PREPARE);
  }

  @Override
  Future<Void> execute(MigrationRow m) {
    long now = now();
    if (m.status == MigrationStatus.ACCEPTED) m.moveTo(MigrationStatus.QUEUED, now);
    m.moveTo(MigrationStatus.PREPARING, now);
    m.step = PREPARE;
    m.stepDeadlineMs = now + saga.settings().prepareTimeoutMs();
    return saga.db(s -> s.instance(m.instanceUuid))
        .compose(
            inst -> {
              InstanceRow i = inst.orElseThrow();
              PrepareDestination cmd =
                  new PrepareDestination(
                      m.instanceUuid,
                      i.name(),
                      m.sourceCompute,
                      i.vcpus(),
                      i.memoryMb(),
                      i.diskGb(),
                      m.blockMigration);
              saga.notifier().notify("instance.live_migration_pre.start", m, null);
              return saga.save(m).compose(v -> saga.agents().toCompute(m.destCompute, m, cmd));
            });
  }

  @Override
  Future<Void> onMessage(MigrationRow m, Envelope env, Message body) {
    if (!(body instanceof StepResult r) || !"prepare_destination".equals(r.step())) {
      return Future.succeededFuture();
    }
    if (r.ok()) {
      saga.notifier().notify("instance.live_migration_pre.end", m, null);
      return saga.next(START, m);
    }
    return failed(m, r.reason() + ": " + r.message());
  }

  @Override
  Future<Void> onDeadline(MigrationRow m) {
    return failed(
        m, "DEST_AGENT_LOST: no answer within " + saga.settings().prepareTimeoutMs() / 1000 + " s");
  }

  private Future<Void> failed(MigrationRow m, String why) {
    String failed = m.destCompute;
    LOG.warn("{} destination {} could not be prepared: {}", ctx(m), failed, why);
    m.triedHosts.add(failed);
    int retries = m.triedHosts.size();
    int max = saga.settings().migrateMaxRetries();
    if (m.requestedHost == null && (max < 0 || retries <= max)) {
      m.actions.add(stamp("prepare failed on " + failed + ", rescheduling: " + why));
      rollback(m);
      m.destCompute = null;
      return saga.next(SELECT, m);
    }
    return saga.finish(
        m,
        MigrationStatus.FAILED,
        Reason.PREPARE_FAILED,
        "Migration pre-check error on " + failed + ": " + why);
  }

  @Override
  boolean needsRollback(MigrationRow m) {
    return m.destCompute != null;
  }

  @Override
  void rollback(MigrationRow m) {
    saga.agents().toCompute(m.destCompute, m, new RollbackAtDestination(m.instanceUuid));
  }
}
