package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.AgentCommands.PrepareDestination;
import io.livemigrate.common.contract.AgentCommands.RollbackAtDestination;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.conductor.Compensation;
import io.livemigrate.conductor.HostRow;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.Step;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks and prepares the chosen destination: it compares the guest's CPU, machine type and the
 * source's hypervisor version with its own before it reserves anything. A refusal or silence rolls
 * the destination back and reschedules (up to {@code migrate_max_retries}; never for an
 * operator-named host); the last refusal's reason code is the migration's.
 */
final class PrepareDestinationTask extends MigrationTask {
  private static final Logger LOG = LoggerFactory.getLogger(PrepareDestinationTask.class);

  @Override
  Step step() {
    return Step.PREPARE;
  }

  @Override
  void execute(StepContext c, MigrationRow m) {
    if (m.status == MigrationStatus.ACCEPTED) m.moveTo(MigrationStatus.QUEUED, c.now());
    m.moveTo(MigrationStatus.PREPARING, c.now());
    InstanceRow i = c.tx().inventory().instance(m.instanceUuid).orElseThrow();
    Long sourceVersion =
        c.tx().inventory().host(m.sourceCompute).map(HostRow::hypervisorVersion).orElse(null);
    if (m.blockAuto) decideStorage(c, m, i);
    PrepareDestination cmd =
        new PrepareDestination(
            m.instanceUuid,
            i.name(),
            m.sourceCompute,
            i.vcpus(),
            i.memoryMb(),
            i.diskGb(),
            m.blockMigration,
            i.cpuXml(),
            i.machineType(),
            sourceVersion,
            m.sharedStorage ? Boolean.TRUE : null,
            i.dirtyRateBps());
    Saga.register(m, Compensation.ROLLBACK_DESTINATION);
    c.messages().notify(c, "instance.live_migration_pre.start", m, null);
    String id = c.messages().toCompute(c, m.destCompute, m, cmd);
    await(m, Step.PREPARE, id, c.now() + c.settings().prepareTimeoutMs());
  }

  /**
   * block_migration "auto", as Nova decides it, never by assumption: shared storage when the
   * destination's last report says it sees the source's storage (its marker file), which the
   * destination then confirms at prepare; else the disk is copied.
   */
  private static void decideStorage(StepContext c, MigrationRow m, InstanceRow i) {
    boolean shared =
        c.tx()
            .inventory()
            .host(m.destCompute)
            .map(h -> h.sharedStorageWith().contains(m.sourceCompute))
            .orElse(false);
    m.sharedStorage = shared;
    m.blockMigration = !shared;
    m.diskTotal = shared ? 0 : i.diskGb() << 30;
    m.diskRemaining = m.diskTotal;
    m.act(
        "block_migration auto: "
            + (shared
                ? m.destCompute + " sees " + m.sourceCompute + "'s storage: no disk copy"
                : "no shared storage between "
                    + m.sourceCompute
                    + " and "
                    + m.destCompute
                    + ": the disk is copied"),
        c.now());
  }

  @Override
  void onMessage(StepContext c, MigrationRow m, Envelope env, Message body) {
    if (!(body instanceof StepResult r) || !"prepare_destination".equals(r.step())) return;
    if (r.ok()) {
      c.messages().notify(c, "instance.live_migration_pre.end", m, null);
      c.saga().next(c, m, Step.START);
      return;
    }
    failed(c, m, Reason.fromPrepare(r.reason()), r.reason() + ": " + r.message());
  }

  @Override
  void onDeadline(StepContext c, MigrationRow m) {
    failed(
        c,
        m,
        Reason.PREPARE_FAILED,
        "DEST_AGENT_LOST: no answer within " + c.settings().prepareTimeoutMs() / 1000 + " s");
  }

  private void failed(StepContext c, MigrationRow m, Reason reason, String why) {
    String failed = m.destCompute;
    m.triedHosts.add(failed);
    int retries = m.triedHosts.size();
    int max = c.settings().migrateMaxRetries();
    if (m.requestedHost == null && (max < 0 || retries <= max)) {
      m.act("prepare failed on " + failed + ", rescheduling: " + why, c.now());
      c.fx()
          .afterCommit(
              () ->
                  LOG.info(
                      "{} destination {} could not be prepared ({}); rescheduling",
                      ctx(m),
                      failed,
                      why));
      rollback(c, m);
      m.destCompute = null;
      c.saga().next(c, m, Step.SELECT);
      return;
    }
    c.saga()
        .finish(
            c,
            m,
            MigrationStatus.FAILED,
            reason,
            "Migration pre-check error on " + failed + ": " + why);
  }

  /** Drops what the destination reserved, now, and takes the compensation off the list. */
  static void rollback(StepContext c, MigrationRow m) {
    c.messages().toCompute(c, m.destCompute, m, new RollbackAtDestination(m.instanceUuid));
    m.compensations.remove(Compensation.ROLLBACK_DESTINATION.name());
  }
}
