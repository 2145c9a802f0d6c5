package io.livemigrate.agent.sim;

import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.HypervisorException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@link Hypervisor} that runs no guests: each domain is a {@link SimDomain} and each migration a
 * {@link PrecopyModel} advanced on a scheduler every {@code tick} ms by the real time that passed,
 * so a migration takes about as long as it would on a link of the configured bandwidth.
 *
 * <p>The source and destination sides do not talk to each other: the agent (or a test) calls {@link
 * #prepareIncoming}/{@link #finishIncoming} on the destination's instance and {@link #migrate} on
 * the source's, as it would with libvirt.
 *
 * <p>Failures can be scripted with {@link #script}: a script stays in force, firing on every
 * matching call, until {@link #clearScripts()} (or a new {@link #script} for the same point and
 * uuid replaces its message).
 *
 * <p>Thread-safe: every method may be called from any thread; the state is guarded by one lock, and
 * futures are completed outside it.
 */
public final class SimulatedHypervisor implements Hypervisor {

  /** What {@link #type()} returns. */
  public static final String TYPE = "simulated";

  /** What {@link #version()} returns: 9.0.0 in libvirt's encoding. */
  public static final long VERSION = 9_000_000L;

  /** A uuid that matches every uuid in {@link #script}. */
  public static final String ANY = "*";

  private static final long MIB = SimDomain.MIB;

  private final String host;
  private final HostResources capacity;
  private final long linkBandwidthBps;
  private final long tickMs;
  private final ScheduledExecutorService scheduler;
  private final boolean ownsScheduler;

  private final Object lock = new Object();
  private final Map<String, Entry> domains = new LinkedHashMap<>();
  private final Map<String, IncomingSpec> incoming = new LinkedHashMap<>();
  private final Map<String, SimDomain> incomingProfiles = new HashMap<>();
  private final Map<String, Job> jobs = new HashMap<>();
  private final Map<FailurePoint, Map<String, String>> scripts = new EnumMap<>(FailurePoint.class);
  private boolean closed;

  /**
   * A simulated host that ticks its migrations on a shared scheduler (not shut down by {@link
   * #close()}).
   *
   * @param host this host's name
   * @param capacity what {@link #resources()} returns and {@link #prepareIncoming} checks
   * @param linkBandwidthBps migration bandwidth when the flags ask for none, bytes/s
   * @param tickMs how often running migrations advance, ms
   * @param scheduler runs the ticks; may be shared with other simulated hosts
   * @throws IllegalArgumentException if a number is not positive
   */
  public SimulatedHypervisor(
      String host,
      HostResources capacity,
      long linkBandwidthBps,
      long tickMs,
      ScheduledExecutorService scheduler) {
    this(host, capacity, linkBandwidthBps, tickMs, scheduler, false);
  }

  /**
   * A simulated host with its own single daemon scheduler thread, shut down by {@link #close()}.
   *
   * @throws IllegalArgumentException if a number is not positive
   */
  public SimulatedHypervisor(
      String host, HostResources capacity, long linkBandwidthBps, long tickMs) {
    this(
        host,
        capacity,
        linkBandwidthBps,
        tickMs,
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "sim-hypervisor-" + host);
              t.setDaemon(true);
              return t;
            }),
        true);
  }

  private SimulatedHypervisor(
      String host,
      HostResources capacity,
      long linkBandwidthBps,
      long tickMs,
      ScheduledExecutorService scheduler,
      boolean ownsScheduler) {
    this.host = Objects.requireNonNull(host, "host");
    this.capacity = Objects.requireNonNull(capacity, "capacity");
    if (linkBandwidthBps <= 0) {
      throw new IllegalArgumentException("link bandwidth must be positive: " + linkBandwidthBps);
    }
    if (tickMs <= 0) {
      throw new IllegalArgumentException("tick must be positive: " + tickMs);
    }
    this.linkBandwidthBps = linkBandwidthBps;
    this.tickMs = tickMs;
    this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
    this.ownsScheduler = ownsScheduler;
  }

  /** This host's name. */
  public String host() {
    return host;
  }

  @Override
  public String type() {
    return TYPE;
  }

  @Override
  public long version() {
    return VERSION;
  }

  @Override
  public HostResources resources() {
    return capacity;
  }

  // ---- test and demo controls -------------------------------------------------------------

  /**
   * Adds a running domain.
   *
   * @throws IllegalArgumentException if a domain with that uuid is already here
   */
  public void define(SimDomain domain) {
    Objects.requireNonNull(domain, "domain");
    synchronized (lock) {
      if (domains.containsKey(domain.uuid())) {
        throw new IllegalArgumentException("domain already defined: " + domain.uuid());
      }
      domains.put(domain.uuid(), new Entry(domain, "running"));
    }
  }

  /** The spec of a domain here, if there is one. */
  public Optional<SimDomain> domain(String uuid) {
    synchronized (lock) {
      Entry e = domains.get(uuid);
      return e == null ? Optional.empty() : Optional.of(e.spec);
    }
  }

  /** Whether an incoming reservation for {@code uuid} is held here. */
  public boolean hasIncoming(String uuid) {
    synchronized (lock) {
      return incoming.containsKey(uuid);
    }
  }

  /**
   * Changes how fast a domain dirties its memory, also for its running migration.
   *
   * @throws IllegalArgumentException if no such domain is here or {@code bps} is negative
   */
  public void setDirtyRate(String uuid, long bps) {
    synchronized (lock) {
      Entry e = domains.get(uuid);
      if (e == null) {
        throw new IllegalArgumentException("no domain " + uuid + " on " + host);
      }
      e.spec = e.spec.withDirtyRate(bps);
      Job job = jobs.get(uuid);
      if (job != null) {
        job.model.setDirtyRate(bps);
      }
    }
  }

  /**
   * Tells this host how a guest that may arrive here behaves: when {@link #finishIncoming} creates
   * {@code profile.uuid()}, it takes the dirty rate, working set and instant flag from here instead
   * of creating a guest that dirties nothing. The profile is used once.
   */
  public void setIncomingProfile(SimDomain profile) {
    Objects.requireNonNull(profile, "profile");
    synchronized (lock) {
      incomingProfiles.put(profile.uuid(), profile);
    }
  }

  /**
   * Makes {@code point} fail for {@code uuid} (or every uuid with {@link #ANY}) with {@code
   * message}. The script is persistent: it fires on every matching call until {@link
   * #clearScripts()}.
   */
  public void script(FailurePoint point, String uuid, String message) {
    Objects.requireNonNull(point, "point");
    Objects.requireNonNull(uuid, "uuid");
    String text = message == null ? "scripted failure at " + point : message;
    synchronized (lock) {
      scripts.computeIfAbsent(point, p -> new HashMap<>()).put(uuid, text);
    }
  }

  /** Drops every scripted failure. */
  public void clearScripts() {
    synchronized (lock) {
      scripts.clear();
    }
  }

  private String scripted(FailurePoint point, String uuid) {
    Map<String, String> byUuid = scripts.get(point);
    if (byUuid == null) {
      return null;
    }
    String exact = byUuid.get(uuid);
    return exact != null ? exact : byUuid.get(ANY);
  }

  // ---- Hypervisor ---------------------------------------------------------------------------

  /** Running and paused domains; incoming reservations are not listed. */
  @Override
  public List<Domain> listDomains() {
    synchronized (lock) {
      List<Domain> out = new ArrayList<>(domains.size());
      for (Entry e : domains.values()) {
        out.add(e.spec.toDomain(e.state));
      }
      return out;
    }
  }

  /**
   * Reserves memory and disk for the incoming instance. vCPUs may be overcommitted and are not
   * checked. Idempotent for a uuid already reserved here.
   *
   * @throws HypervisorException PREPARE_FAILED if scripted, if the domain already runs here, or if
   *     the free memory or disk (capacity minus domains here minus other reservations) is too small
   */
  @Override
  public void prepareIncoming(IncomingSpec spec) throws HypervisorException {
    Objects.requireNonNull(spec, "spec");
    synchronized (lock) {
      String failure = scripted(FailurePoint.PREPARE, spec.uuid());
      if (failure != null) {
        throw new HypervisorException("PREPARE_FAILED", failure);
      }
      if (incoming.containsKey(spec.uuid())) {
        return;
      }
      if (domains.containsKey(spec.uuid())) {
        throw new HypervisorException(
            "PREPARE_FAILED", "instance " + spec.uuid() + " already exists on " + host);
      }
      long usedMb = 0;
      long usedGb = 0;
      for (Entry e : domains.values()) {
        usedMb += e.spec.memoryMb();
        usedGb += e.spec.diskGb();
      }
      for (IncomingSpec other : incoming.values()) {
        usedMb += other.memoryMb();
        usedGb += other.diskGb();
      }
      long freeMb = capacity.memoryMb() - usedMb;
      long freeGb = capacity.diskGb() - usedGb;
      if (spec.memoryMb() > freeMb) {
        throw new HypervisorException(
            "PREPARE_FAILED",
            "insufficient memory on "
                + host
                + ": need "
                + spec.memoryMb()
                + " MB, free "
                + freeMb
                + " MB");
      }
      if (spec.diskGb() > freeGb) {
        throw new HypervisorException(
            "PREPARE_FAILED",
            "insufficient disk on "
                + host
                + ": need "
                + spec.diskGb()
                + " GB, free "
                + freeGb
                + " GB");
      }
      incoming.put(spec.uuid(), spec);
    }
  }

  @Override
  public void cancelIncoming(String uuid) {
    synchronized (lock) {
      incoming.remove(uuid);
      incomingProfiles.remove(uuid);
    }
  }

  /**
   * Turns the reservation into a running domain with the spec's attributes (and the behaviour given
   * by {@link #setIncomingProfile}, if any). A no-op if the domain already runs here.
   *
   * @throws HypervisorException HYPERVISOR_ERROR if scripted; NOT_FOUND if neither a reservation
   *     nor the domain is here
   */
  @Override
  public void finishIncoming(String uuid) throws HypervisorException {
    synchronized (lock) {
      String failure = scripted(FailurePoint.FINISH_INCOMING, uuid);
      if (failure != null) {
        throw new HypervisorException("HYPERVISOR_ERROR", failure);
      }
      if (domains.containsKey(uuid)) {
        incoming.remove(uuid);
        return;
      }
      IncomingSpec spec = incoming.remove(uuid);
      if (spec == null) {
        throw new HypervisorException("NOT_FOUND", "no incoming instance " + uuid + " on " + host);
      }
      SimDomain created = SimDomain.fromIncoming(spec);
      SimDomain profile = incomingProfiles.remove(uuid);
      if (profile != null) {
        created =
            created
                .withDirtyRate(profile.dirtyRateBps())
                .withWorkingSet(profile.workingSetBytes())
                .withInstant(profile.instant());
      }
      domains.put(uuid, new Entry(created, "running"));
    }
  }

  /**
   * Starts the simulated transfer. Memory is {@code memoryMb} MiB; the disk ({@code diskGb} GiB) is
   * copied first only with {@code blockMigration}; the bandwidth is {@code bandwidthMibps} MiB/s,
   * or the link bandwidth when that is 0. The first tick runs at once, so an instant guest's future
   * may already be complete when this returns. On completion the domain is gone from this host; on
   * failure or abort it stays here, running.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain; HYPERVISOR_ERROR if a job already
   *     runs for it, if {@code destHost} is this host, if scripted (MIGRATE_START) or if the
   *     simulator is closed
   */
  @Override
  public CompletableFuture<MigrationResult> migrate(
      String uuid, String destHost, MigrationFlags flags) throws HypervisorException {
    Objects.requireNonNull(flags, "flags");
    synchronized (lock) {
      if (closed) {
        throw new HypervisorException("HYPERVISOR_ERROR", "hypervisor " + host + " is closed");
      }
      Entry entry = domains.get(uuid);
      if (entry == null) {
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
      String failure = scripted(FailurePoint.MIGRATE_START, uuid);
      if (failure != null) {
        throw new HypervisorException("HYPERVISOR_ERROR", failure);
      }
      SimDomain d = entry.spec;
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
      Job job = new Job(uuid, model, System.nanoTime());
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
        String midway = scripted(FailurePoint.MIGRATE_MIDWAY, job.uuid);
        // Checked even when the model completed in this step: the half-way mark was passed
        // before completion, so a scripted job fails however coarse the ticks are.
        if (midway != null
            && 2 * job.model.memoryProcessedBytes() > job.model.snapshot().memoryTotalBytes()) {
          failure = new HypervisorException("HYPERVISOR_ERROR", midway);
        }
      }
      if (failure != null) {
        endJob(job);
        resumeSource(job.uuid);
      } else if (job.model.isCompleted()) {
        endJob(job);
        done = job.model.result().orElseThrow();
        domains.remove(job.uuid);
      }
    }
    if (failure != null) {
      job.future.completeExceptionally(failure);
    } else if (done != null) {
      job.future.complete(done);
    }
  }

  private void endJob(Job job) {
    jobs.remove(job.uuid);
    if (job.task != null) {
      job.task.cancel(false);
    }
  }

  private void resumeSource(String uuid) {
    Entry e = domains.get(uuid);
    if (e != null) {
      e.state = "running";
    }
  }

  /** The jobs still running, so a restarted agent can follow them to their end. */
  @Override
  public Map<String, CompletableFuture<MigrationResult>> reattach() {
    Map<String, CompletableFuture<MigrationResult>> out = new HashMap<>();
    synchronized (lock) {
      jobs.forEach(
          (uuid, job) -> {
            if (!job.future.isDone()) out.put(uuid, job.future);
          });
    }
    return out;
  }

  @Override
  public Optional<JobStats> jobStats(String uuid) {
    synchronized (lock) {
      Job job = jobs.get(uuid);
      return job == null ? Optional.empty() : Optional.of(job.model.snapshot());
    }
  }

  /**
   * Sets the job's tolerated downtime, ms; it applies from the next tick.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain, NO_JOB if no job runs for it,
   *     HYPERVISOR_ERROR for a negative value
   */
  @Override
  public void setMaxDowntime(String uuid, long ms) throws HypervisorException {
    synchronized (lock) {
      Job job = requireJob(uuid);
      if (ms < 0) {
        throw new HypervisorException("HYPERVISOR_ERROR", "negative max downtime: " + ms);
      }
      job.model.setMaxDowntimeMs(ms);
    }
  }

  /**
   * Sets the job's bandwidth to {@code mibps} MiB/s, or back to the link bandwidth for 0.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain, NO_JOB if no job runs for it,
   *     HYPERVISOR_ERROR for a negative value
   */
  @Override
  public void setMaxSpeed(String uuid, long mibps) throws HypervisorException {
    synchronized (lock) {
      Job job = requireJob(uuid);
      if (mibps < 0) {
        throw new HypervisorException("HYPERVISOR_ERROR", "negative bandwidth: " + mibps);
      }
      job.model.setBandwidth(bandwidthFor(mibps));
    }
  }

  /**
   * Cancels the job at once: its future fails with CANCELLED and the domain stays here, running.
   * With ABORT_IGNORED scripted for the domain it returns normally and the job keeps running.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain, NO_JOB if no job runs for it
   */
  @Override
  public void abortJob(String uuid) throws HypervisorException {
    Job job;
    synchronized (lock) {
      job = requireJob(uuid);
      if (scripted(FailurePoint.ABORT_IGNORED, uuid) != null) {
        return;
      }
      job.model.abort();
      endJob(job);
      resumeSource(uuid);
    }
    job.future.completeExceptionally(
        new HypervisorException("CANCELLED", "migration job cancelled"));
  }

  /**
   * Pauses the guest (state {@code paused}) so the job converges; the downtime then counts from
   * now.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain, NO_JOB if no job runs for it
   */
  @Override
  public void suspend(String uuid) throws HypervisorException {
    synchronized (lock) {
      Job job = requireJob(uuid);
      job.model.pause();
      domains.get(uuid).state = "paused";
    }
  }

  /**
   * Switches the job to post-copy; the source domain shows {@code paused} from then on.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain, NO_JOB if no job runs for it,
   *     HYPERVISOR_ERROR if the job was not started with postCopy
   */
  @Override
  public void startPostCopy(String uuid) throws HypervisorException {
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
      domains.get(uuid).state = "paused";
    }
  }

  /**
   * Removes the domain if it is still here. A job still running for it is cancelled (its future
   * fails with CANCELLED), since there is nothing left to migrate. Idempotent.
   */
  @Override
  public void cleanupSource(String uuid) {
    Job job;
    synchronized (lock) {
      domains.remove(uuid);
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

  /**
   * Stops every running job (their futures fail with HYPERVISOR_ERROR) and shuts the scheduler down
   * if this instance created it. Idempotent.
   */
  @Override
  public void close() {
    List<Job> ended;
    synchronized (lock) {
      closed = true;
      ended = new ArrayList<>(jobs.values());
      for (Job job : ended) {
        job.model.abort();
        endJob(job);
        resumeSource(job.uuid);
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

  private Job requireJob(String uuid) throws HypervisorException {
    Job job = jobs.get(uuid);
    if (job != null) {
      return job;
    }
    if (!domains.containsKey(uuid)) {
      throw new HypervisorException("NOT_FOUND", "no domain " + uuid + " on " + host);
    }
    throw new HypervisorException("NO_JOB", "no migration job running for " + uuid);
  }

  @Override
  public String toString() {
    return "SimulatedHypervisor[" + host + "]";
  }

  private static final class Entry {
    SimDomain spec;
    String state;

    Entry(SimDomain spec, String state) {
      this.spec = spec;
      this.state = state;
    }
  }

  private static final class Job {
    final String uuid;
    final PrecopyModel model;
    final CompletableFuture<MigrationResult> future = new CompletableFuture<>();
    ScheduledFuture<?> task;
    long lastNanos;
    long carryNanos;

    Job(String uuid, PrecopyModel model, long startNanos) {
      this.uuid = uuid;
      this.model = model;
      this.lastNanos = startNanos;
    }
  }
}
