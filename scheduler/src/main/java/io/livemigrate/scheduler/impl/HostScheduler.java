package io.livemigrate.scheduler.impl;

import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import io.livemigrate.common.contract.SchedulerMessages.ServiceStatus;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Filter-and-weigh destination selection, as Nova's filter scheduler does it: every host passes
 * each filter or is rejected with the first reason it failed; the survivors are ordered by free RAM
 * (the RAM weigher). Pure logic: the caller supplies the clock.
 */
public final class HostScheduler {
  /** Nova's initial allocation ratios. */
  static final double CPU_RATIO = 4.0;

  static final double RAM_RATIO = 1.0;
  static final double DISK_RATIO = 1.0;

  private final Map<String, HostState> hosts = new HashMap<>();
  private final long serviceDownTimeMs;

  public HostScheduler(long serviceDownTimeMs) {
    this.serviceDownTimeMs = serviceDownTimeMs;
  }

  public void onReport(HostReport r, long nowMs) {
    HostState h = hosts.computeIfAbsent(r.host(), HostState::new);
    h.apply(r);
    h.lastHeartbeatMs = Math.max(h.lastHeartbeatMs, nowMs);
  }

  public void onHeartbeat(String host, long nowMs) {
    hosts.computeIfAbsent(host, HostState::new).lastHeartbeatMs = nowMs;
  }

  public void onStatus(ServiceStatus s) {
    HostState h = hosts.computeIfAbsent(s.host(), HostState::new);
    h.disabled = s.disabled();
    h.forcedDown = s.forcedDown();
  }

  public int size() {
    return hosts.size();
  }

  /** Ranks destinations for one request. */
  public Destinations select(SelectDestinations req, long nowMs) {
    Map<String, String> rejected = new LinkedHashMap<>();
    List<HostState> passed = new ArrayList<>();
    if (req.requestedHost() != null && !req.requestedHost().isBlank()) {
      HostState h = hosts.get(req.requestedHost());
      if (h == null || h.hypervisorType.isEmpty()) {
        rejected.put(
            req.requestedHost(), "Compute host " + req.requestedHost() + " could not be found.");
      } else {
        String why = reject(h, req, nowMs);
        if (why == null) passed.add(h);
        else rejected.put(h.host, why);
      }
    } else {
      for (HostState h : hosts.values()) {
        String why = reject(h, req, nowMs);
        if (why == null) passed.add(h);
        else rejected.put(h.host, why);
      }
    }
    passed.sort(
        Comparator.comparingDouble((HostState h) -> freeRam(h))
            .reversed()
            .thenComparing(h -> h.host));
    return new Destinations(passed.stream().map(h -> h.host).toList(), rejected);
  }

  private static double freeRam(HostState h) {
    return h.memoryMb * RAM_RATIO - h.memoryMbUsed;
  }

  /** The first filter a host fails, as an operator-readable reason; null if it passes all. */
  private String reject(HostState h, SelectDestinations req, long nowMs) {
    if (h.host.equals(req.sourceHost())) {
      return "Unable to migrate instance to the current host (" + h.host + ").";
    }
    if (req.ignoreHosts().contains(h.host)) {
      return "Host " + h.host + " was already tried for this migration.";
    }
    if (h.hypervisorType.isEmpty()) {
      return "Compute host " + h.host + " has not reported its resources yet.";
    }
    if (h.forcedDown || nowMs - h.lastHeartbeatMs > serviceDownTimeMs) {
      return "Compute service of " + h.host + " is down.";
    }
    if (h.disabled) {
      return "Compute service of " + h.host + " is disabled.";
    }
    long freeMem = (long) (h.memoryMb * RAM_RATIO) - h.memoryMbUsed;
    if (freeMem < req.memoryMb()) {
      return "Insufficient RAM on "
          + h.host
          + ": "
          + req.memoryMb()
          + " MB needed, "
          + Math.max(0, freeMem)
          + " MB free.";
    }
    long freeDisk = (long) (h.diskGb * DISK_RATIO) - h.diskGbUsed;
    if (freeDisk < req.diskGb()) {
      return "Insufficient disk on "
          + h.host
          + ": "
          + req.diskGb()
          + " GB needed, "
          + Math.max(0, freeDisk)
          + " GB free.";
    }
    long freeCpu = (long) (h.vcpus * CPU_RATIO) - h.vcpusUsed;
    if (freeCpu < req.vcpus()) {
      return "Insufficient vCPUs on "
          + h.host
          + ": "
          + req.vcpus()
          + " needed, "
          + Math.max(0, freeCpu)
          + " free.";
    }
    return null;
  }
}
