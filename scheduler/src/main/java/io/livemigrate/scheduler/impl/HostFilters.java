package io.livemigrate.scheduler.impl;

import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;

/**
 * The scheduler's filters: whether a host may take a migration (state, zone, hypervisor type and
 * version, CPU, inbound limit, free RAM, disk and vCPUs), and the first reason it may not, worded
 * for the operator. Two forms with one verdict: {@link #passes} touches only the host's state (a
 * decision over many hosts is bound by memory reads), {@link #reject} explains.
 */
final class HostFilters {
  private final long serviceDownTimeMs;

  HostFilters(long serviceDownTimeMs) {
    this.serviceDownTimeMs = serviceDownTimeMs;
  }

  /** The same verdict as {@link #reject} with explanations, without building any text. */
  boolean passes(HostState h, HostState source, SelectDestinations req, long nowMs) {
    // Identity comparisons only (zone, type and CPU model are interned): a decision over 10,000
    // hosts is bound by memory reads, and this touches nothing but the HostState itself.
    if (h == source || !h.reported || h.disabled || h.forcedDown) return false;
    if (!req.ignoreHosts().isEmpty() && req.ignoreHosts().contains(h.host)) return false;
    if (nowMs - h.lastHeartbeatMs > serviceDownTimeMs) return false;
    if (source != null && source.reported) {
      if (h.zone != source.zone || h.hypervisorType != source.hypervisorType) return false;
      if (h.hypervisorVersion < source.hypervisorVersion) return false;
      if (cpuMismatch(h, source, req.instanceUuid(), false) != null) return false;
    }
    if (h.maxInbound > 0 && h.inbound >= h.maxInbound) return false;
    return h.freeMemoryMb() >= req.memoryMb()
        && h.freeDiskGb() >= req.diskGb()
        && h.freeVcpus() >= req.vcpus();
  }

  /**
   * The CPU filter: where the source reported the guest's CPU and the candidate described its own
   * (features and usable models), the guest's model must be usable there and every feature it
   * requires offered; a cheap check of the reports, the destination's own comparison stays the
   * authority. Hosts that report plain model names are compared by name, as before. Null = passes;
   * without {@code explain} a failure is an empty string.
   */
  private static String cpuMismatch(
      HostState h, HostState source, String instanceUuid, boolean explain) {
    HostState.GuestCpu g = source.guestCpus.get(instanceUuid);
    if (h.hostCpu != null) {
      if (g == null || !g.checkable()) return null;
      // The host-model's name does not count: that model may be offered only with features off.
      if (g.model() != null && !h.hostCpu.usable().contains(g.model())) {
        return explain
            ? "Host "
                + h.host
                + " cannot run the guest's CPU model "
                + g.model()
                + " (not usable there)."
            : "";
      }
      if (h.hostCpu.features().containsAll(g.required())) return null;
      if (!explain) return "";
      java.util.TreeSet<String> missing = new java.util.TreeSet<>(g.required());
      missing.removeAll(h.hostCpu.features());
      return "Host "
          + h.host
          + "'s CPU lacks "
          + String.join(", ", missing)
          + ", which the guest's CPU ("
          + (g.model() == null ? g.mode() : g.model())
          + ") requires.";
    }
    if (h.cpuModel != null
        && source.cpuModel != null
        && source.hostCpu == null
        && !h.cpuModel.equals(source.cpuModel)) {
      return explain
          ? "Host "
              + h.host
              + "'s CPU model "
              + h.cpuModel
              + " is not compatible with the source's "
              + source.cpuModel
              + "."
          : "";
    }
    return null;
  }

  /**
   * The first filter a host fails, as an operator-readable reason; null if it passes all. Without
   * {@code explain} a failing host gets an empty reason (the caller only counts it).
   */
  String reject(
      HostState h, HostState source, SelectDestinations req, long nowMs, boolean explain) {
    if (!explain) return passes(h, source, req, nowMs) ? null : "";
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
    if (source != null && !source.hypervisorType.isEmpty()) {
      if (!h.zone.equals(source.zone)) {
        return "Host "
            + h.host
            + " is in availability zone "
            + h.zone
            + "; the instance is in "
            + source.zone
            + ".";
      }
      if (!h.hypervisorType.equals(source.hypervisorType)) {
        return "Host "
            + h.host
            + " runs hypervisor "
            + h.hypervisorType
            + "; the source runs "
            + source.hypervisorType
            + ".";
      }
      if (h.hypervisorVersion < source.hypervisorVersion) {
        return "Host "
            + h.host
            + "'s hypervisor version "
            + h.hypervisorVersion
            + " is older than the source's "
            + source.hypervisorVersion
            + ".";
      }
      String cpu = cpuMismatch(h, source, req.instanceUuid(), true);
      if (cpu != null) return cpu;
    }
    if (h.maxInbound > 0 && h.inbound >= h.maxInbound) {
      return "Host "
          + h.host
          + " already takes "
          + h.inbound
          + " inbound live migrations (max_concurrent_inbound_live_migrations="
          + h.maxInbound
          + ").";
    }
    long freeMem = h.freeMemoryMb();
    if (freeMem < req.memoryMb()) {
      return "Insufficient RAM on "
          + h.host
          + ": "
          + req.memoryMb()
          + " MB needed, "
          + Math.max(0, freeMem)
          + " MB free.";
    }
    long freeDisk = h.freeDiskGb();
    if (freeDisk < req.diskGb()) {
      return "Insufficient disk on "
          + h.host
          + ": "
          + req.diskGb()
          + " GB needed, "
          + Math.max(0, freeDisk)
          + " GB free.";
    }
    long freeCpu = h.freeVcpus();
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
