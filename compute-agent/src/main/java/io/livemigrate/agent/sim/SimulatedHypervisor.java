package io.livemigrate.agent.sim;

import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.HypervisorException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;

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
 * <p>The state is in three parts: the {@link SimInventory} (domains, and reservations checked
 * against the capacity), the {@link FailureScripts}, and the {@link SimJobs} (the running
 * migrations, which change the inventory when they end).
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

  private final String host;
  private final HostResources capacity;

  /** Guards the inventory, the scripts and the jobs, so that they change together. */
  private final Object lock = new Object();

  private final SimInventory inventory;
  private volatile SimFabric fabric = SimFabric.NONE;
  private final FailureScripts scripts = new FailureScripts();
  private final SimJobs jobs;

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
    this(host, capacity, linkBandwidthBps, tickMs, SimJobs.ownScheduler(host), true);
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
    this.inventory = new SimInventory(host, capacity);
    this.jobs =
        new SimJobs(
            host, lock, inventory, scripts, linkBandwidthBps, tickMs, scheduler, ownsScheduler);
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

  /**
   * What this host runs and reserves, to be kept across an agent restart (as libvirtd keeps it).
   */
  public record Snapshot(
      List<SimDomain> running, List<String> paused, List<IncomingSpec> incoming) {}

  /** The current domains and reservations, and clears the change mark. */
  public Snapshot snapshot() {
    synchronized (lock) {
      takeArrivals();
      return inventory.snapshot();
    }
  }

  /** Whether domains or reservations changed since the last {@link #snapshot}. */
  public boolean takeChange() {
    synchronized (lock) {
      return inventory.changed();
    }
  }

  /** Replaces the domains and reservations with a snapshot's (jobs are not restored). */
  public void restore(Snapshot s) {
    synchronized (lock) {
      inventory.restore(s);
    }
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
      inventory.define(domain);
    }
  }

  /** The spec of a domain here, if there is one. */
  public Optional<SimDomain> domain(String uuid) {
    synchronized (lock) {
      takeArrivals();
      return inventory.domain(uuid);
    }
  }

  /** Whether an incoming reservation for {@code uuid} is held here. */
  public boolean hasIncoming(String uuid) {
    synchronized (lock) {
      return inventory.hasIncoming(uuid);
    }
  }

  /**
   * Changes how fast a domain dirties its memory, also for its running migration.
   *
   * @throws IllegalArgumentException if no such domain is here or {@code bps} is negative
   */
  public void setDirtyRate(String uuid, long bps) {
    synchronized (lock) {
      inventory.setDirtyRate(uuid, bps);
      jobs.setDirtyRate(uuid, bps);
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
      inventory.setIncomingProfile(profile);
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
    synchronized (lock) {
      scripts.add(point, uuid, message);
    }
  }

  /** Drops every scripted failure. */
  public void clearScripts() {
    synchronized (lock) {
      scripts.clear();
    }
  }

  // ---- Hypervisor ---------------------------------------------------------------------------

  @Override
  public Set<String> outboundJobs() {
    return jobs.uuids();
  }

  /** Running and paused domains; incoming reservations are not listed. */
  @Override
  public List<Domain> listDomains() {
    synchronized (lock) {
      takeArrivals();
      return inventory.listDomains();
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
      scripts.check(FailurePoint.PREPARE, spec.uuid(), "PREPARE_FAILED");
      inventory.reserve(spec);
    }
  }

  @Override
  public void cancelIncoming(String uuid) {
    synchronized (lock) {
      inventory.cancelIncoming(uuid);
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
      scripts.check(FailurePoint.FINISH_INCOMING, uuid, "HYPERVISOR_ERROR");
      takeArrivals();
      if (fabric.linked() && inventory.domain(uuid).isEmpty()) {
        // As libvirt: a guest runs here only once its transfer completed, never on our say-so.
        throw new HypervisorException(
            "NOT_FOUND",
            "instance " + uuid + " has not arrived on " + host + " (no completed transfer)");
      }
      inventory.finishIncoming(uuid);
    }
  }

  /**
   * Links this host to the others of a lab: its completed transfers deliver their guests through
   * {@code f}, and it takes in the guests delivered to it.
   */
  public SimulatedHypervisor linkTo(SimFabric f) {
    this.fabric = Objects.requireNonNull(f, "fabric");
    jobs.linkTo(f);
    return this;
  }

  private void takeArrivals() {
    for (SimDomain g : fabric.take(host)) inventory.arrive(g);
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
    return jobs.start(uuid, destHost, flags);
  }

  /** The jobs still running, so a restarted agent can follow them to their end. */
  @Override
  public Map<String, CompletableFuture<MigrationResult>> reattach() {
    return jobs.reattach();
  }

  @Override
  public Optional<JobStats> jobStats(String uuid) {
    return jobs.stats(uuid);
  }

  /** Sets the job's tolerated downtime, ms, from the next tick; errors as {@link #setMaxSpeed}. */
  @Override
  public void setMaxDowntime(String uuid, long ms) throws HypervisorException {
    jobs.setMaxDowntime(uuid, ms);
  }

  /**
   * Sets the job's bandwidth to {@code mibps} MiB/s, or back to the link bandwidth for 0.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain, NO_JOB if no job runs for it,
   *     HYPERVISOR_ERROR for a negative value
   */
  @Override
  public void setMaxSpeed(String uuid, long mibps) throws HypervisorException {
    jobs.setMaxSpeed(uuid, mibps);
  }

  /**
   * Cancels the job at once: its future fails with CANCELLED and the domain stays here, running.
   * With ABORT_IGNORED scripted for the domain it returns normally and the job keeps running.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain, NO_JOB if no job runs for it
   */
  @Override
  public void abortJob(String uuid) throws HypervisorException {
    jobs.abort(uuid);
  }

  /**
   * Pauses the guest (state {@code paused}) so the job converges; the downtime counts from now.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain, NO_JOB if no job runs for it
   */
  @Override
  public void suspend(String uuid) throws HypervisorException {
    jobs.suspend(uuid);
  }

  /**
   * Switches the job to post-copy; the source domain shows {@code paused} from then on.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain, NO_JOB if no job runs for it,
   *     HYPERVISOR_ERROR if the job was not started with postCopy
   */
  @Override
  public void startPostCopy(String uuid) throws HypervisorException {
    jobs.startPostCopy(uuid);
  }

  /**
   * Removes the domain if it is still here. A job still running for it is cancelled (its future
   * fails with CANCELLED), since there is nothing left to migrate. Idempotent.
   */
  @Override
  public void cleanupSource(String uuid) {
    jobs.cleanupSource(uuid);
  }

  /**
   * Stops every running job (their futures fail with HYPERVISOR_ERROR) and shuts the scheduler down
   * if this instance created it. Idempotent.
   */
  @Override
  public void close() {
    jobs.close();
  }

  @Override
  public String toString() {
    return "SimulatedHypervisor[" + host + "]";
  }
}
