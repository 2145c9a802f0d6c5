package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.HostRow;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.MigrationRefused;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationService.LiveMigrate;
import io.livemigrate.conductor.ServiceRow;
import io.livemigrate.conductor.Usage;
import io.livemigrate.conductor.store.HostReports;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether a live migration may start, and its creation: Nova's synchronous checks (the instance
 * exists and is ACTIVE or PAUSED and not migrating; a named destination exists, is not the source,
 * is up, enabled and has room), then the migration row and the instance marked MIGRATING, in the
 * caller's transaction, which holds the instance's row lock so two conductors cannot both accept.
 */
final class Admission {
  private static final Logger LOG = LoggerFactory.getLogger(Admission.class);

  /** Nova's initial vCPU allocation ratio, as the scheduler applies it. */
  private static final double CPU_RATIO = 4.0;

  private Admission() {}

  /**
   * @throws MigrationRefused NOT_FOUND for an unknown instance, CONFLICT when it is not ACTIVE or
   *     PAUSED or already migrating, INVALID for a destination that cannot take it
   */
  static MigrationRow accept(StepContext c, LiveMigrate req) {
    String uuid = req.instanceUuid();
    InstanceRow inst =
        c.tx()
            .inventory()
            .lockInstance(uuid)
            .orElseThrow(
                () -> MigrationRefused.notFound("Instance " + uuid + " could not be found."));
    if ("MIGRATING".equals(inst.status()) || c.tx().migrations().unfinishedFor(uuid).isPresent()) {
      throw MigrationRefused.conflict(
          "Cannot 'os-migrateLive' instance " + uuid + " while it is in task_state migrating");
    }
    if (!inst.migratable()) {
      throw MigrationRefused.conflict(
          "Cannot 'os-migrateLive' instance "
              + uuid
              + " while it is in vm_state "
              + inst.status().toLowerCase());
    }
    if (c.tx().reports().duplicateSince(uuid) != 0) {
      // Which copy is the real one is the operator's call; a migration would pick one blindly.
      String hosts =
          String.join(
              " and ",
              c.tx().reports().domainsOf(uuid).stream().map(HostReports.Domain::host).toList());
      throw MigrationRefused.conflict(
          "Cannot 'os-migrateLive' instance "
              + uuid
              + ": it runs on both "
              + hosts
              + "; destroy the copy that must not run first");
    }
    if (req.host() != null) checkDestination(c, inst, req.host());
    MigrationRow m = new MigrationRow();
    m.uuid = UUID.randomUUID().toString();
    m.instanceUuid = uuid;
    m.sourceCompute = inst.host();
    m.requestedHost = req.host();
    // "auto" copies the disk unless the destination turns out to see the source's storage.
    m.blockMigration = req.blockMigration() || req.blockAuto();
    m.blockAuto = req.blockAuto();
    m.requestId = req.requestId();
    m.projectId = inst.projectId();
    m.userId = inst.userId();
    m.memoryTotal = inst.memoryMb() * 1024 * 1024;
    m.memoryRemaining = m.memoryTotal;
    m.diskTotal = m.blockMigration ? inst.diskGb() * 1024 * 1024 * 1024 : 0;
    m.diskRemaining = m.diskTotal;
    m.createdMs = c.now();
    m.updatedMs = c.now();
    Planner.plan(c, m, inst);
    c.tx().migrations().insert(m);
    c.tx()
        .inventory()
        .upsertInstance(inst.withHostStatus(inst.host(), "MIGRATING", "migrating", c.now()));
    c.saga().accepted(c, m, req.force() && req.host() != null);
    c.tx().migrations().update(m);
    c.fx()
        .afterCommit(
            () ->
                LOG.info(
                    "{} live migration accepted: {} -> {}, block_migration={}; predicted: {}",
                    Saga.ctx(m),
                    m.sourceCompute,
                    req.host() == null ? "(scheduler picks)" : req.host(),
                    req.blockAuto() ? "auto" : req.blockMigration(),
                    m.plannedStrategy + " (" + m.plannedReason + ")"));
    return m;
  }

  /**
   * Nova's synchronous destination checks, from the store. They apply to {@code force: true} as
   * well (force only skips the scheduler's filters and claim).
   */
  private static void checkDestination(StepContext c, InstanceRow inst, String host) {
    Optional<ServiceRow> svc = c.tx().inventory().service(host, Inventory.COMPUTE_BINARY);
    Optional<HostRow> hr = c.tx().inventory().host(host);
    if (svc.isEmpty() || hr.isEmpty()) {
      throw MigrationRefused.invalid("Compute host " + host + " could not be found.");
    }
    if (host.equals(inst.host())) {
      throw MigrationRefused.invalid(
          "Unable to migrate instance (" + inst.uuid() + ") to current host (" + host + ").");
    }
    ServiceRow sv = svc.get();
    if (sv.forcedDown() || c.now() - sv.lastSeenMs() > c.settings().serviceDownTimeMs()) {
      throw MigrationRefused.invalid(
          "Compute service of " + host + " is unavailable at this time.");
    }
    if (sv.disabled()) {
      throw MigrationRefused.invalid(
          "No valid host was found. Compute service of " + host + " is disabled.");
    }
    Usage u = c.tx().inventory().usage(host, false).stream().findFirst().orElse(Usage.none(host));
    HostRow h = hr.get();
    if (h.memoryMb() - u.memoryMb() < inst.memoryMb()) {
      throw MigrationRefused.invalid(
          "No valid host was found. Insufficient RAM on "
              + host
              + ": "
              + inst.memoryMb()
              + " MB needed, "
              + Math.max(0, h.memoryMb() - u.memoryMb())
              + " MB free.");
    }
    if (h.diskGb() - u.diskGb() < inst.diskGb()) {
      throw MigrationRefused.invalid(
          "No valid host was found. Insufficient disk on "
              + host
              + ": "
              + inst.diskGb()
              + " GB needed, "
              + Math.max(0, h.diskGb() - u.diskGb())
              + " GB free.");
    }
    if ((long) (h.vcpus() * CPU_RATIO) - u.vcpus() < inst.vcpus()) {
      throw MigrationRefused.invalid(
          "No valid host was found. Insufficient vCPUs on " + host + ".");
    }
  }
}
