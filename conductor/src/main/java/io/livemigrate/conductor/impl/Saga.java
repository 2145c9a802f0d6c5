package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.store.MigrationRow;
import io.vertx.core.Future;

/** What a {@link MigrationTask} may use of the saga that runs it. */
interface Saga {
  ConductorSettings settings();

  AgentClient agents();

  Notifier notifier();

  ConductorMetrics metrics();

  <T> Future<T> db(Conductor.StoreCall<T> call);

  /** Persists the row, then (re-)arms its deadlines from it. */
  Future<Void> save(MigrationRow m);

  /**
   * Ends the migration: final status and reason, instance placement, the compensations of the steps
   * that ran, notification and metrics.
   */
  Future<Void> finish(MigrationRow m, MigrationStatus status, Reason reason, String message);

  /** Hands the migration to the task of {@code step} and executes it. */
  Future<Void> next(String step, MigrationRow m);
}
