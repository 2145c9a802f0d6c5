package io.livemigrate.scheduler.impl;

import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.InstanceReport;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the scheduler knows of one compute host: its last report, its last heartbeat, the operator's
 * enable/disable and the claims of migrations in flight to and from it. Mutable; owned by one
 * {@link HostScheduler}.
 */
final class HostState {
  final String host;
  String zone = "nova";
  String hypervisorType = "";
  long hypervisorVersion;
  String cpuModel;

  /**
   * The host CPU as its agent described it ({@code model=... features=... usable=...}); null when
   * it reported a plain model name or none, and only names are compared.
   */
  HostCpu hostCpu;

  /** The CPU each instance here asks for, from its {@code <cpu>} element (instances with one). */
  Map<String, GuestCpu> guestCpus = Map.of();

  int vcpus;
  long memoryMb;
  long diskGb;
  double cpuRatio = 4.0;
  double ramRatio = 1.0;
  double diskRatio = 1.0;
  int maxOutbound = 1;
  int maxInbound;
  int vcpusUsed;
  long memoryMbUsed;
  long diskGbUsed;
  Set<String> instances = new HashSet<>();
  long lastHeartbeatMs;
  boolean disabled;
  boolean forcedDown;

  /** A report has arrived (until then only a heartbeat or a status is known). */
  boolean reported;

  /** Capacity with the allocation ratios applied, computed once per report. */
  long memoryCap;

  long diskCap;
  long vcpuCap;

  /** Resources claimed on this host by migrations coming in (and completed ones not reported). */
  int claimedVcpus;

  long claimedMemoryMb;
  long claimedDiskGb;
  int inbound;
  int outbound;

  HostState(String host) {
    this.host = host;
  }

  void apply(HostReport r) {
    // Interned: every decision compares these with the source's, usually equal, so equals()
    // then stops at the identity check.
    zone = r.zone() == null ? zone : r.zone().intern();
    hypervisorType = r.hypervisorType().intern();
    hypervisorVersion = r.hypervisorVersion();
    cpuModel = r.cpuModel() == null ? null : r.cpuModel().intern();
    hostCpu = HostCpu.parse(cpuModel, hostCpu);
    vcpus = r.vcpus();
    memoryMb = r.memoryMb();
    diskGb = r.diskGb();
    cpuRatio = r.cpuAllocationRatio();
    ramRatio = r.ramAllocationRatio();
    diskRatio = r.diskAllocationRatio();
    maxOutbound = r.maxOutboundMigrations();
    maxInbound = r.maxInboundMigrations();
    memoryCap = (long) (memoryMb * ramRatio);
    diskCap = (long) (diskGb * diskRatio);
    vcpuCap = (long) (vcpus * cpuRatio);
    reported = true;
    int cpu = 0;
    long mem = 0;
    long disk = 0;
    Set<String> uuids = new HashSet<>();
    Map<String, GuestCpu> guests = null;
    for (InstanceReport i : r.instances()) {
      cpu += i.vcpus();
      mem += i.memoryMb();
      disk += i.diskGb();
      uuids.add(i.uuid());
      if (i.cpuXml() != null) {
        if (guests == null) guests = new HashMap<>();
        GuestCpu before = guestCpus.get(i.uuid());
        guests.put(
            i.uuid(),
            before != null && before.xml().equals(i.cpuXml())
                ? before
                : GuestCpu.parse(i.cpuXml()));
      }
    }
    guestCpus = guests == null ? Map.of() : guests;
    vcpusUsed = cpu;
    memoryMbUsed = mem;
    diskGbUsed = disk;
    instances = uuids;
  }

  long freeMemoryMb() {
    return memoryCap - memoryMbUsed - claimedMemoryMb;
  }

  long freeDiskGb() {
    return diskCap - diskGbUsed - claimedDiskGb;
  }

  long freeVcpus() {
    return vcpuCap - vcpusUsed - claimedVcpus;
  }

  /** A host CPU: its model, every feature it offers and the named models it can run. */
  record HostCpu(String source, String model, Set<String> features, Set<String> usable) {
    static HostCpu parse(String s, HostCpu before) {
      if (s == null || !s.startsWith("model=")) return null;
      if (before != null && before.source() == s) return before;
      String model = null;
      Set<String> features = new HashSet<>();
      Set<String> usable = new HashSet<>();
      for (String part : s.split(" ")) {
        int eq = part.indexOf('=');
        if (eq < 0) continue;
        String k = part.substring(0, eq);
        String v = part.substring(eq + 1);
        switch (k) {
          case "model" -> model = v;
          case "features" -> features.addAll(split(v));
          case "usable" -> usable.addAll(split(v));
          default -> {}
        }
      }
      return new HostCpu(s, model, features, usable);
    }

    private static java.util.List<String> split(String v) {
      return v.isEmpty() ? java.util.List.of() : java.util.List.of(v.split(","));
    }
  }

  /**
   * What a guest's {@code <cpu>} element asks of a host: a named model (custom and host-model
   * modes, as libvirt writes them for a running guest) and the features it requires. A
   * host-passthrough guest names nothing a report can check.
   */
  record GuestCpu(String xml, String mode, String model, Set<String> required) {
    private static final Pattern MODE = Pattern.compile("<cpu\\b[^>]*\\bmode=['\"]([^'\"]+)['\"]");
    private static final Pattern MODEL = Pattern.compile("<model\\b[^>]*>([^<]+)</model>");
    private static final Pattern REQUIRED =
        Pattern.compile(
            "<feature\\b[^>]*\\bpolicy=['\"](?:require|force)['\"][^>]*\\bname=['\"]([^'\"]+)['\"]");

    static GuestCpu parse(String xml) {
      Matcher mode = MODE.matcher(xml);
      Matcher model = MODEL.matcher(xml);
      Set<String> req = new HashSet<>();
      Matcher f = REQUIRED.matcher(xml);
      while (f.find()) req.add(f.group(1));
      return new GuestCpu(
          xml,
          mode.find() ? mode.group(1) : "custom",
          model.find() ? model.group(1).trim() : null,
          req);
    }

    boolean checkable() {
      return !"host-passthrough".equals(mode) && !"maximum".equals(mode);
    }
  }
}
