package io.livemigrate.scheduler.impl;

import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.InstanceReport;

/**
 * What the scheduler knows of one compute host: its last report, its last heartbeat and the
 * operator's enable/disable. Mutable; owned by one {@link HostScheduler}.
 */
final class HostState {
  final String host;
  String zone = "nova";
  String hypervisorType = "";
  long hypervisorVersion;
  int vcpus;
  long memoryMb;
  long diskGb;
  int vcpusUsed;
  long memoryMbUsed;
  long diskGbUsed;
  long lastHeartbeatMs;
  boolean disabled;
  boolean forcedDown;

  HostState(String host) {
    this.host = host;
  }

  void apply(HostReport r) {
    zone = r.zone() == null ? zone : r.zone();
    hypervisorType = r.hypervisorType();
    hypervisorVersion = r.hypervisorVersion();
    vcpus = r.vcpus();
    memoryMb = r.memoryMb();
    diskGb = r.diskGb();
    int cpu = 0;
    long mem = 0;
    long disk = 0;
    for (InstanceReport i : r.instances()) {
      cpu += i.vcpus();
      mem += i.memoryMb();
      disk += i.diskGb();
    }
    vcpusUsed = cpu;
    memoryMbUsed = mem;
    diskGbUsed = disk;
  }
}
