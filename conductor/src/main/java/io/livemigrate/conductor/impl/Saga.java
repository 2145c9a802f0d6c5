package io.livemigrate.conductor.impl;

import io.livemigrate.common.bus.ForbiddenSender;
import io.livemigrate.common.bus.Identities;
import io.livemigrate.common.contract.AgentCommands.RollbackAtDestination;
import io.livemigrate.common.contract.AgentEvents.MigrationCompleted;
import io.livemigrate.common.contract.AgentEvents.MigrationFailed;
import io.livemigrate.common.contract.AgentEvents.MigrationProgress;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.InvalidMessageException;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.ReleaseClaim;
import io.livemigrate.common.log.Ctx;
import io.livemigrate.conductor.Compensation;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.MigrationViews;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.Step;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live-migration saga's one transition function. Every change of a migration comes through
 * here, inside the store transaction that locked its row: a bus message ({@link #onMessage}), a due
 * deadline ({@link #onDeadline}), an operator's action, a change of the source's liveness. The step
 * enum picks the task; the task decides; {@link #finish} ends the migration with its compensations.
 *
 * <p>Stateless: safe to share between threads and between the conductors of one store.
 */
final class Saga {
  private static final Logger LOG = LoggerFactory.getLogger(Saga.class);

  /** Replies the transfer steps accept besides the transfer's own events. */
  private static final Set<String> SOURCE_STEPS =
      Set.of("abort_migration", "force_complete", "tune_migration");

  /** Steps the destination's agent answers; every other answer must come from the source's. */
  private static final Set<String> DESTINATION_STEPS =
      Set.of("prepare_destination", "post_at_destination", "rollback_at_destination");

  /** System property: drop every release_claim (for the test of a lost release). */
  static final String DROP_RELEASES = "livemigrate.test.dropReleaseClaims";

  private final ConductorSettings settings;
  private final Messages messages;
  private final ConductorMetrics metrics;
  private final DrainHook drains;
  private final Identities identities;
  private final Map<Step, MigrationTask> tasks = new EnumMap<>(Step.class);
  private final MonitorTask monitor = new MonitorTask();
  private final AbortTask abort = new AbortTask();

  Saga(
      ConductorSettings settings,
      Messages messages,
      ConductorMetrics metrics,
      DrainHook drains,
      Identities identities) {
    this.identities = identities;
    this.settings = settings;
    this.messages = messages;
    this.metrics = metrics;
    this.drains = drains;
    SelectDestinationTask select = new SelectDestinationTask();
    for (MigrationTask t :
        List.of(
            select,
            new PrepareDestinationTask(),
            new StartTask(),
            monitor,
            abort,
            new PostMigrationTask())) {
      tasks.put(t.step(), t);
    }
    tasks.put(Step.QUEUE, select);
  }

  ConductorSettings settings() {
    return settings;
  }

  Messages messages() {
    return messages;
  }

  ConductorMetrics metrics() {
    return metrics;
  }

  MonitorTask monitor() {
    return monitor;
  }

  AbortTask abortTask() {
    return abort;
  }

  /** Hands the migration to the task of {@code step}. */
  void next(StepContext c, MigrationRow m, Step step) {
    tasks.get(step).execute(c, m);
  }

  /** A migration just created: announced, then to the scheduler (or straight to a forced host). */
  void accepted(StepContext c, MigrationRow m, boolean forced) {
    messages.notify(c, "migration.accepted", m, null);
    if (forced) {
      m.destCompute = m.requestedHost;
      m.act("forced to " + m.requestedHost + ", scheduler skipped", c.now());
      next(c, m, Step.PREPARE);
    } else {
      next(c, m, Step.SELECT);
    }
  }

  /** Registers a step's compensation before its command goes out; registering twice is one. */
  static void register(MigrationRow m, Compensation comp) {
    if (!m.compensations.contains(comp.name())) m.compensations.add(comp.name());
  }

  // ------------------------------------------------------------------ messages

  /**
   * A bus message about this migration. It must come from the host entitled to send it (else it is
   * parked: {@link InvalidMessageException}); an answer to a command other than the one the current
   * step waits on (late, duplicated, or for a destination tried earlier) changes nothing.
   *
   * @return whether the row may have changed
   */
  boolean onMessage(StepContext c, MigrationRow m, Envelope env, Message body) {
    checkSender(m, env, body);
    if (body instanceof MigrationCompleted done
        && Objects.equals(env.correlationId(), m.startId)
        && (m.step == Step.POST || m.status == MigrationStatus.COMPLETED)) {
      // The outcome after reconciliation already moved on: keep its figures (downtime, mode).
      TransferStep.record(m, done);
      return true;
    }
    if (m.status.isFinal() || m.step == null) {
      c.fx().afterCommit(() -> metrics.stale(env.type()));
      return false;
    }
    boolean transfer =
        body instanceof MigrationProgress
            || body instanceof MigrationCompleted
            || body instanceof MigrationFailed;
    boolean expected;
    if (transfer) {
      expected =
          Objects.equals(env.correlationId(), m.startId)
              && (m.step == Step.START || m.step == Step.MONITOR || m.step == Step.ABORT);
    } else if (body instanceof StepResult r && SOURCE_STEPS.contains(r.step())) {
      // Answers of the source's tuning commands are informational; the abort's must be awaited.
      expected =
          (m.step == Step.MONITOR || m.step == Step.ABORT)
              && (!"abort_migration".equals(r.step())
                  || Objects.equals(env.correlationId(), m.awaitingId));
    } else {
      expected = m.awaitingId != null && Objects.equals(env.correlationId(), m.awaitingId);
    }
    if (!expected) {
      Step step = m.step;
      c.fx()
          .afterCommit(
              () -> {
                metrics.stale(env.type());
                LOG.debug("{} {} not awaited in step {}: ignored", ctx(m), env.type(), step);
              });
      return false;
    }
    tasks.get(m.step).onMessage(c, m, env, body);
    return true;
  }

  /**
   * Who may send what: the scheduler its destinations; the destination its prepare and post
   * answers; the source everything else. The sender's host in the envelope must match, and where
   * the broker vouches for the login (AMQP user_id of a per-host identity) so must that.
   */
  /**
   * Who may send what about a migration: destinations only the scheduler; the destination's steps
   * only the destination; everything else (progress, outcome, the source's steps) only the source.
   * The claimed sender must say so, and, when the bus verifies identities, the broker-validated
   * login too: anything else is parked as {@code forbidden}, never acted on.
   */
  private void checkSender(MigrationRow m, Envelope env, Message body) {
    if (body instanceof Destinations) {
      if (!"scheduler".equals(env.sender().service()) || !identities.sentByScheduler(env)) {
        throw forbidden(m, env, "destinations come only from the scheduler");
      }
      return;
    }
    String expectedHost =
        body instanceof StepResult r && DESTINATION_STEPS.contains(r.step())
            ? m.destCompute
            : m.sourceCompute;
    if (expectedHost == null
        || !"compute".equals(env.sender().service())
        || !expectedHost.equals(env.sender().host())) {
      throw forbidden(m, env, "only the compute agent of " + expectedHost + " may send it");
    }
    if (!identities.sentByCompute(env, expectedHost)) {
      throw forbidden(
          m, env, "broker login " + env.userId() + " is not " + identities.compute(expectedHost));
    }
  }

  private static ForbiddenSender forbidden(MigrationRow m, Envelope env, String why) {
    return new ForbiddenSender(
        env.type()
            + " for migration "
            + m.uuid
            + " from "
            + env.sender().service()
            + "@"
            + env.sender().host()
            + (env.userId() == null ? "" : " (login " + env.userId() + ")")
            + ": "
            + why);
  }

  // ------------------------------------------------------------------ deadlines

  /** A deadline of this migration is due (the scanner found it and holds its lock). */
  void onDeadline(StepContext c, MigrationRow m) {
    if (m.status.isFinal()) return;
    long now = c.now();
    if (m.completionDeadlineMs > 0
        && m.completionDeadlineMs <= now
        && m.status == MigrationStatus.RUNNING) {
      m.completionDeadlineMs = 0;
      metrics.deadline("completion");
      monitor.onCompletionDeadline(c, m);
      return;
    }
    if (m.stepDeadlineMs > 0 && m.stepDeadlineMs <= now && m.step != null) {
      m.stepDeadlineMs = 0;
      metrics.deadline(m.step.wire());
      tasks.get(m.step).onDeadline(c, m);
      return;
    }
    // A completion deadline left from a status that no longer has one (post-copy, post).
    if (m.completionDeadlineMs > 0 && m.completionDeadlineMs <= now) m.completionDeadlineMs = 0;
  }

  // ------------------------------------------------------------------ liveness

  /** How a migration's actions record that its source agent went silent. */
  static final String SOURCE_LOST_ACTION = "source agent lost: ";

  /**
   * The source's heartbeats stopped (or came back) while the transfer runs. Lost: marked (its
   * deadlines keep running). Back: it re-attaches to the job or reports how it ended; if it reports
   * nothing of this migration for another {@code service_down_time}, the monitor's probe aborts.
   */
  void sourceLiveness(StepContext c, MigrationRow m, boolean down, long silentMs) {
    if (m.status != MigrationStatus.RUNNING && m.status != MigrationStatus.POSTCOPY) return;
    if (down && !m.sourceLost) {
      m.sourceLost = true;
      m.message = "no heartbeat from " + m.sourceCompute + " for " + silentMs / 1000 + " s";
      m.act(SOURCE_LOST_ACTION + m.message, c.now());
      String msg = m.message;
      c.fx().afterCommit(() -> LOG.info("{} source compute agent lost: {}", ctx(m), msg));
      messages.notify(
          c,
          "migration.decision",
          m,
          TransferStep.decision(m, "mark_source_agent_lost", "source_agent_lost"));
    } else if (!down && m.sourceLost) {
      m.sourceLost = false;
      m.message = null;
      m.act("source agent back; reconciling from its reports", c.now());
      c.fx()
          .afterCommit(
              () -> LOG.info("{} source compute agent {} is back", ctx(m), m.sourceCompute));
      if (m.status == MigrationStatus.RUNNING && m.step == Step.MONITOR) {
        // Its progress (re-attached) or the outcome must come by then; see MonitorTask.
        m.stepDeadlineMs = c.now() + settings.serviceDownTimeMs();
      }
    }
  }

  // ------------------------------------------------------------------ the end

  /**
   * Ends a migration: the final status and reason, the compensations the steps registered (latest
   * first), the instance's host and status, the notifications, the drain it belongs to; logs and
   * metrics once it committed.
   */
  void finish(StepContext c, MigrationRow m, MigrationStatus status, Reason reason, String msg) {
    m.moveTo(status, c.now());
    m.reason = reason.name();
    m.message = msg;
    boolean moved = status == MigrationStatus.COMPLETED;
    boolean onSource = status == MigrationStatus.FAILED || status == MigrationStatus.CANCELLED;
    boolean atDest = onSource && m.compensations.contains(Compensation.ROLLBACK_DESTINATION.name());
    if (onSource) {
      // Nova's pairs around the rollback; the commands are in the outbox, so ".end" means
      // "rollback requested": the instance is ACTIVE on the source either way.
      messages.notify(c, "instance.live_migration_rollback.start", m, null);
      if (atDest) messages.notify(c, "instance.live_migration_rollback_dest.start", m, null);
    }
    for (int i = m.compensations.size() - 1; i >= 0; i--) {
      switch (Compensation.valueOf(m.compensations.get(i))) {
        case RELEASE_CLAIM -> {
          // A test hook: a release that never arrives, which the scheduler must survive.
          if (!Boolean.getBoolean(DROP_RELEASES)) {
            messages.toScheduler(c, m, new ReleaseClaim(m.instanceUuid, status.wire()));
          }
        }
        case ROLLBACK_DESTINATION -> {
          // Only when the instance stays on the source: after the transfer it may run there.
          if (onSource) {
            messages.toCompute(c, m.destCompute, m, new RollbackAtDestination(m.instanceUuid));
          }
        }
      }
    }
    m.compensations.clear();
    InstanceRow i = c.tx().inventory().lockInstance(m.instanceUuid).orElseThrow();
    InstanceRow after;
    if (moved) after = i.withHostStatus(m.destCompute, "ACTIVE", null, c.now());
    else if (onSource) after = i.withHostStatus(m.sourceCompute, "ACTIVE", null, c.now());
    else if (reason == Reason.POST_FAILED || reason == Reason.DEST_AGENT_LOST)
      after = i.withHostStatus(m.destCompute, "ERROR", null, c.now());
    else after = i.withHostStatus(i.host(), "ERROR", null, c.now());
    c.tx().inventory().upsertInstance(after);
    if (moved) {
      messages.notify(c, "instance.live_migration_post.end", m, null);
    } else if (onSource) {
      if (atDest) messages.notify(c, "instance.live_migration_rollback_dest.end", m, null);
      messages.notify(c, "instance.live_migration_rollback.end", m, null);
    }
    messages.notify(c, Messages.COMPLETED, m, MigrationViews.postMortem(m));
    drains.migrationEnded(c, m);
    MigrationRow done = m.copy();
    c.fx()
        .afterCommit(
            () -> {
              metrics.finished(done);
              if (moved) {
                LOG.info(
                    "{} live migration completed: instance now ACTIVE on {} (downtime {} ms)",
                    ctx(done),
                    done.destCompute,
                    done.downtimeMs);
              } else {
                LOG.warn(
                    "{} live migration {} ({}): {}; instance {} on {}",
                    ctx(done),
                    status.wire(),
                    reason,
                    msg,
                    after.status(),
                    after.host());
              }
            });
  }

  static Ctx ctx(MigrationRow m) {
    return Ctx.of(m.requestId, m.uuid, m.instanceUuid);
  }

  /** What the drains need to hear: a migration ended (in the same transaction). */
  interface DrainHook {
    void migrationEnded(StepContext c, MigrationRow m);
  }
}
