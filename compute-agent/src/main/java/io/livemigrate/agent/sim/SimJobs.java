package io.livemigrate.agent.sim;

import io.livemigrate.agent.Hypervisor.JobStats;
import io.livemigrate.agent.Hypervisor.MigrationFlags;
import io.livemigrate.agent.Hypervisor.MigrationResult;
import io.livemigrate.agent.HypervisorException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The outbound migration jobs of a {@link SimulatedHypervisor}: one {@link PrecopyModel} each,
 * advanced on the scheduler every {@code tick} ms by the real time that passed, and the controls a
 * running job takes. A job's end changes the source's {@link SimInventory}: completion removes the
 * domain, failure or abort leaves it running.
 *
 * <p>Every job operation takes the hypervisor's lock (ticks arrive on the scheduler's thread), so a
 * job and the inventory change together; futures are completed outside it, so that a caller's
 * callback never runs under the lock.
 */
final class SimJobs {

  private static final long MIB = SimDomain.MIB;

  private final String host;
  private final Object lock;
  private final SimInventory inventory;
  private final FailureScripts scripts;
  private final long linkBandwidthBps;
  private final long tickMs;
  private final ScheduledExecutorService scheduler;
  private volatile SimFabric fabric = SimFabric.NONE;
  private final boolean ownsScheduler;

  private final Map<String, Job> jobs = new HashMap<>();
  private boolean closed;

  /**
   * @param lock the hypervisor's lock, which also guards {@code inventory} and {@code scripts}
   * @param ownsScheduler whether {@link #close()} shuts {@code scheduler} down
   * @throws IllegalArgumentException if the bandwidth or the tick is not positive
   */
  SimJobs(
      String host,
      Object lock,
      SimInventory inventory,
      FailureScripts scripts,
      long linkBandwidthBps,
      long tickMs,
      ScheduledExecutorService scheduler,
      boolean ownsScheduler) {
    if (linkBandwidthBps <= 0) {
      throw new IllegalArgumentException("link bandwidth must be positive: " + linkBandwidthBps);
    }
    if (tickMs <= 0) {
      throw new IllegalArgumentException("tick must be positive: " + tickMs);
    }
    this.host = host;
    this.lock = lock;
    this.inventory = inventory;
    this.scripts = scripts;
    this.linkBandwidthBps = linkBandwidthBps;
    this.tickMs = tickMs;
    this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
    this.ownsScheduler = ownsScheduler;
  }

  /** A single daemon thread for the ticks of a host that has no shared scheduler. */
  static ScheduledExecutorService ownScheduler(String host) {
    return Executors.newSingleThreadScheduledExecutor(
        r -> {
          Thread t = new Thread(r, "sim-hypervisor-" + host);
          t.setDaemon(true);
          return t;
        });
  }

  Set<String> uuids() {
    synchronized (lock) {
      return Set.copyOf(jobs.keySet());
    }
  }

  /** See {@link SimulatedHypervisor#migrate}. */
  CompletableFuture<MigrationResult> start(String uuid, String destHost, MigrationFlags flags)
      throws HypervisorException {
    synchronized (lock) {
      if (closed) {
        throw new HypervisorException("HYPERVISOR_ERROR", "hypervisor " + host + " is closed");
      }
      Optional<SimDomain> domain = inventory.domain(uuid);
      if (domain.isEmpty()) {
        throw new HypervisorException("NOT_FOUND", "no domain " + uuid + " on " + host);
      }
      if (jobs.containsKey(uuid)) {
        throw new HypervisorException(
            "HYPERVISOR_ERROR", "a migration job is already running for " + uuid);
      }
      if (host.equals(destHost)) {
        throw new HypervisorException(
            "HYPERVISOR_ERROR", "attempt to migrate guest " + uuid + " to the same host " + host);
      }
      scripts.check(FailurePoint.MIGRATE_START, uuid, "HYPERVISOR_ERROR");
      SimDomain d = domain.get();
      PrecopyModel model =
          PrecopyModel.builder(d.memoryBytes())
              .diskBytes(flags.blockMigration() ? d.diskBytes() : 0)
              .dirtyRateBps(d.dirtyRateBps())
              .workingSetBytes(d.effectiveWorkingSetBytes())
              .bandwidthBps(bandwidthFor(flags.bandwidthMibps()))
              .maxDowntimeMs(Math.max(0, flags.maxDowntimeMs()))
              .autoConverge(flags.autoConverge())
              .postCopyPermitted(flags.postCopy())
              .instant(d.instant())
              .build();
      Job job = new Job(uuid, destHost, d, model, System.nanoTime());
      jobs.put(uuid, job);
      // Scheduled under the lock so the first tick cannot run before job.task is set.
      try {
        job.task = scheduler.scheduleAtFixedRate(() -> tick(job), 0, tickMs, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        jobs.remove(uuid);
        throw new HypervisorException(
            "HYPERVISOR_ERROR", "simulator scheduler of " + host + " is shut down", e);
      }
      return job.future;
    }
  }

  private long bandwidthFor(long mibps) {
    return mibps > 0 ? mibps * MIB : linkBandwidthBps;
  }

  private void tick(Job job) {
    MigrationResult done = null;
    HypervisorException failure = null;
    synchronized (lock) {
      if (jobs.get(job.uuid) != job) {
        // Ended by abort or close between scheduling and now.
        job.task.cancel(false);
        return;
      }
      long now = System.nanoTime();
      long nanos = now - job.lastNanos + job.carryNanos;
      job.lastNanos = now;
      job.carryNanos = nanos % 1_000_000L;
      try {
        job.model.step(nanos / 1_000_000L);
      } catch (RuntimeException e) {
        failure =
            new HypervisorException("HYPERVISOR_ERROR", "simulated migration failed: " + e, e);
      }
      if (failure == null) {
        String midway = scripts.message(FailurePoint.MIGRATE_MIDWAY, job.uuid);
        // Checked even when the model completed in this step: the half-way mark was passed
        // before completion, so a scripted job fails however coarse the ticks are.
        if (midway != null
            && 2 * job.model.memoryProcessedBytes() > job.model.snapshot().memoryTotalBytes()) {
          failure = new HypervisorException("HYPERVISOR_ERROR", midway);
        }
      }
      if (failure != null) {
        endJob(job);
        inventory.resume(job.uuid);
      } else if (job.model.isCompleted()) {
        endJob(job);
        done = job.model.result().orElseThrow();
        inventory.remove(job.uuid);
      }
    }
    if (failure != null) {
      job.future.completeExceptionally(failure);
    } else if (done != null) {
      // Before the future: whoever learns of the completion finds the guest at its destination.
      fabric.deliver(job.destHost, job.guest);
      job.future.complete(done);
    }
  }

  /** Where completed transfers deliver their guests. */
  void linkTo(SimFabric f) {
    this.fabric = Objects.requireNonNull(f, "fabric");
  }

  private void endJob(Job job) {
    jobs.remove(job.uuid);
    if (job.task != null) {
      job.task.cancel(false);
    }
  }

  /** See {@link SimulatedHypervisor#reattach()}. */
  Map<String, CompletableFuture<MigrationResult>> reattach() {
    Map<String, CompletableFuture<MigrationResult>> out = new HashMap<>();
    synchronized (lock) {
      jobs.forEach(
          (uuid, job) -> {
            if (!job.future.isDone()) out.put(uuid, job.future);
          });
    }
    return out;
  }

  Optional<JobStats> stats(String uuid) {
    synchronized (lock) {
      Job job = jobs.get(uuid);
      return job == null ? Optional.empty() : Optional.of(job.model.snapshot());
    }
  }

  /** Passes a domain's new dirty rate on to its running job, if it has one. */
  void setDirtyRate(String uuid, long bps) {
    synchronized (lock) {
      Job job = jobs.get(uuid);
      if (job != null) {
        job.model.setDirtyRate(bps);
      }
    }
  }

  /** See {@link SimulatedHypervisor#setMaxDowntime}. */
  void setMaxDowntime(String uuid, long ms) throws HypervisorException {
    synchronized (lock) {
      requireJob(uuid, ms, "negative max downtime: ").model.setMaxDowntimeMs(ms);
    }
  }

  /** See {@link SimulatedHypervisor#setMaxSpeed}. */
  void setMaxSpeed(String uuid, long mibps) throws HypervisorException {
    synchronized (lock) {
      requireJob(uuid, mibps, "negative bandwidth: ").model.setBandwidth(bandwidthFor(mibps));
    }
  }

  /** See {@link SimulatedHypervisor#abortJob}. */
  void abort(String uuid) throws HypervisorException {
    Job job;
    synchronized (lock) {
      job = requireJob(uuid);
      if (scripts.message(FailurePoint.ABORT_IGNORED, uuid) != null) {
        return;
      }
      job.model.abort();
      endJob(job);
      inventory.resume(uuid);
    }
    job.future.completeExceptionally(
        new HypervisorException("CANCELLED", "migration job cancelled"));
  }

  /** See {@link SimulatedHypervisor#suspend}. */
  void suspend(String uuid) throws HypervisorException {
    synchronized (lock) {
      Job job = requireJob(uuid);
      job.model.pause();
      inventory.markPaused(uuid);
    }
  }

  /** See {@link SimulatedHypervisor#startPostCopy}. */
  void startPostCopy(String uuid) throws HypervisorException {
    synchronized (lock) {
      Job job = requireJob(uuid);
      if (!job.model.postCopyPermitted()) {
        throw new HypervisorException(
            "HYPERVISOR_ERROR", "post-copy was not enabled for the migration of " + uuid);
      }
      try {
        job.model.startPostCopy();
      } catch (IllegalStateException e) {
        throw new HypervisorException("HYPERVISOR_ERROR", e.getMessage(), e);
      }
      inventory.markPaused(uuid);
    }
  }

  /** See {@link SimulatedHypervisor#cleanupSource}. */
  void cleanupSource(String uuid) {
    Job job;
    synchronized (lock) {
      inventory.remove(uuid);
      job = jobs.get(uuid);
      if (job != null) {
        job.model.abort();
        endJob(job);
      }
    }
    if (job != null) {
      job.future.completeExceptionally(
          new HypervisorException("CANCELLED", "domain " + uuid + " removed from " + host));
    }
  }

  /** See {@link SimulatedHypervisor#close()}. */
  void close() {
    List<Job> ended;
    synchronized (lock) {
      closed = true;
      ended = new ArrayList<>(jobs.values());
      for (Job job : ended) {
        job.model.abort();
        endJob(job);
        inventory.resume(job.uuid);
      }
    }
    for (Job job : ended) {
      job.future.completeExceptionally(
          new HypervisorException("HYPERVISOR_ERROR", "hypervisor " + host + " closed"));
    }
    if (ownsScheduler) {
      scheduler.shutdownNow();
    }
  }

  /**
   * {@link #requireJob(String)}, then a refusal of a negative {@code value}: the job is checked
   * first, so an unknown domain is NOT_FOUND whatever the value.
   */
  private Job requireJob(String uuid, long value, String negative) throws HypervisorException {
    Job job = requireJob(uuid);
    if (value < 0) {
      throw new HypervisorException("HYPERVISOR_ERROR", negative + value);
    }
    return job;
  }

  private Job requireJob(String uuid) throws HypervisorException {
    Job job = jobs.get(uuid);
    if (job != null) {
      return job;
    }
    if (!inventory.hasDomain(uuid)) {
      throw new HypervisorException("NOT_FOUND", "no domain " + uuid + " on " + host);
    }
    throw new HypervisorException("NO_JOB", "no migration job running for " + uuid);
  }

  private static final class Job {
    final String uuid;
    final String destHost;
    final SimDomain guest;
    final PrecopyModel model;
    final CompletableFuture<MigrationResult> future = new CompletableFuture<>();
    ScheduledFuture<?> task;
    long lastNanos;
    long carryNanos;

    Job(String uuid, String destHost, SimDomain guest, PrecopyModel model, long startNanos) {
      this.uuid = uuid;
      this.destHost = destHost;
      this.guest = guest;
      this.model = model;
      this.lastNanos = startNanos;
    }
  }
}
