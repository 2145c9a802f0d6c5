package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.MigrationQuery;
import io.livemigrate.conductor.MigrationRefused;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationService;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.Step;
import io.vertx.core.Future;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The API's entry to the saga: each call one transaction on the store. */
final class MigrationServiceImpl implements MigrationService {
  private static final Logger LOG = LoggerFactory.getLogger(MigrationServiceImpl.class);

  private final TxRunner tx;

  MigrationServiceImpl(TxRunner tx) {
    this.tx = tx;
  }

  @Override
  public Future<MigrationRow> liveMigrate(LiveMigrate request) {
    return tx.run(c -> Admission.accept(c, request).copy());
  }

  @Override
  public Future<MigrationRow> abort(
      String instanceUuid, long migrationId, boolean beforeRunning, String requestId) {
    return tx.run(
        c -> {
          MigrationRow m = lockInProgress(c, instanceUuid, migrationId);
          if (m.status == MigrationStatus.POSTCOPY
              || m.status == MigrationStatus.POST_MIGRATING
              || (m.status != MigrationStatus.RUNNING && !beforeRunning)) {
            throw MigrationRefused.invalid(
                "Migration "
                    + m.id
                    + " state of instance "
                    + m.instanceUuid
                    + " is "
                    + m.status.wire()
                    + ". Cannot abort live migration.");
          }
          c.fx()
              .afterCommit(
                  () -> LOG.info("{} abort requested by operator ({})", Saga.ctx(m), requestId));
          if (m.status == MigrationStatus.RUNNING) {
            // Asked already (by the operator or a timeout): the source's answer is awaited.
            if (m.step != Step.ABORT) c.saga().abortTask().execute(c, m, Reason.USER_ABORT, 0);
          } else {
            // Not started on the source yet: nothing to cancel there.
            c.saga()
                .finish(c, m, MigrationStatus.CANCELLED, Reason.USER_ABORT, "aborted by operator");
          }
          c.tx().migrations().update(m);
          return m.copy();
        });
  }

  @Override
  public Future<MigrationRow> forceComplete(
      String instanceUuid, long migrationId, String requestId) {
    return tx.run(
        c -> {
          MigrationRow m = lockInProgress(c, instanceUuid, migrationId);
          if (m.status != MigrationStatus.RUNNING || m.step == Step.ABORT) {
            throw MigrationRefused.invalid(
                "Migration "
                    + m.id
                    + " state of instance "
                    + m.instanceUuid
                    + " is "
                    + m.status.wire()
                    + ". Cannot force complete while the migration is in this state.");
          }
          c.fx()
              .afterCommit(
                  () ->
                      LOG.info(
                          "{} force-complete requested by operator ({})", Saga.ctx(m), requestId));
          c.saga().monitor().forceComplete(c, m, "operator");
          c.tx().migrations().update(m);
          return m.copy();
        });
  }

  /** The server's migration, locked, if it is in progress (Nova's 404 otherwise). */
  private static MigrationRow lockInProgress(StepContext c, String instanceUuid, long id) {
    if (c.tx().inventory().instance(instanceUuid).isEmpty()) {
      throw MigrationRefused.notFound("Instance " + instanceUuid + " could not be found.");
    }
    Optional<MigrationRow> byId = c.tx().migrations().byId(id);
    MigrationRow m =
        byId.flatMap(r -> c.tx().migrations().lock(r.uuid))
            .filter(r -> r.instanceUuid.equals(instanceUuid) && r.status.isInProgress())
            .orElseThrow(
                () ->
                    MigrationRefused.notFound(
                        "In-progress live migration "
                            + id
                            + " is not found for server "
                            + instanceUuid
                            + "."));
    return m;
  }

  @Override
  public Future<Optional<MigrationRow>> find(long migrationId) {
    return tx.read(t -> t.migrations().byId(migrationId));
  }

  @Override
  public Future<Optional<List<MigrationRow>>> list(MigrationQuery query) {
    return tx.read(t -> t.migrations().query(query));
  }
}
