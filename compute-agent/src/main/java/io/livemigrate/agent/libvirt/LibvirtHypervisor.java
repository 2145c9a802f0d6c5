package io.livemigrate.agent.libvirt;

import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.PointerType;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.HypervisorException;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.LibvirtOptions;
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
  private static final Field CONNECT_POINTER;

  static {
    try {
      // libvirt-java keeps the native virDomainPtr package-private; the JNA calls need it.
      DOMAIN_POINTER = org.libvirt.Domain.class.getDeclaredField("vdp");
      DOMAIN_POINTER.setAccessible(true);
      CONNECT_POINTER = Connect.class.getDeclaredField("vcp");
      CONNECT_POINTER.setAccessible(true);
      // libvirt's default error handler prints every failed call to stderr, including the
      // expected "domain not found" when polling races the end of a job.
      Connect.setErrorCallback((userData, error) -> {});
      // Events (a job's completed statistics) need libvirt's event loop registered before any
      // connection opens, and a thread that runs it.
      org.libvirt.Library.initEventLoop();
      Thread loop =
          new Thread(
              () -> {
                try {
                  org.libvirt.Library.runEventLoop();
                } catch (LibvirtException | InterruptedException e) {
                  LOG.warn("libvirt event loop ended: {}", e.toString());
                }
              },
              "libvirt-events");
      loop.setDaemon(true);
      loop.start();
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
  private volatile String virtType = "kvm";
  private volatile int parallelConnections = 1;
  private volatile boolean nativeTls;
  private volatile String compression = "none";
  private volatile int compressionLevel = 1;
  private volatile int dirtyRateCalcSeconds = 1;
  private volatile String instancesPath = "/var/lib/libvirt/images";
  private final Map<String, Job> jobs = new ConcurrentHashMap<>();

  /** Measurements of running guests (dirty rate, non-zero memory), by uuid. */
  private final Map<String, GuestMeasure> measures = new ConcurrentHashMap<>();

  /** The statistics libvirt's job-completed event carried, by uuid (the source keeps no others). */
  private final Map<String, Map<String, Long>> completedEvents = new ConcurrentHashMap<>();

  /** Kept reachable: libvirt calls it for as long as the connection lives. */
  private final VirtNative.JobCompletedCallback onJobCompleted = this::jobCompleted;

  private volatile String cpuModel;

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
    int id =
        VirtNative.LIB.virConnectDomainEventRegisterAny(
            connPtr(conn), null, VirtNative.EVENT_ID_JOB_COMPLETED, onJobCompleted, null, null);
    if (id < 0) {
      LOG.warn(
          "[host {}] no job-completed events (post-copy downtime unknown): {}",
          host,
          VirtNative.LIB.virGetLastErrorMessage());
    }
  }

  private void jobCompleted(Pointer c, Pointer dom, Pointer params, int n, Pointer opaque) {
    byte[] buf = new byte[64];
    if (VirtNative.LIB.virDomainGetUUIDString(dom, buf) < 0) return;
    String uuid = com.sun.jna.Native.toString(buf);
    Map<String, Long> v = new LinkedHashMap<>();
    for (String k :
        List.of(
            "downtime",
            "time_elapsed",
            "memory_total",
            "memory_processed",
            "memory_iteration",
            "memory_postcopy_requests",
            "disk_total",
            "disk_processed",
            "data_processed")) {
      com.sun.jna.ptr.LongByReference r = new com.sun.jna.ptr.LongByReference();
      if (VirtNative.LIB.virTypedParamsGetULLong(params, n, k, r) == 1) v.put(k, r.getValue());
    }
    LOG.info("[host {}] job completed for {}: {}", host, uuid, v);
    completedEvents.put(uuid, v);
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
        .dirtyRateCalc(c.integer(LibvirtOptions.DIRTY_RATE_CALC));
  }

  /**
   * How outbound migrations stream memory: multifd connections, compression ({@code none}, {@code
   * xbzrle} or {@code zstd} at {@code level}) and QEMU native TLS.
   */
  public LibvirtHypervisor streams(
      int parallelConnections, String compression, int level, boolean nativeTls) {
    this.parallelConnections = Math.max(1, parallelConnections);
    this.compression = compression;
    this.compressionLevel = level;
    this.nativeTls = nativeTls;
    return this;
  }

  /**
   * What the checks before the first byte compare against: the domain type of this host's guests
   * ({@code kvm} or {@code qemu}) and the directory of instance disks (its marker file tells other
   * hosts they share it).
   */
  public LibvirtHypervisor checks(String virtType, String instancesPath) {
    this.virtType = virtType;
    this.instancesPath = instancesPath;
    this.cpuModel = null;
    return this;
  }

  /** Seconds of each dirty-rate measurement of a running guest; 0 = none. */
  public LibvirtHypervisor dirtyRateCalc(int seconds) {
    this.dirtyRateCalcSeconds = seconds;
    return this;
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
    String uuid = d.getUUIDString();
    String state = state(info.state);
    GuestMeasure m = measures.computeIfAbsent(uuid, u -> new GuestMeasure());
    if ("running".equals(state) && !jobs.containsKey(uuid)) {
      measure(d, m, info.maxMem * 1024);
    }
    return new Hypervisor.Domain(
        uuid,
        d.getName(),
        state,
        info.nrVirtCpu,
        info.maxMem / 1024,
        disk == null ? 0 : Long.parseLong(disk),
        meta(xml, "project"),
        meta(xml, "user"),
        meta(xml, "flavor"),
        GuestXml.cpu(xml),
        GuestXml.machine(xml),
        m.dirtyRateBps(),
        m.dataBytes);
  }

  /**
   * Cheap measurements of a running guest with no job: the result of the last dirty-rate
   * calculation, then a new one once it is done (at most one per {@value #MEASURE_SPACING_S} s; it
   * runs in QEMU for {@code dirtyRateCalcSeconds} while we return), and now and then a sample of
   * its memory for the share of non-zero pages, which is what a migration actually sends.
   */
  private void measure(org.libvirt.Domain d, GuestMeasure m, long memoryBytes) {
    long now = System.nanoTime();
    if (dirtyRateCalcSeconds > 0) {
      DirtyRates.Result r = DirtyRates.read(ptr(d));
      if (r != null && r.measured() && r.startTime() != m.lastCalcStart) {
        m.lastCalcStart = r.startTime();
        m.addDirtyRate(r.mibPerSecond() << 20);
      }
      boolean idle = r == null || !r.measuring();
      if (idle && now - m.calcStartedNanos >= MEASURE_SPACING_S * 1_000_000_000L) {
        if (VirtNative.LIB.virDomainStartDirtyRateCalc(ptr(d), dirtyRateCalcSeconds, 0) == 0) {
          m.calcStartedNanos = now;
        } else {
          LOG.debug(
              "[host {}] dirty-rate calc not started: {}",
              host,
              VirtNative.LIB.virGetLastErrorMessage());
          m.calcStartedNanos = now;
        }
      }
    }
    if (m.dataBytes == null || now - m.sampledNanos >= SAMPLE_SPACING_S * 1_000_000_000L) {
      m.sampledNanos = now;
      Long sampled = MemorySample.nonZeroBytes(d, memoryBytes);
      if (sampled != null) m.dataBytes = sampled;
    }
  }

  private static final int MEASURE_SPACING_S = 5;
  private static final int SAMPLE_SPACING_S = 60;

  /** What was measured of one guest. */
  private static final class GuestMeasure {
    volatile long lastCalcStart = -1;
    volatile long calcStartedNanos = System.nanoTime() - 3_600_000_000_000L;
    volatile long sampledNanos;
    volatile Long dataBytes;
    private volatile double ewma = -1;

    /**
     * QEMU's page sampling looks at few pages (512 per GiB): single readings scatter, so the report
     * is smoothed.
     */
    synchronized void addDirtyRate(long bps) {
      ewma = ewma < 0 ? bps : 0.5 * bps + 0.5 * ewma;
    }

    Long dirtyRateBps() {
      double e = ewma;
      return e < 0 ? null : (long) e;
    }
  }

  @Override
  public String cpuModel() {
    String c = cpuModel;
    if (c != null) return c;
    try {
      c = HostCpu.describe(connPtr(conn), virtType);
      cpuModel = c;
      return c;
    } catch (HypervisorException e) {
      LOG.warn("[host {}] host CPU unknown: {}", host, e.getMessage());
      return null;
    }
  }

  @Override
  public List<String> sharedStorageWith() {
    try {
      return SharedStorage.peers(conn, instancesPath, host);
    } catch (LibvirtException | HypervisorException e) {
      LOG.warn("[host {}] shared storage not checked: {}", host, e.getMessage());
      return null;
    }
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

  private static Pointer connPtr(Connect c) {
    try {
      return ((PointerType) CONNECT_POINTER.get(c)).getPointer();
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
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
    preflight(spec);
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

  /**
   * The checks before the first byte, each a refusal with its own reason code and a line naming
   * both hosts: QEMU and libvirt not older than the source's, the guest's machine type known to
   * this QEMU, the guest's CPU one this hypervisor can provide ({@code
   * virConnectCompareHypervisorCPU} for {@code virt_type}), and for a shared-storage migration the
   * source's marker in this host's instance directory.
   */
  private void preflight(IncomingSpec spec) throws HypervisorException {
    String who = "instance " + spec.uuid() + " from " + spec.sourceHost() + " to " + host;
    long qemu;
    long libvirt;
    try {
      qemu = conn.getVersion();
      libvirt = conn.getLibVersion();
    } catch (LibvirtException e) {
      throw new HypervisorException("PREPARE_FAILED", "libvirt on " + host + ": " + e.getMessage());
    }
    Long srcQemu = spec.sourceHypervisorVersion();
    if (srcQemu != null && srcQemu > qemu) {
      throw new HypervisorException(
          "HYPERVISOR_TOO_OLD",
          who
              + ": "
              + host
              + "'s QEMU "
              + Versions.format(qemu)
              + " is older than "
              + spec.sourceHost()
              + "'s "
              + Versions.format(srcQemu));
    }
    Long srcLibvirt = sourceLibvirtVersion(spec.sourceHost());
    if (srcLibvirt != null && srcLibvirt > libvirt) {
      throw new HypervisorException(
          "HYPERVISOR_TOO_OLD",
          who
              + ": "
              + host
              + "'s libvirt "
              + Versions.format(libvirt)
              + " is older than "
              + spec.sourceHost()
              + "'s "
              + Versions.format(srcLibvirt));
    }
    if (spec.machineType() != null && !spec.machineType().isBlank()) {
      Pointer caps =
          VirtNative.LIB.virConnectGetDomainCapabilities(
              connPtr(conn), null, null, spec.machineType(), virtType, 0);
      if (caps == null) {
        String msg = VirtNative.LIB.virGetLastErrorMessage();
        throw new HypervisorException(
            "MACHINE_TYPE_UNSUPPORTED",
            who
                + ": "
                + host
                + "'s QEMU ("
                + Versions.format(qemu)
                + ", "
                + virtType
                + ") does not provide machine type "
                + spec.machineType()
                + " of the guest on "
                + spec.sourceHost()
                + " ("
                + msg
                + ")");
      }
      VirtNative.LibC.LIB.free(caps);
    }
    if (spec.cpuXml() != null && !spec.cpuXml().isBlank()) {
      int rc =
          VirtNative.LIB.virConnectCompareHypervisorCPU(
              connPtr(conn),
              null,
              null,
              spec.machineType(),
              virtType,
              spec.cpuXml(),
              VirtNative.COMPARE_CPU_FAIL_INCOMPATIBLE);
      if (rc <= VirtNative.CPU_COMPARE_INCOMPATIBLE) {
        String msg = VirtNative.LIB.virGetLastErrorMessage();
        boolean incompatible = rc == 0 || (msg != null && msg.contains("incompatible"));
        throw new HypervisorException(
            incompatible ? "CPU_INCOMPATIBLE" : "PREPARE_FAILED",
            who
                + ": "
                + host
                + " cannot provide the guest CPU ("
                + GuestXml.cpuSummary(spec.cpuXml())
                + ") it runs with on "
                + spec.sourceHost()
                + ": "
                + msg);
      }
    }
    if (Boolean.TRUE.equals(spec.sharedStorage())) {
      List<String> peers;
      try {
        peers = SharedStorage.peers(conn, instancesPath, host);
      } catch (LibvirtException e) {
        throw new HypervisorException(
            "STORAGE_NOT_SHARED",
            who + ": " + host + " cannot read its instance directory: " + e.getMessage());
      }
      if (!peers.contains(spec.sourceHost())) {
        throw new HypervisorException(
            "STORAGE_NOT_SHARED",
            who
                + ": "
                + host
                + " does not see "
                + spec.sourceHost()
                + "'s instance storage ("
                + instancesPath
                + " holds markers of "
                + peers
                + ")");
      }
    }
  }

  /** The source's libvirt version, asked of its daemon; null when it cannot be asked. */
  private Long sourceLibvirtVersion(String sourceHost) {
    try (Closing c = new Closing(open(destinationUri.apply(sourceHost)))) {
      return c.conn.getLibVersion();
    } catch (HypervisorException | LibvirtException | RuntimeException e) {
      LOG.info(
          "[host {}] libvirt version of {} not compared: {}", host, sourceHost, e.getMessage());
      return null;
    }
  }

  /** Nothing to undo: libvirt tears down a failed incoming QEMU by itself. */
  @Override
  public void cancelIncoming(String uuid) {}

  /**
   * Succeeds only once the domain runs here: an incoming migration's domain is active (it exists,
   * paused) long before its transfer completed, and one whose transfer failed may stay paused.
   *
   * @throws HypervisorException NOT_FOUND if the domain is not here or still waits for its incoming
   *     migration; HYPERVISOR_ERROR if it is here in any other state but running
   */
  @Override
  public void finishIncoming(String uuid) throws HypervisorException {
    org.libvirt.Domain d = lookup(conn, uuid);
    IntByReference state = new IntByReference();
    IntByReference reason = new IntByReference();
    if (VirtNative.LIB.virDomainGetState(ptr(d), state, reason, 0) < 0) {
      throw new HypervisorException(
          "NOT_FOUND",
          "domain " + uuid + " not on " + host + ": " + VirtNative.LIB.virGetLastErrorMessage());
    }
    if (state.getValue() == VirtNative.DOMAIN_RUNNING) return;
    boolean incoming =
        state.getValue() == VirtNative.DOMAIN_PAUSED
            && (reason.getValue() == VirtNative.PAUSED_MIGRATION
                || reason.getValue() == VirtNative.PAUSED_STARTING_UP);
    if (incoming) {
      throw new HypervisorException(
          "NOT_FOUND",
          "instance "
              + uuid
              + " has not arrived on "
              + host
              + ": its incoming migration has not finished (paused, reason "
              + reason.getValue()
              + ")");
    }
    throw new HypervisorException(
        "HYPERVISOR_ERROR",
        "instance "
            + uuid
            + " is not running on "
            + host
            + " ("
            + stateName(state.getValue())
            + ", reason "
            + reason.getValue()
            + ")");
  }

  private static String stateName(int state) {
    DomainInfo.DomainState[] all = DomainInfo.DomainState.values();
    return state >= 0 && state < all.length ? all[state].name() : "state " + state;
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
    // Both may be set: the throttle first, post-copy when the conductor decides it does not help.
    if (flags.postCopy()) f |= VirtNative.POSTCOPY;
    if (flags.autoConverge()) f |= VirtNative.AUTO_CONVERGE;
    if (nativeTls) f |= VirtNative.TLS;
    if (parallel(flags) > 1) f |= VirtNative.PARALLEL;
    if (!"none".equals(compression)) f |= VirtNative.COMPRESSED;
    completedEvents.remove(uuid);
    int migrateFlags = f;
    Thread t =
        new Thread(() -> runMigration(job, dest, flags, migrateFlags), "libvirt-migrate-" + uuid);
    t.setDaemon(true);
    t.start();
    return job.future;
  }

  /**
   * The multifd connections for this migration: QEMU before 10.1 cannot combine multifd with
   * post-copy, so a migration that may switch to post-copy there uses one stream.
   */
  private int parallel(MigrationFlags flags) {
    if (parallelConnections <= 1) return 1;
    if (flags.postCopy() && version() < 10_001_000L) {
      LOG.info(
          "[host {}] one stream instead of {}: post-copy with multifd needs QEMU 10.1",
          host,
          parallelConnections);
      return 1;
    }
    return parallelConnections;
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
      if ((migrateFlags & VirtNative.PARALLEL) != 0) {
        VirtNative.LIB.virTypedParamsAddInt(
            params, n, max, "parallel.connections", parallel(flags));
      }
      if ((migrateFlags & VirtNative.COMPRESSED) != 0) {
        VirtNative.LIB.virTypedParamsAddString(params, n, max, "compression", compression);
        if ("zstd".equals(compression)) {
          VirtNative.LIB.virTypedParamsAddInt(
              params, n, max, "compression.zstd.level", compressionLevel);
        }
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
    Map<String, Long> done = Map.of();
    try (Closing c = new Closing(open(dest))) {
      DomainJobStats s =
          lookup(c.conn, job.uuid)
              .getJobStats(VirtNative.JOB_STATS_COMPLETED | VirtNative.JOB_STATS_KEEP_COMPLETED);
      done = values(s);
    } catch (HypervisorException | LibvirtException e) {
      LOG.warn("[host {}] completed job stats of {} unreadable: {}", host, job.uuid, e.toString());
    }
    return finished(job, withCompletedEvent(job.uuid, done), elapsed);
  }

  /**
   * The destination's completed statistics, and where they lack the downtime (after post-copy the
   * destination keeps none at all), the job-completed event's. That event fires here, on the
   * source, where the job ran, and carries the switch-over's downtime; it may trail the migrate
   * call.
   */
  private Map<String, Long> withCompletedEvent(String uuid, Map<String, Long> done) {
    if (done.containsKey("downtime")) {
      completedEvents.remove(uuid);
      return done;
    }
    long until = System.nanoTime() + 3_000_000_000L;
    while (!completedEvents.containsKey(uuid) && System.nanoTime() < until) {
      java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L);
    }
    Map<String, Long> ev = completedEvents.remove(uuid);
    if (ev == null) {
      // The downtime is unknown (-1); with no destination figures either, the last sample is all.
      LOG.info("[host {}] no job-completed event for {}: downtime unknown", host, uuid);
      return done;
    }
    if (done.isEmpty()) return ev;
    Map<String, Long> merged = new LinkedHashMap<>(done);
    if (ev.containsKey("downtime")) merged.put("downtime", ev.get("downtime"));
    return merged;
  }

  private static MigrationResult finished(Job job, Map<String, Long> done, long elapsed) {
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
   * journal); otherwise the source's job-completed event does, or the downtime is unknown (-1).
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
        // The destination is unknown, but this process registered for the job-completed event
        // before it re-attached, so the source's own figures (downtime included) still arrive.
        JobStats last = job.last;
        long elapsed = (System.nanoTime() - job.startNanos) / 1_000_000;
        job.future.complete(
            finished(
                job,
                withCompletedEvent(job.uuid, Map.of()),
                last == null ? elapsed : last.elapsedMs()));
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
