package io.livemigrate.agent.libvirt;

import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.PointerType;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.HypervisorException;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.Options;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.libvirt.Connect;
import org.libvirt.DomainInfo;
import org.libvirt.DomainJobStats;
import org.libvirt.LibvirtException;
import org.libvirt.NodeInfo;
import org.libvirt.StoragePool;
import org.libvirt.StorageVol;
import org.libvirt.TypedParameter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 */
public final class LibvirtHypervisor implements Hypervisor {
  private static final Logger LOG = LoggerFactory.getLogger(LibvirtHypervisor.class);

  /** XML namespace of the instance metadata this hypervisor reads from domains. */
  public static final String METADATA_NS = "https://livemigrate.io/xmlns/instance/1.0";

  /** VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT. */
  private static final int OPERATION_MIGRATION_OUT = 5;

  /** Job type VIR_DOMAIN_JOB_NONE and VIR_DOMAIN_JOB_CANCELLED. */
  private static final int JOB_NONE = 0;

  private static final int JOB_CANCELLED = 5;

  /** libvirt's "no limit" migration speed, MiB/s (what migrate-getspeed reports unlimited as). */
  private static final long UNLIMITED_MIBPS = 8796093022207L;

  private static final Field DOMAIN_POINTER;

  static {
    try {
      // libvirt-java keeps the native virDomainPtr package-private; the JNA calls need it.
      DOMAIN_POINTER = org.libvirt.Domain.class.getDeclaredField("vdp");
      DOMAIN_POINTER.setAccessible(true);
      // libvirt's default error handler prints every failed call to stderr, including the
      // expected "domain not found" when polling races the end of a job.
      Connect.setErrorCallback((userData, error) -> {});
    } catch (ReflectiveOperationException | LibvirtException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final String host;
  private final String uri;
  private final Function<String, String> destinationUri;
  private final Connect conn;
  private volatile int autoConvergeInitial = 20;
  private volatile int autoConvergeIncrement = 10;
  private final Map<String, Job> jobs = new ConcurrentHashMap<>();

  /** Local disk paths of domains block-migrated away, removed by {@link #cleanupSource}. */
  private final Map<String, List<String>> migratedDisks = new ConcurrentHashMap<>();

  /** One outbound migration run from this process. */
  private static final class Job {
    final String uuid;
    final CompletableFuture<MigrationResult> future = new CompletableFuture<>();
    final long startNanos = System.nanoTime();
    volatile boolean aborted;
    volatile boolean postCopy;
    volatile boolean suspended;
    volatile JobStats last;

    /** Volumes this job created on the destination for a block migration. */
    final List<String> createdOnDest = new ArrayList<>();

    Job(String uuid) {
      this.uuid = uuid;
    }
  }

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
    this.host = host;
    this.uri = uri;
    this.destinationUri = destinationUri;
    this.conn = open(uri);
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
            c.string(Options.CONNECTION_URI),
            new MigrationUris(
                c.string(Options.LIVE_MIGRATION_URI),
                c.string(Options.LIVE_MIGRATION_INBOUND_ADDRS)))
        .autoConverge(
            c.integer(Options.AUTO_CONVERGE_INITIAL), c.integer(Options.AUTO_CONVERGE_INCREMENT));
  }

  /**
   * The CPU throttle an auto-converging migration starts at and adds while the guest still dirties
   * faster than the link (percent). A guest that dirties memory with little CPU only slows down at
   * a high throttle, so a low start can take minutes to reach it.
   */
  public LibvirtHypervisor autoConverge(int initialPercent, int incrementPercent) {
    this.autoConvergeInitial = initialPercent;
    this.autoConvergeIncrement = incrementPercent;
    return this;
  }

  private static Connect open(String uri) throws HypervisorException {
    try {
      return new Connect(uri);
    } catch (LibvirtException e) {
      throw new HypervisorException(
          "HYPERVISOR_ERROR", "cannot connect to " + uri + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String type() {
    return "QEMU";
  }

  @Override
  public long version() {
    try {
      return conn.getVersion();
    } catch (LibvirtException e) {
      throw new IllegalStateException("libvirt at " + uri + ": " + e.getMessage(), e);
    }
  }

  @Override
  public HostResources resources() {
    try {
      NodeInfo n = conn.nodeInfo();
      long diskGb = 0;
      for (String name : conn.listStoragePools()) {
        diskGb += conn.storagePoolLookupByName(name).getInfo().capacity >> 30;
      }
      return new HostResources(n.cpus, n.memory / 1024, diskGb);
    } catch (LibvirtException e) {
      throw new IllegalStateException("libvirt at " + uri + ": " + e.getMessage(), e);
    }
  }

  @Override
  public List<Domain> listDomains() {
    List<Hypervisor.Domain> out = new ArrayList<>();
    try {
      for (org.libvirt.Domain d : conn.listAllDomains(0)) {
        try {
          out.add(describe(d));
        } catch (LibvirtException e) {
          // Vanished between listing and reading (e.g. migrated away): not here any more.
          LOG.debug("[host {}] domain skipped: {}", host, e.getMessage());
        }
      }
    } catch (LibvirtException e) {
      throw new IllegalStateException("libvirt at " + uri + ": " + e.getMessage(), e);
    }
    return out;
  }

  private Hypervisor.Domain describe(org.libvirt.Domain d) throws LibvirtException {
    DomainInfo info = d.getInfo();
    String xml = d.getXMLDesc(0);
    String disk = meta(xml, "disk_gb");
    return new Hypervisor.Domain(
        d.getUUIDString(),
        d.getName(),
        state(info.state),
        info.nrVirtCpu,
        info.maxMem / 1024,
        disk == null ? 0 : Long.parseLong(disk),
        meta(xml, "project"),
        meta(xml, "user"),
        meta(xml, "flavor"));
  }

  private static String state(DomainInfo.DomainState s) {
    return switch (s) {
      case VIR_DOMAIN_RUNNING, VIR_DOMAIN_BLOCKED -> "running";
      case VIR_DOMAIN_PAUSED, VIR_DOMAIN_PMSUSPENDED -> "paused";
      default -> "shutoff";
    };
  }

  /** A metadata element's text; the prefix libvirt writes back is not ours to rely on. */
  private static String meta(String xml, String element) {
    int ns = xml.indexOf(METADATA_NS);
    if (ns < 0) return null;
    Matcher m =
        Pattern.compile("<(?:\\w+:)?" + element + ">([^<]*)</(?:\\w+:)?" + element + ">")
            .matcher(xml);
    return m.find(ns) ? m.group(1).trim() : null;
  }

  private org.libvirt.Domain lookup(Connect c, String uuid) throws HypervisorException {
    try {
      return c.domainLookupByUUIDString(uuid);
    } catch (LibvirtException e) {
      throw new HypervisorException("NOT_FOUND", "no domain " + uuid + " on " + host, e);
    }
  }

  private static HypervisorException error(String what, LibvirtException e) {
    return new HypervisorException("HYPERVISOR_ERROR", what + ": " + e.getMessage(), e);
  }

  private static Pointer ptr(org.libvirt.Domain d) {
    try {
      return ((PointerType) DOMAIN_POINTER.get(d)).getPointer();
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void check(int rc, String what) throws HypervisorException {
    if (rc < 0) {
      throw new HypervisorException(
          "HYPERVISOR_ERROR", what + ": " + VirtNative.LIB.virGetLastErrorMessage());
    }
  }

  /**
   * The destination is checked by libvirt itself during the migration's prepare phase (it refuses a
   * domain it already runs); here only that this host's libvirt answers and does not run it yet.
   *
   * @throws HypervisorException PREPARE_FAILED if the instance already runs here or libvirt fails
   */
  @Override
  public void prepareIncoming(IncomingSpec spec) throws HypervisorException {
    try {
      conn.getVersion();
      for (org.libvirt.Domain d : conn.listAllDomains(1 /* ACTIVE */)) {
        if (d.getUUIDString().equals(spec.uuid()) && !jobs.containsKey(spec.uuid())) {
          throw new HypervisorException(
              "PREPARE_FAILED", "instance " + spec.uuid() + " already runs on " + host);
        }
      }
    } catch (LibvirtException e) {
      throw new HypervisorException(
          "PREPARE_FAILED", "libvirt on " + host + ": " + e.getMessage(), e);
    }
  }

  /** Nothing to undo: libvirt tears down a failed incoming QEMU by itself. */
  @Override
  public void cancelIncoming(String uuid) {}

  /**
   * @throws HypervisorException NOT_FOUND if the domain is not running here
   */
  @Override
  public void finishIncoming(String uuid) throws HypervisorException {
    org.libvirt.Domain d = lookup(conn, uuid);
    try {
      if (d.isActive() != 1) {
        throw new HypervisorException("NOT_FOUND", "domain " + uuid + " not running on " + host);
      }
    } catch (LibvirtException e) {
      throw new HypervisorException("NOT_FOUND", "domain " + uuid + " not on " + host, e);
    }
  }

  /**
   * Starts a peer-to-peer live migration. For a block migration the destination's disks are created
   * first (as Nova's pre_live_migration does): libvirt will not pre-create storage for an
   * incremental copy.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain; HYPERVISOR_ERROR if a job already
   *     runs for it or the destination cannot be prepared
   */
  @Override
  public CompletableFuture<MigrationResult> migrate(
      String uuid, String destHost, MigrationFlags flags) throws HypervisorException {
    org.libvirt.Domain dom = lookup(conn, uuid);
    String dest = destinationUri.apply(destHost);
    Job job = new Job(uuid);
    if (jobs.putIfAbsent(uuid, job) != null) {
      throw new HypervisorException("HYPERVISOR_ERROR", "a job already runs for " + uuid);
    }
    try {
      if (flags.blockMigration()) precreateDisks(dom, job, dest);
      if (flags.maxDowntimeMs() > 0) {
        // Sets QEMU's downtime-limit now; the migration keeps it (no migrate parameter exists).
        dom.migrateSetMaxDowntime(flags.maxDowntimeMs());
      }
    } catch (LibvirtException e) {
      removeCreatedDisks(job, dest);
      jobs.remove(uuid);
      throw error("cannot start migration of " + uuid, e);
    } catch (HypervisorException | RuntimeException e) {
      removeCreatedDisks(job, dest);
      jobs.remove(uuid);
      throw e;
    }
    int f = VirtNative.LIVE | VirtNative.PEER2PEER | VirtNative.PERSIST_DEST;
    f |= VirtNative.UNDEFINE_SOURCE;
    if (flags.blockMigration()) f |= VirtNative.NON_SHARED_INC;
    if (flags.postCopy()) f |= VirtNative.POSTCOPY;
    else if (flags.autoConverge()) f |= VirtNative.AUTO_CONVERGE;
    int migrateFlags = f;
    Thread t =
        new Thread(() -> runMigration(job, dest, flags, migrateFlags), "libvirt-migrate-" + uuid);
    t.setDaemon(true);
    t.start();
    return job.future;
  }

  private void runMigration(Job job, String dest, MigrationFlags flags, int migrateFlags) {
    PointerByReference params = new PointerByReference();
    IntByReference n = new IntByReference(0);
    IntByReference max = new IntByReference(0);
    // Its own connection: the call holds this thread for the whole transfer.
    try (Closing c = new Closing(open(uri))) {
      org.libvirt.Domain dom = lookup(c.conn, job.uuid);
      if (flags.bandwidthMibps() > 0) {
        VirtNative.LIB.virTypedParamsAddULLong(params, n, max, "bandwidth", flags.bandwidthMibps());
      }
      if ((migrateFlags & VirtNative.AUTO_CONVERGE) != 0) {
        VirtNative.LIB.virTypedParamsAddInt(
            params, n, max, "auto_converge.initial", autoConvergeInitial);
        VirtNative.LIB.virTypedParamsAddInt(
            params, n, max, "auto_converge.increment", autoConvergeIncrement);
      }
      LOG.info(
          "[host {}] virDomainMigrateToURI3 {} -> {} flags 0x{}",
          host,
          job.uuid,
          dest,
          Integer.toHexString(migrateFlags));
      int rc =
          VirtNative.LIB.virDomainMigrateToURI3(
              ptr(dom), dest, params.getValue(), n.getValue(), migrateFlags);
      if (rc < 0) {
        String msg = VirtNative.LIB.virGetLastErrorMessage();
        boolean cancelled = job.aborted || (msg != null && msg.contains("canceled by client"));
        throw new HypervisorException(cancelled ? "CANCELLED" : "HYPERVISOR_ERROR", msg);
      }
      job.future.complete(result(job, dest));
    } catch (HypervisorException e) {
      removeCreatedDisks(job, dest);
      job.future.completeExceptionally(e);
    } catch (RuntimeException e) {
      removeCreatedDisks(job, dest);
      job.future.completeExceptionally(new HypervisorException("HYPERVISOR_ERROR", e.toString()));
    } finally {
      if (params.getValue() != null)
        VirtNative.LIB.virTypedParamsFree(params.getValue(), n.getValue());
      jobs.remove(job.uuid);
    }
  }

  /** The measured figures: the destination keeps the completed job's statistics. */
  private MigrationResult result(Job job, String dest) {
    long elapsed = (System.nanoTime() - job.startNanos) / 1_000_000;
    JobStats last = job.last;
    Map<String, Long> done = Map.of();
    try (Closing c = new Closing(open(dest))) {
      DomainJobStats s =
          lookup(c.conn, job.uuid)
              .getJobStats(VirtNative.JOB_STATS_COMPLETED | VirtNative.JOB_STATS_KEEP_COMPLETED);
      done = values(s);
    } catch (HypervisorException | LibvirtException e) {
      LOG.warn("[host {}] completed job stats of {} unreadable: {}", host, job.uuid, e.toString());
    }
    if (done.isEmpty()) {
      // After post-copy QEMU keeps no completed statistics: the last sample is all there is, and
      // the downtime is unknown (-1), not zero.
      LOG.info("[host {}] no completed job statistics for {} (post-copy?)", host, job.uuid);
    }
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
        job.postCopy ? "postcopy" : job.suspended ? "paused" : "precopy");
  }

  private static Map<String, Long> values(DomainJobStats s) {
    Map<String, Long> m = new LinkedHashMap<>();
    if (s == null || s.type == JOB_NONE || s.stats == null) return m;
    for (TypedParameter p : s.stats) {
      try {
        m.put(p.field, (long) Double.parseDouble(p.getValueAsString()));
      } catch (NumberFormatException e) {
        // strings (none today) carry nothing we report
      }
    }
    m.put("type", (long) s.type);
    return m;
  }

  private void precreateDisks(org.libvirt.Domain dom, Job job, String dest)
      throws LibvirtException, HypervisorException {
    String uuid = job.uuid;
    List<String> paths = new ArrayList<>();
    Matcher m =
        Pattern.compile(
                "<disk type='file' device='disk'>.*?<driver[^>]*type='(\\w+)'.*?"
                    + "<source file='([^']+)'",
                Pattern.DOTALL)
            .matcher(dom.getXMLDesc(0));
    try (Closing c = new Closing(open(dest))) {
      while (m.find()) {
        String format = m.group(1);
        String path = m.group(2);
        paths.add(path);
        long capacity = conn.storageVolLookupByPath(path).getInfo().capacity;
        String dir = path.substring(0, path.lastIndexOf('/'));
        String name = path.substring(path.lastIndexOf('/') + 1);
        StoragePool pool = poolAt(c.conn, dir, dest);
        pool.refresh(0);
        if (List.of(pool.listVolumes()).contains(name)) continue;
        StorageVol v =
            pool.storageVolCreateXML(
                "<volume><name>"
                    + name
                    + "</name><capacity unit='bytes'>"
                    + capacity
                    + "</capacity><target><format type='"
                    + format
                    + "'/></target></volume>",
                0);
        synchronized (job.createdOnDest) {
          job.createdOnDest.add(v.getPath());
        }
        LOG.info("[host {}] created {} on {} for block migration", host, v.getPath(), dest);
      }
    }
    migratedDisks.put(uuid, paths);
  }

  /**
   * After a failed or cancelled block migration: the volumes created on the destination for it
   * would otherwise stay there, and a later block migration of the same instance to that host would
   * copy into (and trust) a stale image. Only what this job created goes, and only when the domain
   * does not run there (a failure reported after the switch-over leaves everything).
   */
  private void removeCreatedDisks(Job job, String dest) {
    List<String> paths;
    synchronized (job.createdOnDest) {
      paths = List.copyOf(job.createdOnDest);
      job.createdOnDest.clear();
    }
    if (paths.isEmpty()) return;
    try (Closing c = new Closing(open(dest))) {
      try {
        if (c.conn.domainLookupByUUIDString(job.uuid).isActive() == 1) {
          LOG.warn(
              "[host {}] {} runs on {} after a failed migration; its disks stay",
              host,
              job.uuid,
              dest);
          return;
        }
      } catch (LibvirtException notThere) {
        // the usual case: the incoming domain is gone with the failed migration
      }
      for (String p : paths) {
        try {
          c.conn.storageVolLookupByPath(p).delete(0);
          LOG.info("[host {}] removed {} from {} after the failed migration", host, p, dest);
        } catch (LibvirtException e) {
          LOG.warn("[host {}] could not remove {} from {}: {}", host, p, dest, e.getMessage());
        }
      }
    } catch (HypervisorException e) {
      LOG.warn("[host {}] {} unreachable; left {} there: {}", host, dest, paths, e.getMessage());
    }
  }

  private static StoragePool poolAt(Connect c, String dir, String dest)
      throws LibvirtException, HypervisorException {
    for (String name : c.listStoragePools()) {
      StoragePool p = c.storagePoolLookupByName(name);
      if (p.getXMLDesc(0).contains("<path>" + dir + "</path>")) return p;
    }
    throw new HypervisorException(
        "HYPERVISOR_ERROR", "no active storage pool for " + dir + " on " + dest);
  }

  @Override
  public Optional<JobStats> jobStats(String uuid) {
    Job job = jobs.get(uuid);
    try {
      org.libvirt.Domain d = conn.domainLookupByUUIDString(uuid);
      Map<String, Long> v = values(d.getJobStats(0));
      if (v.isEmpty() || v.get("type") == JOB_CANCELLED) return Optional.empty();
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
    org.libvirt.Domain d = lookup(conn, uuid);
    try {
      if (values(d.getJobStats(0)).isEmpty()) {
        throw new HypervisorException("NO_JOB", "no migration job runs for " + uuid);
      }
    } catch (LibvirtException e) {
      throw new HypervisorException("NO_JOB", "no migration job runs for " + uuid, e);
    }
    return d;
  }

  @Override
  public void setMaxDowntime(String uuid, long ms) throws HypervisorException {
    try {
      withJob(uuid).migrateSetMaxDowntime(ms);
    } catch (LibvirtException e) {
      throw error("set max downtime of " + uuid, e);
    }
  }

  @Override
  public void setMaxSpeed(String uuid, long mibps) throws HypervisorException {
    long speed = mibps <= 0 ? UNLIMITED_MIBPS : mibps;
    check(
        VirtNative.LIB.virDomainMigrateSetMaxSpeed(ptr(withJob(uuid)), new NativeLong(speed), 0),
        "set max speed of " + uuid);
  }

  @Override
  public void abortJob(String uuid) throws HypervisorException {
    org.libvirt.Domain d = withJob(uuid);
    Job job = jobs.get(uuid);
    if (job != null) job.aborted = true;
    try {
      d.abortJob();
    } catch (LibvirtException e) {
      throw error("abort job of " + uuid, e);
    }
  }

  @Override
  public void suspend(String uuid) throws HypervisorException {
    try {
      org.libvirt.Domain d = withJob(uuid);
      Job job = jobs.get(uuid);
      if (job != null) job.suspended = true;
      d.suspend();
    } catch (LibvirtException e) {
      throw error("suspend " + uuid, e);
    }
  }

  @Override
  public void startPostCopy(String uuid) throws HypervisorException {
    org.libvirt.Domain d = withJob(uuid);
    check(VirtNative.LIB.virDomainMigrateStartPostCopy(ptr(d), 0), "start post-copy of " + uuid);
    Job job = jobs.get(uuid);
    if (job != null) job.postCopy = true;
  }

  /**
   * Removes the local disks a block migration copied away. The domain itself is already undefined
   * here (UNDEFINE_SOURCE).
   */
  @Override
  public void cleanupSource(String uuid) {
    List<String> paths = migratedDisks.remove(uuid);
    if (paths == null) return;
    for (String p : paths) {
      try {
        conn.storageVolLookupByPath(p).delete(0);
      } catch (LibvirtException e) {
        LOG.warn("[host {}] could not remove {}: {}", host, p, e.getMessage());
      }
    }
  }

  @Override
  public Map<String, CompletableFuture<MigrationResult>> reattach() {
    return reattach(Map.of());
  }

  /**
   * Finds outbound migrations libvirt runs for domains of this host that no job of this process
   * tracks: a peer-to-peer migration is driven by the source libvirtd, so it goes on when the
   * process that started it dies. Each is watched by polling its job until it ends; the outcome is
   * then read from where the domain is: gone from here means it runs on the destination, whose
   * completed statistics give the measured downtime when the destination is known (from the agent's
   * journal); otherwise the downtime is unknown (-1).
   */
  @Override
  public Map<String, CompletableFuture<MigrationResult>> reattach(
      Map<String, String> destinations) {
    Map<String, CompletableFuture<MigrationResult>> found = new LinkedHashMap<>();
    try {
      for (org.libvirt.Domain d : conn.listAllDomains(1 /* ACTIVE */)) {
        String uuid = d.getUUIDString();
        Map<String, Long> v = values(d.getJobStats(0));
        if (v.getOrDefault("operation", 0L) != OPERATION_MIGRATION_OUT) continue;
        Job job = new Job(uuid);
        if (jobs.putIfAbsent(uuid, job) != null) continue;
        String destHost = destinations.get(uuid);
        String dest = destHost == null ? null : destinationUri.apply(destHost);
        LOG.info("[host {}] re-attached to the running migration of {} to {}", host, uuid, dest);
        Thread t = new Thread(() -> watch(job, dest), "libvirt-watch-" + uuid);
        t.setDaemon(true);
        t.start();
        found.put(uuid, job.future);
      }
    } catch (LibvirtException e) {
      LOG.warn("[host {}] looking for running migrations: {}", host, e.getMessage());
    }
    return found;
  }

  private void watch(Job job, String dest) {
    try {
      while (jobStats(job.uuid).isPresent()) {
        Thread.sleep(500);
      }
      boolean stillHere;
      try {
        stillHere = conn.domainLookupByUUIDString(job.uuid).isActive() == 1;
      } catch (LibvirtException e) {
        stillHere = false;
      }
      if (stillHere) {
        job.future.completeExceptionally(
            new HypervisorException(
                job.aborted ? "CANCELLED" : "HYPERVISOR_ERROR",
                "the migration job ended and the domain still runs on " + host));
      } else if (dest != null) {
        job.future.complete(result(job, dest));
      } else {
        JobStats last = job.last;
        long elapsed = (System.nanoTime() - job.startNanos) / 1_000_000;
        job.future.complete(
            new MigrationResult(
                -1,
                last == null ? 0 : last.memoryTotalBytes(),
                last == null ? 0 : last.memoryProcessedBytes(),
                last == null ? 0 : last.diskTotalBytes(),
                last == null ? 0 : last.diskProcessedBytes(),
                last == null ? 0 : last.iteration(),
                last == null ? elapsed : last.elapsedMs(),
                job.postCopy ? "postcopy" : job.suspended ? "paused" : "precopy"));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      job.future.completeExceptionally(
          new HypervisorException("HYPERVISOR_ERROR", "stopped watching " + job.uuid));
    } finally {
      jobs.remove(job.uuid);
    }
  }

  @Override
  public void close() {
    try {
      conn.close();
    } catch (LibvirtException e) {
      LOG.warn("[host {}] closing {}: {}", host, uri, e.getMessage());
    }
  }

  @Override
  public String toString() {
    return "libvirt " + host + " (" + uri + ")";
  }

  /** A connection closed with try-with-resources. */
  private record Closing(Connect conn) implements AutoCloseable {
    @Override
    public void close() {
      try {
        conn.close();
      } catch (LibvirtException e) {
        LOG.debug("closing a libvirt connection: {}", e.getMessage());
      }
    }
  }
}
