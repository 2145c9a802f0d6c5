package io.livemigrate.scheduler.impl;

import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.InstanceReport;
import java.util.HashSet;
import java.util.Set;

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
    for (InstanceReport i : r.instances()) {
      cpu += i.vcpus();
      mem += i.memoryMb();
      disk += i.diskGb();
      uuids.add(i.uuid());
    }
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
}
