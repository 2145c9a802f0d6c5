package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.log.Ctx;
import io.livemigrate.conductor.store.MigrationRow;
import io.vertx.core.Future;
import java.time.Instant;
import java.util.List;

/**
 * One step of the live-migration saga, after Nova's conductor tasks: {@link #execute} sends the
 * step's command and records, in the migration row, which step waits and until when; answers for
 * the step come to {@link #onMessage}; silence past the deadline comes to {@link #onDeadline};
 * {@link #rollback} undoes what the step left behind when the migration ends with the instance on
 * the source. Answers for another step than the row's current one never reach a task, so a late or
 * duplicated reply has no effect.
 */
abstract class MigrationTask {
  static final String SELECT = "select";
  static final String QUEUE = "queue";
  static final String PREPARE = "prepare";
  static final String START = "start";
  static final String MONITOR = "monitor";
  static final String ABORT = "abort";
  static final String POST = "post";

  protected final Saga saga;

  MigrationTask(Saga saga) {
    this.saga = saga;
  }

  /** The step names (as stored in the row) this task owns. */
  abstract List<String> steps();

  /** Sends this step's command and persists the step and its deadline. */
  abstract Future<Void> execute(MigrationRow m);

  /** A message for a migration whose current step this task owns. */
  Future<Void> onMessage(MigrationRow m, Envelope env, Message body) {
    return Future.succeededFuture();
  }

  /** No answer before the step deadline. */
  abstract Future<Void> onDeadline(MigrationRow m);

  /**
   * After a conductor restart: re-sends the step's command when doing so is harmless (the agents
   * and the scheduler treat it idempotently). By default nothing is re-sent.
   */
  Future<Void> resume(MigrationRow m) {
    return Future.succeededFuture();
  }

  /** Whether this step ran for the migration and left something to undo on failure. */
  boolean needsRollback(MigrationRow m) {
    return false;
  }

  /** Undoes this step's effect; best effort, never fails the ending migration. */
  void rollback(MigrationRow m) {}

  static Ctx ctx(MigrationRow m) {
    return Ctx.of(m.requestId, m.uuid, m.instanceUuid);
  }

  static String stamp(String action) {
    return Instant.now() + " " + action;
  }

  static long now() {
    return System.currentTimeMillis();
  }
}
