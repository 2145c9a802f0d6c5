package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Reason;
import io.livemigrate.conductor.ServiceRow;
import io.livemigrate.conductor.Step;
import io.livemigrate.conductor.store.HostReports.Domain;
import io.livemigrate.conductor.store.HostReports.Report;
import io.livemigrate.conductor.store.InventoryTables;
import io.livemigrate.conductor.store.MigrationTable;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compares what the hypervisors run (their latest reports) with the record, and repairs it. It
 * concludes only from what runs where, never from a domain's absence on one host alone, and it
 * never destroys anything: a domain running on two hosts is flagged for an operator.
 *
 * <ul>
 *   <li>An instance whose record names another host than the one that runs it is moved in the
 *       record ({@code instance.host_corrected}), once the recorded host's own report, newer than
 *       the record, lacks it (or that host is down).
 *   <li>A running migration whose source reports no job for it in two reports in a row: running on
 *       the source only → failed; on the destination only → post-migration; on both → error
 *       (DUPLICATE_DOMAIN); on neither, by both hosts' fresh reports → error (INSTANCE_LOST).
 * </ul>
 */
final class Reconciler {
  private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);
  private static final Set<String> RUNS = Set.of("running", "paused");

  private final ConductorSettings settings;
  private final ConductorMetrics metrics;

  Reconciler(ConductorSettings settings, ConductorMetrics metrics) {
    this.settings = settings;
    this.metrics = metrics;
  }

  /**
   * Instance-level repairs after a host's report was stored (same transaction).
   *
   * @param jobs the instances whose migration jobs the host reported; null when it does not say
   * @return the migrations copying from the host that {@link #migration} must look at next (each in
   *     a transaction of its own, which locks the migration before its instance like the saga
   *     does): those whose job the report lacks, or lacked before. A migration whose job the source
   *     reports has nothing to repair; locking each one for every report was two transactions per
   *     migration and second under load.
   */
  List<String> afterReport(
      StepContext c, String host, Set<String> reported, java.util.Collection<String> jobs) {
    InventoryTables inv = c.tx().inventory();
    Set<String> candidates = new java.util.LinkedHashSet<>(reported);
    for (InstanceRow i : inv.instances(host)) candidates.add(i.uuid());
    for (String uuid : candidates) {
      Optional<InstanceRow> found = inv.instance(uuid);
      if (found.isEmpty()) continue;
      InstanceRow rec = found.get();
      if ("MIGRATING".equals(rec.status())) continue;
      List<Domain> where = c.tx().reports().domainsOf(rec.uuid());
      Optional<Domain> onRecorded =
          where.stream()
              .filter(d -> d.host().equals(rec.host()) && RUNS.contains(d.state()))
              .findAny();
      // A report taken before the record's last change (the source's, from before the migration
      // that moved it) says nothing about where it runs now.
      List<Domain> elsewhere =
          where.stream()
              .filter(d -> !d.host().equals(rec.host()) && RUNS.contains(d.state()))
              .filter(d -> d.reportedMs() > rec.updatedMs())
              .toList();
      if (elsewhere.isEmpty()) {
        if (onRecorded.isPresent()) c.tx().reports().markDuplicate(rec.uuid(), 0);
        continue;
      }
      if (onRecorded.isPresent()) {
        duplicate(c, rec, elsewhere.get(0).host());
        continue;
      }
      c.tx().reports().markDuplicate(rec.uuid(), 0);
      if (elsewhere.size() == 1 && recordedHostLacksIt(c, rec)) {
        correct(c, rec, elsewhere.get(0));
      }
    }
    if (jobs == null) return List.of(); // an older agent: migration() could not judge either
    Set<String> running = new java.util.HashSet<>(jobs);
    return c.tx().migrations().transfersFrom(host).stream()
        .filter(t -> t.jobMissingSinceMs() != 0 || !running.contains(t.instanceUuid()))
        .map(MigrationTable.Transfer::uuid)
        .toList();
  }

  /**
   * The recorded host said, after the record's last change, that it does not run the instance; or
   * it is down, so it cannot say.
   */
  private boolean recordedHostLacksIt(StepContext c, InstanceRow rec) {
    Optional<Report> r = c.tx().reports().lastReport(rec.host());
    if (r.isPresent() && r.get().receivedMs() > rec.updatedMs()) return true;
    Optional<ServiceRow> svc = c.tx().inventory().service(rec.host(), Inventory.COMPUTE_BINARY);
    return svc.isEmpty()
        || svc.get().forcedDown()
        || c.now() - svc.get().lastSeenMs() > settings.serviceDownTimeMs();
  }

  private void correct(StepContext c, InstanceRow rec, Domain actual) {
    String status = "paused".equals(actual.state()) ? "PAUSED" : "ACTIVE";
    c.tx().inventory().upsertInstance(rec.withHostStatus(actual.host(), status, null, c.now()));
    c.messages()
        .notifyInstance(
            c,
            "instance.host_corrected",
            new JsonObject()
                .put("instance_uuid", rec.uuid())
                .put("name", rec.name())
                .put("before", rec.host())
                .put("after", actual.host()));
    c.fx()
        .afterCommit(
            () -> {
              metrics.reconciled("host_corrected");
              LOG.warn(
                  "[instance: {}] {} runs on {}, not on {} as recorded: record corrected",
                  rec.uuid(),
                  rec.name(),
                  actual.host(),
                  rec.host());
            });
  }

  /** Two hosts run the instance: flagged (gauge, alert), never destroyed. */
  private void duplicate(StepContext c, InstanceRow rec, String other) {
    long before = c.tx().reports().markDuplicate(rec.uuid(), c.now());
    if (before != 0) return; // flagged already
    c.fx()
        .afterCommit(
            () -> {
              metrics.reconciled("duplicate_domain");
              LOG.error(
                  "[instance: {}] {} runs on both {} and {}; neither was destroyed: an operator"
                      + " must choose",
                  rec.uuid(),
                  rec.name(),
                  rec.host(),
                  other);
            });
  }

  /** A migration from or to a host that just reported, locked in the caller's transaction. */
  void migration(StepContext c, MigrationRow m) {
    boolean transfer =
        (m.status == MigrationStatus.RUNNING || m.status == MigrationStatus.POSTCOPY)
            && (m.step == Step.MONITOR || m.step == Step.ABORT);
    if (!transfer) return;
    InventoryTables inv = c.tx().inventory();
    Optional<Report> src = c.tx().reports().lastReport(m.sourceCompute);
    // A report without jobs (an older agent) or from before the start says nothing.
    if (src.isEmpty() || !src.get().jobsReported() || src.get().receivedMs() <= m.runningMs) return;
    Map<String, Domain> where = new HashMap<>();
    for (Domain d : c.tx().reports().domainsOf(m.instanceUuid)) where.put(d.host(), d);
    Domain onSrc = where.get(m.sourceCompute);
    if (onSrc != null && onSrc.job()) {
      m.jobMissingSinceMs = 0;
      return;
    }
    if (m.jobMissingSinceMs == 0) {
      // Once is not enough: the outcome may be on its way. Decide on a later report.
      m.jobMissingSinceMs = c.now();
      return;
    }
    if (src.get().receivedMs() <= m.jobMissingSinceMs
        || c.now() - m.jobMissingSinceMs < settings.reportIntervalMs()) {
      return;
    }
    boolean runsOnSrc = onSrc != null && RUNS.contains(onSrc.state());
    Domain onDst = m.destCompute == null ? null : where.get(m.destCompute);
    // An incoming domain is paused on the destination until the switch-over: not running there.
    boolean runsOnDst = onDst != null && "running".equals(onDst.state());
    Optional<Report> dst =
        m.destCompute == null ? Optional.empty() : c.tx().reports().lastReport(m.destCompute);
    boolean dstFresh = dst.isPresent() && dst.get().receivedMs() > m.jobMissingSinceMs;
    String src0 = m.sourceCompute;
    String dst0 = m.destCompute;
    if (runsOnDst && runsOnSrc && "running".equals(onSrc.state())) {
      repaired(c, m, "duplicate_domain");
      c.saga()
          .finish(
              c,
              m,
              MigrationStatus.ERROR,
              Reason.DUPLICATE_DOMAIN,
              "The instance runs on both "
                  + src0
                  + " and "
                  + dst0
                  + " and no migration job exists; neither was destroyed: an operator must"
                  + " choose.");
      c.tx().reports().markDuplicate(m.instanceUuid, c.now());
    } else if (runsOnDst) {
      // Never from the guest's absence on the source alone: the destination says it runs there.
      repaired(c, m, "completed_behind");
      m.act(
          "reconciled: no job on "
              + src0
              + " and the instance is not on "
              + src0
              + "; it runs on "
              + dst0,
          c.now());
      m.completionDeadlineMs = 0;
      c.saga().next(c, m, Step.POST);
    } else if (runsOnSrc && m.status == MigrationStatus.RUNNING && (dstFresh || destDown(c, m))) {
      repaired(c, m, "failed_behind");
      // An outcome lost with the agent that went down: its loss is the cause we know of.
      Reason r =
          m.abortReason != null
              ? Reason.valueOf(m.abortReason)
              : m.actions.stream().anyMatch(a -> a.contains(" " + Saga.SOURCE_LOST_ACTION))
                  ? Reason.SOURCE_AGENT_LOST
                  : Reason.HYPERVISOR_ERROR;
      String why =
          "The migration job on "
              + src0
              + " ended without its outcome reaching the conductor; the instance is still on "
              + src0
              + " (reconciled)";
      c.saga()
          .finish(
              c,
              m,
              m.abortReason == null ? MigrationStatus.FAILED : TransferStep.aborted(r),
              r,
              why);
    } else if (!runsOnSrc && dstFresh) {
      repaired(c, m, "instance_lost");
      c.saga()
          .finish(
              c,
              m,
              MigrationStatus.ERROR,
              Reason.INSTANCE_LOST,
              "The instance runs on neither " + src0 + " nor " + dst0 + " and no job exists.");
    }
  }

  private boolean destDown(StepContext c, MigrationRow m) {
    if (m.destCompute == null) return true;
    Optional<ServiceRow> svc = c.tx().inventory().service(m.destCompute, Inventory.COMPUTE_BINARY);
    return svc.isEmpty()
        || svc.get().forcedDown()
        || c.now() - svc.get().lastSeenMs() > settings.serviceDownTimeMs();
  }

  private void repaired(StepContext c, MigrationRow m, String kind) {
    c.messages()
        .notify(
            c,
            "migration.reconciled",
            m,
            new JsonObject().put("repair", kind).put("source_compute", m.sourceCompute));
    c.fx()
        .afterCommit(
            () -> {
              metrics.reconciled(kind);
              LOG.info("{} reconciled from the hypervisors' reports: {}", Saga.ctx(m), kind);
            });
  }
}
