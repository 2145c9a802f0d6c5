package io.livemigrate.agent.libvirt;

import com.sun.jna.NativeLong;
import io.livemigrate.agent.Hypervisor.JobStats;
import io.livemigrate.agent.HypervisorException;
import java.util.Map;
import java.util.Optional;
import org.libvirt.DomainInfo;
import org.libvirt.LibvirtException;

/**
 * A running outbound migration as the conductor watches and steers it: its statistics, its max
 * downtime and speed, abort, and the two ways to force it to complete (pause the guest, post-copy).
 * Each acts on the migration job libvirt runs, whoever started it.
 */
final class JobControl {
  /** libvirt's "no limit" migration speed, MiB/s (what migrate-getspeed reports unlimited as). */
  private static final long UNLIMITED_MIBPS = 8796093022207L;

  private final Libvirt lv;
  private final Map<String, MigrationJob> jobs;

  JobControl(Libvirt lv, Map<String, MigrationJob> jobs) {
    this.lv = lv;
    this.jobs = jobs;
  }

  Optional<JobStats> jobStats(String uuid) {
    MigrationJob job = jobs.get(uuid);
    try {
      org.libvirt.Domain d = lv.conn().domainLookupByUUIDString(uuid);
      Map<String, Long> v = JobValues.of(d.getJobStats(0));
      if (v.isEmpty() || v.get("type") == JobValues.JOB_CANCELLED) return Optional.empty();
      boolean postCopy = job != null && job.postCopy;
      String mode =
          postCopy
              ? "postcopy"
              : d.getInfo().state == DomainInfo.DomainState.VIR_DOMAIN_PAUSED
                  ? "paused"
                  : "precopy";
      long page = v.getOrDefault("memory_page_size", 4096L);
      JobStats st =
          new JobStats(
              mode,
              v.getOrDefault("memory_total", 0L),
              v.getOrDefault("memory_processed", 0L),
              v.getOrDefault("memory_remaining", 0L),
              v.getOrDefault("disk_total", 0L),
              v.getOrDefault("disk_processed", 0L),
              v.getOrDefault("disk_remaining", 0L),
              v.getOrDefault("memory_dirty_rate", 0L) * page,
              v.getOrDefault("memory_bps", 0L),
              (int) (long) v.getOrDefault("memory_iteration", 0L),
              v.getOrDefault("downtime", 0L),
              v.getOrDefault("time_elapsed", 0L));
      if (job != null) job.last = st;
      return Optional.of(st);
    } catch (LibvirtException e) {
      // Gone from here or no longer running: the job ended; migrate()'s future tells how.
      return Optional.empty();
    }
  }

  /** A domain with a migration job running in libvirt, whoever started it. */
  private org.libvirt.Domain withJob(String uuid) throws HypervisorException {
    org.libvirt.Domain d = lv.lookup(lv.conn(), uuid);
    try {
      if (JobValues.of(d.getJobStats(0)).isEmpty()) {
        throw new HypervisorException("NO_JOB", "no migration job runs for " + uuid);
      }
    } catch (LibvirtException e) {
      throw new HypervisorException("NO_JOB", "no migration job runs for " + uuid, e);
    }
    return d;
  }

  void setMaxDowntime(String uuid, long ms) throws HypervisorException {
    try {
      withJob(uuid).migrateSetMaxDowntime(ms);
    } catch (LibvirtException e) {
      throw Libvirt.error("set max downtime of " + uuid, e);
    }
  }

  void setMaxSpeed(String uuid, long mibps) throws HypervisorException {
    long speed = mibps <= 0 ? UNLIMITED_MIBPS : mibps;
    Libvirt.check(
        Libvirt.withPtr(
            withJob(uuid),
            p -> VirtNative.LIB.virDomainMigrateSetMaxSpeed(p, new NativeLong(speed), 0)),
        "set max speed of " + uuid);
  }

  void abortJob(String uuid) throws HypervisorException {
    org.libvirt.Domain d = withJob(uuid);
    MigrationJob job = jobs.get(uuid);
    if (job != null) job.aborted = true;
    try {
      d.abortJob();
    } catch (LibvirtException e) {
      throw Libvirt.error("abort job of " + uuid, e);
    }
  }

  void suspend(String uuid) throws HypervisorException {
    try {
      org.libvirt.Domain d = withJob(uuid);
      MigrationJob job = jobs.get(uuid);
      if (job != null) job.suspended = true;
      d.suspend();
    } catch (LibvirtException e) {
      throw Libvirt.error("suspend " + uuid, e);
    }
  }

  void startPostCopy(String uuid) throws HypervisorException {
    org.libvirt.Domain d = withJob(uuid);
    Libvirt.check(
        Libvirt.withPtr(d, p -> VirtNative.LIB.virDomainMigrateStartPostCopy(p, 0)),
        "start post-copy of " + uuid);
    MigrationJob job = jobs.get(uuid);
    if (job != null) job.postCopy = true;
  }
}
