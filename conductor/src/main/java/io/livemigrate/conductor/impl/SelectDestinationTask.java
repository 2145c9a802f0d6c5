package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import io.livemigrate.conductor.Compensation;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.Step;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks the scheduler for destinations, skipping hosts already tried. When the source or the cluster
 * is at its live-migration limit the migration waits, {@code queued}, and asks again every {@code
 * queue_retry_ms} (Nova queues on the source host instead). The scheduler claims the host it names,
 * so the claim's release is registered before the request goes out.
 */
final class SelectDestinationTask extends MigrationTask {
  private static final Logger LOG = LoggerFactory.getLogger(SelectDestinationTask.class);

  @Override
  Step step() {
    return Step.SELECT;
  }

  @Override
  void execute(StepContext c, MigrationRow m) {
    InstanceRow i = c.tx().inventory().instance(m.instanceUuid).orElseThrow();
    SelectDestinations req =
        new SelectDestinations(
            m.instanceUuid,
            m.sourceCompute,
            m.requestedHost,
            i.vcpus(),
            i.memoryMb(),
            m.blockMigration ? i.diskGb() : 0,
            List.copyOf(m.triedHosts));
    Saga.register(m, Compensation.RELEASE_CLAIM);
    String id = c.messages().toScheduler(c, m, req);
    await(m, Step.SELECT, id, c.now() + c.settings().prepareTimeoutMs());
  }

  @Override
  void onMessage(StepContext c, MigrationRow m, Envelope env, Message body) {
    if (!(body instanceof Destinations d)) return;
    if (d.waitReason() != null) {
      waitInQueue(c, m, d.waitReason());
      return;
    }
    m.message = null;
    if (d.hosts().isEmpty()) {
      String why =
          d.rejected().isEmpty()
              ? "No valid host was found. There are not enough hosts available."
              : "No valid host was found. " + String.join(" ", d.rejected().values());
      c.saga().finish(c, m, MigrationStatus.FAILED, Reason.NO_VALID_HOST, why);
      return;
    }
    String chosen = null;
    List<String> why = new java.util.ArrayList<>();
    for (String host : d.hosts()) {
      DestinationCheck.Verdict v = DestinationCheck.check(c, m, host);
      if (v.fits()) {
        chosen = host;
        break;
      }
      why.add(v.why());
      if (v.waitForSource()) break;
    }
    if (chosen == null) {
      // The scheduler's view was older than the store's: ask again after the queue pause.
      waitInQueue(c, m, String.join(" ", why));
      return;
    }
    m.destCompute = chosen;
    String dest = chosen;
    c.fx()
        .afterCommit(
            () -> LOG.info("{} scheduler chose {} (candidates {})", ctx(m), dest, d.hosts()));
    c.saga().next(c, m, Step.PREPARE);
  }

  /** Nothing is wrong with the request, but a limit holds it back: queued, asked again later. */
  private static void waitInQueue(StepContext c, MigrationRow m, String reason) {
    if (m.status == MigrationStatus.ACCEPTED) m.moveTo(MigrationStatus.QUEUED, c.now());
    if (!reason.equals(m.message)) {
      c.fx().afterCommit(() -> LOG.info("{} queued: {}", ctx(m), reason));
    }
    m.message = reason;
    // Not an error to wait: the deadline is when to ask again.
    await(m, Step.QUEUE, null, c.now() + c.settings().queueRetryMs());
  }

  @Override
  void onDeadline(StepContext c, MigrationRow m) {
    if (m.step == Step.QUEUE) {
      execute(c, m); // time to ask again
      return;
    }
    c.saga()
        .finish(
            c,
            m,
            MigrationStatus.FAILED,
            Reason.SCHEDULER_UNAVAILABLE,
            "The scheduler did not answer within "
                + c.settings().prepareTimeoutMs() / 1000
                + " s.");
  }
}
