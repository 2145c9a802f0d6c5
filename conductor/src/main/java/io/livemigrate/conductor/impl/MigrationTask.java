package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.log.Ctx;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.Step;

/**
 * One step of the live-migration saga, after Nova's conductor tasks: {@link #execute} registers the
 * step's compensation, sends its command (into the outbox) and records in the row which command it
 * waits on and until when; the answer comes to {@link #onMessage}; silence past the deadline comes
 * to {@link #onDeadline}. Everything runs inside the transaction that holds the migration's row
 * lock, synchronously: a task never waits for anything.
 */
abstract class MigrationTask {
  /** The step this task owns. */
  abstract Step step();

  /** Starts the step. */
  abstract void execute(StepContext c, MigrationRow m);

  /**
   * A message for this step that the saga checked: from the host entitled to send it and correlated
   * to the command the step waits on.
   */
  void onMessage(StepContext c, MigrationRow m, Envelope env, Message body) {}

  /** No answer before the step deadline. */
  abstract void onDeadline(StepContext c, MigrationRow m);

  /** Enters {@code step}, waiting on {@code commandId} until {@code deadlineMs}. */
  static void await(MigrationRow m, Step step, String commandId, long deadlineMs) {
    m.step = step;
    m.awaitingId = commandId;
    m.stepDeadlineMs = deadlineMs;
  }

  static Ctx ctx(MigrationRow m) {
    return Ctx.of(m.requestId, m.uuid, m.instanceUuid);
  }
}
