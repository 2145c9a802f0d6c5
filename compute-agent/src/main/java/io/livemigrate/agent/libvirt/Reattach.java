package io.livemigrate.agent.libvirt;

import io.livemigrate.agent.Hypervisor.MigrationResult;
import io.livemigrate.agent.HypervisorException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.libvirt.LibvirtException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * After an agent restart: the outbound migrations libvirt still runs for domains of this host, a
 * peer-to-peer migration being driven by the source libvirtd, not by the process that started it.
 */
final class Reattach {
  private static final Logger LOG = LoggerFactory.getLogger(Reattach.class);

  private final Libvirt lv;
  private final Map<String, MigrationJob> jobs;
  private final JobControl control;
  private final MigrationOutcome outcome;

  Reattach(
      Libvirt lv, Map<String, MigrationJob> jobs, JobControl control, MigrationOutcome outcome) {
    this.lv = lv;
    this.jobs = jobs;
    this.control = control;
    this.outcome = outcome;
  }

  /**
   * Finds outbound migrations libvirt runs for domains of this host that no job of this process
   * tracks. Each is watched by polling its job until it ends; the outcome is then read from where
   * the domain is: gone from here means it runs on the destination, whose completed statistics give
   * the measured downtime when the destination is known (from the agent's journal); otherwise the
   * source's job-completed event does, or the downtime is unknown (-1).
   */
  Map<String, CompletableFuture<MigrationResult>> reattach(Map<String, String> destinations) {
    Map<String, CompletableFuture<MigrationResult>> found = new LinkedHashMap<>();
    try {
      for (org.libvirt.Domain d : lv.conn().listAllDomains(1 /* ACTIVE */)) {
        String uuid = d.getUUIDString();
        Map<String, Long> v = JobValues.of(d.getJobStats(0));
        if (v.getOrDefault("operation", 0L) != JobValues.OPERATION_MIGRATION_OUT) continue;
        MigrationJob job = new MigrationJob(uuid);
        if (jobs.putIfAbsent(uuid, job) != null) continue;
        String destHost = destinations.get(uuid);
        String dest = destHost == null ? null : lv.uriOf(destHost);
        LOG.info("[host {}] re-attached to the running migration of {} to {}", lv.host, uuid, dest);
        Thread t = new Thread(() -> watch(job, dest), "libvirt-watch-" + uuid);
        t.setDaemon(true);
        t.start();
        found.put(uuid, job.future);
      }
    } catch (LibvirtException e) {
      LOG.warn("[host {}] looking for running migrations: {}", lv.host, e.getMessage());
    }
    return found;
  }

  private void watch(MigrationJob job, String dest) {
    try {
      while (control.jobStats(job.uuid).isPresent()) {
        Thread.sleep(500);
      }
      boolean stillHere;
      try {
        stillHere = lv.conn().domainLookupByUUIDString(job.uuid).isActive() == 1;
      } catch (LibvirtException e) {
        stillHere = false;
      }
      if (stillHere) {
        job.future.completeExceptionally(
            new HypervisorException(
                job.aborted ? "CANCELLED" : "HYPERVISOR_ERROR",
                "the migration job ended and the domain still runs on " + lv.host));
      } else if (dest != null) {
        job.future.complete(outcome.at(job, dest));
      } else {
        job.future.complete(outcome.withoutDestination(job));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      job.future.completeExceptionally(
          new HypervisorException("HYPERVISOR_ERROR", "stopped watching " + job.uuid));
    } finally {
      jobs.remove(job.uuid);
    }
  }
}
