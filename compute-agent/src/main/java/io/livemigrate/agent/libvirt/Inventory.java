package io.livemigrate.agent.libvirt;

import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.HypervisorException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.libvirt.DomainInfo;
import org.libvirt.LibvirtException;
import org.libvirt.NodeInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the host report says of this host: its capacity, its domains (with what was measured of the
 * running ones), its CPU and the hosts it shares instance storage with.
 */
final class Inventory {
  private static final Logger LOG = LoggerFactory.getLogger(Inventory.class);

  private static final int MEASURE_SPACING_S = 5;
  private static final int SAMPLE_SPACING_S = 60;

  private final Libvirt lv;
  private final Settings settings;

  /** The outbound jobs: a guest being migrated is not measured. */
  private final Map<String, MigrationJob> jobs;

  /** Measurements of running guests (dirty rate, non-zero memory), by uuid. */
  private final Map<String, GuestMeasure> measures = new ConcurrentHashMap<>();

  private volatile String cpuModel;

  Inventory(Libvirt lv, Settings settings, Map<String, MigrationJob> jobs) {
    this.lv = lv;
    this.settings = settings;
    this.jobs = jobs;
  }

  HostResources resources() {
    try {
      NodeInfo n = lv.conn().nodeInfo();
      long diskGb = 0;
      for (String name : lv.conn().listStoragePools()) {
        diskGb += lv.conn().storagePoolLookupByName(name).getInfo().capacity >> 30;
      }
      return new HostResources(n.cpus, n.memory / 1024, diskGb);
    } catch (LibvirtException e) {
      throw lv.unreachable(e);
    }
  }

  List<Hypervisor.Domain> listDomains() {
    List<Hypervisor.Domain> out = new ArrayList<>();
    try {
      for (org.libvirt.Domain d : lv.conn().listAllDomains(0)) {
        try {
          out.add(describe(d));
        } catch (LibvirtException e) {
          // Vanished between listing and reading (e.g. migrated away): not here any more.
          LOG.debug("[host {}] domain skipped: {}", lv.host, e.getMessage());
        }
      }
    } catch (LibvirtException e) {
      throw lv.unreachable(e);
    }
    return out;
  }

  private Hypervisor.Domain describe(org.libvirt.Domain d) throws LibvirtException {
    DomainInfo info = d.getInfo();
    String xml = d.getXMLDesc(0);
    DomainMetadata owner = DomainMetadata.of(xml);
    String uuid = d.getUUIDString();
    String state = state(info.state);
    GuestMeasure m = measures.computeIfAbsent(uuid, u -> new GuestMeasure());
    // Not while any job runs, ours or not (an agent restarted without its journal, a virsh
    // migrate): the dirty-rate calculation waits for the domain's job, which for a migration is
    // the whole transfer, and the report with it.
    if ("running".equals(state) && !jobs.containsKey(uuid) && operation(d) == 0) {
      measure(d, m, info.maxMem * 1024);
    }
    return new Hypervisor.Domain(
        uuid,
        d.getName(),
        state,
        info.nrVirtCpu,
        info.maxMem / 1024,
        owner.diskGb(),
        owner.projectId(),
        owner.userId(),
        owner.flavor(),
        GuestXml.cpu(xml),
        GuestXml.machine(xml),
        m.dirtyRateBps(),
        m.dataBytes);
  }

  /** The operation of the domain's current job (a query libvirt allows during one); 0 = none. */
  private static long operation(org.libvirt.Domain d) throws LibvirtException {
    Map<String, Long> v = JobValues.of(d.getJobStats(0));
    return v.getOrDefault("operation", 0L);
  }

  /** The domains whose outbound migration libvirt runs now, whoever started it. */
  java.util.Set<String> outboundJobs() {
    java.util.Set<String> out = new java.util.TreeSet<>();
    try {
      for (org.libvirt.Domain d : lv.conn().listAllDomains(1 /* ACTIVE */)) {
        try {
          if (operation(d) == JobValues.OPERATION_MIGRATION_OUT) out.add(d.getUUIDString());
        } catch (LibvirtException e) {
          LOG.debug("[host {}] domain skipped: {}", lv.host, e.getMessage());
        }
      }
    } catch (LibvirtException e) {
      throw lv.unreachable(e);
    }
    return out;
  }

  /**
   * Cheap measurements of a running guest with no job: the result of the last dirty-rate
   * calculation, then a new one once it is done (at most one per {@value #MEASURE_SPACING_S} s; it
   * runs in QEMU for {@code dirtyRateCalcSeconds} while we return), and now and then a sample of
   * its memory for the share of non-zero pages, which is what a migration actually sends.
   */
  private void measure(org.libvirt.Domain d, GuestMeasure m, long memoryBytes) {
    long now = System.nanoTime();
    int calcSeconds = settings.dirtyRateCalcSeconds;
    if (calcSeconds > 0) {
      DirtyRates.Result r = Libvirt.withPtr(d, DirtyRates::read);
      if (r != null && r.measured() && r.startTime() != m.lastCalcStart) {
        m.lastCalcStart = r.startTime();
        m.addDirtyRate(r.mibPerSecond() << 20);
      }
      boolean idle = r == null || !r.measuring();
      if (idle && now - m.calcStartedNanos >= MEASURE_SPACING_S * 1_000_000_000L) {
        if (Libvirt.withPtr(d, p -> VirtNative.LIB.virDomainStartDirtyRateCalc(p, calcSeconds, 0))
            != 0) {
          LOG.debug(
              "[host {}] dirty-rate calc not started: {}",
              lv.host,
              VirtNative.LIB.virGetLastErrorMessage());
        }
        m.calcStartedNanos = now;
      }
    }
    if (m.dataBytes == null || now - m.sampledNanos >= SAMPLE_SPACING_S * 1_000_000_000L) {
      m.sampledNanos = now;
      Long sampled = MemorySample.nonZeroBytes(d, memoryBytes);
      if (sampled != null) m.dataBytes = sampled;
    }
  }

  String cpuModel() {
    String c = cpuModel;
    if (c != null) return c;
    try {
      c = HostCpu.describe(lv.connPtr(), settings.virtType);
      cpuModel = c;
      return c;
    } catch (HypervisorException e) {
      LOG.warn("[host {}] host CPU unknown: {}", lv.host, e.getMessage());
      return null;
    }
  }

  /** After {@code virt_type} changed: the CPU offered to guests is asked again. */
  void forgetCpuModel() {
    cpuModel = null;
  }

  List<String> sharedStorageWith() {
    try {
      return SharedStorage.peers(lv.conn(), settings.instancesPath, lv.host);
    } catch (LibvirtException | HypervisorException e) {
      LOG.warn("[host {}] shared storage not checked: {}", lv.host, e.getMessage());
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
}
