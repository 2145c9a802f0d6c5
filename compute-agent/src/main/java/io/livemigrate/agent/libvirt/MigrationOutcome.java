package io.livemigrate.agent.libvirt;

import io.livemigrate.agent.Hypervisor.JobStats;
import io.livemigrate.agent.Hypervisor.MigrationResult;
import io.livemigrate.agent.HypervisorException;
import io.livemigrate.agent.libvirt.Libvirt.Closing;
import java.util.LinkedHashMap;
import java.util.Map;
import org.libvirt.DomainJobStats;
import org.libvirt.LibvirtException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The measured figures of a finished outbound migration: the destination keeps the completed job's
 * statistics; the source's job-completed event has the downtime where they lack it; the last sample
 * of the running job fills in what neither has.
 */
final class MigrationOutcome {
  private static final Logger LOG = LoggerFactory.getLogger(MigrationOutcome.class);

  /** How long the job-completed event may trail the end of the job. */
  private static final long EVENT_WAIT_MS = 3000;

  private final Libvirt lv;
  private final JobCompletedEvents events;

  MigrationOutcome(Libvirt lv, JobCompletedEvents events) {
    this.lv = lv;
    this.events = events;
  }

  /** Of a job that ended with its domain running at {@code dest} (a libvirt URI). */
  MigrationResult at(MigrationJob job, String dest) {
    long elapsed = job.elapsedMs();
    Map<String, Long> done = Map.of();
    try (Closing c = Closing.to(dest)) {
      DomainJobStats s =
          lv.lookup(c.conn(), job.uuid)
              .getJobStats(VirtNative.JOB_STATS_COMPLETED | VirtNative.JOB_STATS_KEEP_COMPLETED);
      done = JobValues.of(s);
    } catch (HypervisorException | LibvirtException e) {
      LOG.warn(
          "[host {}] completed job stats of {} unreadable: {}", lv.host, job.uuid, e.toString());
    }
    return finished(job, withCompletedEvent(job.uuid, done), elapsed);
  }

  /**
   * Of a re-attached job whose destination is unknown: this process registered for the
   * job-completed event before it re-attached, so the source's own figures (downtime included)
   * still arrive; the job's own clock is libvirt's.
   */
  MigrationResult withoutDestination(MigrationJob job) {
    JobStats last = job.last;
    long elapsed = last == null ? job.elapsedMs() : last.elapsedMs();
    return finished(job, withCompletedEvent(job.uuid, Map.of()), elapsed);
  }

  /**
   * The destination's completed statistics, and where they lack the downtime (after post-copy the
   * destination keeps none at all), the job-completed event's. That event fires here, on the
   * source, where the job ran, and carries the switch-over's downtime.
   */
  private Map<String, Long> withCompletedEvent(String uuid, Map<String, Long> done) {
    if (done.containsKey("downtime")) {
      events.forget(uuid);
      return done;
    }
    Map<String, Long> ev = events.take(uuid, EVENT_WAIT_MS);
    if (ev == null) {
      // The downtime is unknown (-1); with no destination figures either, the last sample is all.
      LOG.info("[host {}] no job-completed event for {}: downtime unknown", lv.host, uuid);
    }
    return merged(done, ev);
  }

  /**
   * The destination's figures with the event's downtime where they have none; the event's alone
   * where the destination has no figures at all.
   */
  static Map<String, Long> merged(Map<String, Long> done, Map<String, Long> event) {
    if (event == null || done.containsKey("downtime")) return done;
    if (done.isEmpty()) return event;
    Map<String, Long> merged = new LinkedHashMap<>(done);
    if (event.containsKey("downtime")) merged.put("downtime", event.get("downtime"));
    return merged;
  }

  static MigrationResult finished(MigrationJob job, Map<String, Long> done, long elapsed) {
    JobStats last = job.last;
    long memTotal = done.getOrDefault("memory_total", last == null ? 0 : last.memoryTotalBytes());
    return new MigrationResult(
        done.getOrDefault("downtime", -1L),
        memTotal,
        done.getOrDefault("memory_processed", last == null ? 0 : last.memoryProcessedBytes()),
        // The destination's completed statistics leave the disk copy out; the source saw it.
        Math.max(done.getOrDefault("disk_total", 0L), last == null ? 0 : last.diskTotalBytes()),
        Math.max(
            done.getOrDefault("disk_processed", 0L), last == null ? 0 : last.diskProcessedBytes()),
        (int) (long) done.getOrDefault("memory_iteration", last == null ? 0L : last.iteration()),
        done.getOrDefault("time_elapsed", elapsed),
        job.mode());
  }
}
