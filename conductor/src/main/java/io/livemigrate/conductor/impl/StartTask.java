package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.AgentCommands.AbortMigration;
import io.livemigrate.common.contract.AgentCommands.StartMigration;
import io.livemigrate.conductor.HostRow;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.Step;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the transfer on the source with Nova's flags and computes the completion timeout (Nova's
 * formula). The step lasts until the first progress, which arms the completion deadline (persisted,
 * so whichever conductor holds the row then fires it at its original time), or the transfer's end.
 */
final class StartTask extends TransferStep {
  private static final Logger LOG = LoggerFactory.getLogger(StartTask.class);

  @Override
  Step step() {
    return Step.START;
  }

  @Override
  void execute(StepContext c, MigrationRow m) {
    ConductorSettings s = c.settings();
    Optional<HostRow> src = c.tx().inventory().host(m.sourceCompute);
    Planner.Flags flags = Planner.flags(s, src);
    boolean postCopy = flags.postCopy();
    boolean autoConverge = flags.autoConverge();
    double dataGb =
        Timeouts.dataGb(m.memoryTotal / (1024 * 1024), m.diskTotal >> 30, m.blockMigration);
    m.completionTimeoutS = Timeouts.completionTimeoutSeconds(s.completionTimeoutPerGiB(), dataGb);
    m.moveTo(MigrationStatus.RUNNING, c.now());
    // Armed when the source reports the transfer running (Nova's monitor starts its clock there
    // too): a start command still on its way, e.g. left in a dead conductor's outbox, must not use
    // up the transfer's time. Until then the start deadline applies.
    m.completionDeadlineMs = 0;
    m.policy = PolicyRunner.initial(s, dataGb, postCopy, autoConverge);
    StartMigration cmd =
        new StartMigration(
            m.instanceUuid,
            m.destCompute,
            m.blockMigration,
            autoConverge,
            postCopy,
            s.bandwidthMibps(),
            Math.max(1, Timeouts.initialDowntimeMs(s.downtimeMs(), s.downtimeSteps())));
    String id = c.messages().toCompute(c, m.sourceCompute, m, cmd);
    m.startId = id;
    await(m, Step.START, id, c.now() + s.startTimeoutMs());
    long timeout = m.completionTimeoutS;
    c.fx()
        .afterCommit(
            () ->
                LOG.info(
                    "{} starting transfer {} -> {}; completion timeout {} s ({} s/GiB x {} GiB)",
                    ctx(m),
                    m.sourceCompute,
                    m.destCompute,
                    timeout,
                    s.completionTimeoutPerGiB(),
                    dataGb));
  }

  /** The source did not report the transfer started: it may still start late, so abort it. */
  @Override
  void onDeadline(StepContext c, MigrationRow m) {
    c.messages()
        .toCompute(
            c,
            m.sourceCompute,
            m,
            new AbortMigration(m.instanceUuid, Reason.SOURCE_AGENT_LOST.name(), 0));
    c.saga()
        .finish(
            c,
            m,
            MigrationStatus.FAILED,
            Reason.SOURCE_AGENT_LOST,
            "The source compute "
                + m.sourceCompute
                + " did not start the migration within "
                + c.settings().startTimeoutMs() / 1000
                + " s.");
  }
}
