package io.livemigrate.agent.libvirt;

import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.HypervisorException;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.LibvirtOptions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The hypervisor SPI on a real libvirt (QEMU driver), migrating the way Nova's libvirt driver does:
 * peer-to-peer live migration to the destination's libvirtd, persistent there, undefined here.
 *
 * <p>Instances are the libvirt domains of this host; a domain's UUID is the instance UUID. Project,
 * user, flavor and disk size come from the domain's {@code <metadata>} element in the {@value
 * #METADATA_NS} namespace when present.
 *
 * <p>Threading: all methods but {@link #migrate} block on libvirt RPCs and must run off the event
 * loop. {@link #migrate} starts the blocking {@code virDomainMigrateToURI3} on a thread of its own
 * (with its own connection) and returns at once.
 *
 * <p>Failures: {@link HypervisorException} with reason {@code NOT_FOUND} (no such domain here),
 * {@code NO_JOB} (no migration job runs), {@code CANCELLED} (the job was aborted) or {@code
 * HYPERVISOR_ERROR} (anything libvirt refused, with libvirt's message).
 *
 * <p>This class only wires the driver's parts together: {@link Inventory} (the host report), {@link
 * Incoming} with {@link Preflight} (the destination's side), {@link OutgoingMigration} with {@link
 * BlockMigrationDisks} and {@link MigrationOutcome} (the source's), {@link JobControl} (a running
 * job) and {@link Reattach} (jobs that outlived the agent), all on one {@link Libvirt}.
 */
public final class LibvirtHypervisor implements Hypervisor {
  /** XML namespace of the instance metadata this hypervisor reads from domains. */
  public static final String METADATA_NS = "https://livemigrate.io/xmlns/instance/1.0";

  private final Libvirt lv;
  private final Settings settings = new Settings();
  private final Inventory inventory;
  private final Incoming incoming;
  private final OutgoingMigration outgoing;
  private final BlockMigrationDisks disks;
  private final JobControl control;
  private final Reattach reattach;
  private final JobCompletedEvents events;

  /**
   * Connects to the local libvirt.
   *
   * @param host this compute host's name
   * @param uri the local libvirt URI
   * @param destinationUri the libvirt URI a migration to the given host name goes to
   * @throws HypervisorException HYPERVISOR_ERROR if libvirt cannot be reached
   */
  public LibvirtHypervisor(String host, String uri, Function<String, String> destinationUri)
      throws HypervisorException {
    this.lv = new Libvirt(host, uri, destinationUri);
    // The outbound migrations run from this process, shared by every part that must know of them.
    Map<String, MigrationJob> jobs = new ConcurrentHashMap<>();
    this.events = JobCompletedEvents.register(lv);
    MigrationOutcome outcome = new MigrationOutcome(lv, this.events);
    this.inventory = new Inventory(lv, settings, jobs);
    this.incoming = new Incoming(lv, new Preflight(lv, settings), jobs);
    this.disks = new BlockMigrationDisks(lv);
    this.outgoing = new OutgoingMigration(lv, settings, jobs, events, disks, outcome);
    this.control = new JobControl(lv, jobs);
    this.reattach = new Reattach(lv, jobs, control, outcome);
  }

  /**
   * From {@code [libvirt] connection_uri}, {@code live_migration_uri} (with {@code %s}) and {@code
   * live_migration_inbound_addrs} ({@code host=addr,...}; a host not listed is its own address).
   *
   * @throws HypervisorException HYPERVISOR_ERROR if libvirt cannot be reached
   */
  public static LibvirtHypervisor fromConfig(Config c) throws HypervisorException {
    return new LibvirtHypervisor(
            c.host(),
            c.string(LibvirtOptions.CONNECTION_URI),
            new MigrationUris(
                c.string(LibvirtOptions.LIVE_MIGRATION_URI),
                c.string(LibvirtOptions.LIVE_MIGRATION_INBOUND_ADDRS)))
        .autoConverge(
            c.integer(LibvirtOptions.AUTO_CONVERGE_INITIAL),
            c.integer(LibvirtOptions.AUTO_CONVERGE_INCREMENT))
        .streams(
            c.integer(LibvirtOptions.PARALLEL_CONNECTIONS),
            c.string(LibvirtOptions.COMPRESSION),
            c.integer(LibvirtOptions.COMPRESSION_LEVEL),
            c.bool(LibvirtOptions.NATIVE_TLS))
        .checks(c.string(LibvirtOptions.VIRT_TYPE), c.string(DefaultOptions.INSTANCES_PATH))
        .dirtyRateCalc(c.integer(LibvirtOptions.DIRTY_RATE_CALC))
        .sharedStorageByMarker(c.bool(LibvirtOptions.SHARED_STORAGE_BY_MARKER));
  }

  /**
   * How outbound migrations stream memory: multifd connections, compression ({@code none}, {@code
   * xbzrle} or {@code zstd} at {@code level}) and QEMU native TLS.
   */
  public LibvirtHypervisor streams(
      int parallelConnections, String compression, int level, boolean nativeTls) {
    settings.parallelConnections = Math.max(1, parallelConnections);
    settings.compression = compression;
    settings.compressionLevel = level;
    settings.nativeTls = nativeTls;
    return this;
  }

  /**
   * What the checks before the first byte compare against: the domain type of this host's guests
   * ({@code kvm} or {@code qemu}) and the directory of instance disks (its marker file tells other
   * hosts they share it).
   */
  public LibvirtHypervisor checks(String virtType, String instancesPath) {
    settings.virtType = virtType;
    settings.instancesPath = instancesPath;
    inventory.forgetCpuModel();
    return this;
  }

  /**
   * Whether a migration without block copy to a host whose storage marker is in this host's
   * instance directory is started with VIR_MIGRATE_UNSAFE ({@code [libvirt]
   * live_migration_shared_storage_by_marker}).
   */
  public LibvirtHypervisor sharedStorageByMarker(boolean on) {
    settings.sharedStorageByMarker = on;
    return this;
  }

  /** Seconds of each dirty-rate measurement of a running guest; 0 = none. */
  public LibvirtHypervisor dirtyRateCalc(int seconds) {
    settings.dirtyRateCalcSeconds = seconds;
    return this;
  }

  /**
   * The CPU throttle an auto-converging migration starts at and adds while the guest still dirties
   * faster than the link (percent). A guest that dirties memory with little CPU only slows down at
   * a high throttle, so a low start can take minutes to reach it.
   */
  public LibvirtHypervisor autoConverge(int initialPercent, int incrementPercent) {
    settings.autoConvergeInitial = initialPercent;
    settings.autoConvergeIncrement = incrementPercent;
    return this;
  }

  @Override
  public String type() {
    return "QEMU";
  }

  @Override
  public long version() {
    return lv.version();
  }

  @Override
  public HostResources resources() {
    return inventory.resources();
  }

  @Override
  public List<Domain> listDomains() {
    return inventory.listDomains();
  }

  @Override
  public String cpuModel() {
    return inventory.cpuModel();
  }

  @Override
  public List<String> sharedStorageWith() {
    return inventory.sharedStorageWith();
  }

  /**
   * @throws HypervisorException PREPARE_FAILED if the instance already runs here or libvirt fails;
   *     CPU_INCOMPATIBLE, MACHINE_TYPE_UNSUPPORTED, HYPERVISOR_TOO_OLD or STORAGE_NOT_SHARED if a
   *     check before the first byte refuses
   */
  @Override
  public void prepareIncoming(IncomingSpec spec) throws HypervisorException {
    incoming.prepare(spec);
  }

  /** Nothing to undo: libvirt tears down a failed incoming QEMU by itself. */
  @Override
  public void cancelIncoming(String uuid) {}

  /**
   * @throws HypervisorException NOT_FOUND if the domain is not here or its incoming migration has
   *     not finished; HYPERVISOR_ERROR if it is here but not running
   */
  @Override
  public void finishIncoming(String uuid) throws HypervisorException {
    incoming.finish(uuid);
  }

  /**
   * @throws HypervisorException NOT_FOUND for an unknown domain; HYPERVISOR_ERROR if a job already
   *     runs for it or the destination cannot be prepared
   */
  @Override
  public CompletableFuture<MigrationResult> migrate(
      String uuid, String destHost, MigrationFlags flags) throws HypervisorException {
    return outgoing.start(uuid, destHost, flags);
  }

  @Override
  public Optional<JobStats> jobStats(String uuid) {
    return control.jobStats(uuid);
  }

  @Override
  public void setMaxDowntime(String uuid, long ms) throws HypervisorException {
    control.setMaxDowntime(uuid, ms);
  }

  @Override
  public void setMaxSpeed(String uuid, long mibps) throws HypervisorException {
    control.setMaxSpeed(uuid, mibps);
  }

  @Override
  public void abortJob(String uuid) throws HypervisorException {
    control.abortJob(uuid);
  }

  @Override
  public void suspend(String uuid) throws HypervisorException {
    control.suspend(uuid);
  }

  @Override
  public void startPostCopy(String uuid) throws HypervisorException {
    control.startPostCopy(uuid);
  }

  @Override
  public void cleanupSource(String uuid) {
    disks.cleanupSource(uuid);
  }

  @Override
  public Map<String, CompletableFuture<MigrationResult>> reattach() {
    return reattach(Map.of());
  }

  @Override
  public Map<String, CompletableFuture<MigrationResult>> reattach(
      Map<String, String> destinations) {
    return reattach.reattach(destinations);
  }

  @Override
  public java.util.Set<String> outboundJobs() {
    return inventory.outboundJobs();
  }

  @Override
  public void close() {
    events.close();
    lv.close();
  }

  @Override
  public String toString() {
    return "libvirt " + lv.host + " (" + lv.uri + ")";
  }
}
