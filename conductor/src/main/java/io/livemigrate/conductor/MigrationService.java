package io.livemigrate.conductor;

import io.vertx.core.Future;
import java.util.List;
import java.util.Optional;

/**
 * What the API asks of the migrations. Every call is one store transaction on some conductor; a
 * refusal fails the future with a {@link MigrationRefused}, anything else is a fault (a {@code
 * TransientFailure} while the store is unreachable).
 */
public interface MigrationService {
  /**
   * A live-migration request.
   *
   * @param host the operator's destination, or null for the scheduler's choice
   * @param blockAuto {@code block_migration: "auto"}: block unless the destination sees the
   *     source's storage (then {@code blockMigration} is ignored)
   * @param force skip the scheduler for a named host (Nova's {@code force}, 2.30 to 2.67)
   */
  record LiveMigrate(
      String instanceUuid,
      String host,
      boolean blockMigration,
      boolean blockAuto,
      boolean force,
      String requestId) {

    /** A request with an explicit block_migration. */
    public LiveMigrate(
        String instanceUuid, String host, boolean blockMigration, boolean force, String requestId) {
      this(instanceUuid, host, blockMigration, false, force, requestId);
    }
  }

  /**
   * Accepts a live migration: checks the instance and the named destination, records the migration
   * and marks the instance MIGRATING in one transaction, then starts the saga.
   */
  Future<MigrationRow> liveMigrate(LiveMigrate request);

  /**
   * Operator abort of a server's in-progress migration.
   *
   * @param beforeRunning also abort one that has not started copying (microversion 2.65)
   */
  Future<MigrationRow> abort(
      String instanceUuid, long migrationId, boolean beforeRunning, String requestId);

  /** Operator force-complete of a server's running migration. */
  Future<MigrationRow> forceComplete(String instanceUuid, long migrationId, String requestId);

  /** A migration by its id. */
  Future<Optional<MigrationRow>> find(long migrationId);

  /**
   * Migrations filtered and paged in the store, newest first.
   *
   * @return empty when the query's marker names no migration
   */
  Future<Optional<List<MigrationRow>>> list(MigrationQuery query);
}
