package io.livemigrate.scheduler.impl;

import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import io.livemigrate.common.contract.SchedulerMessages.ServiceStatus;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Filter-weigh-claim destination selection. Every host passes each filter or is rejected with the
 * first reason it failed; survivors are ranked by weighers (free RAM, free vCPUs, fewest migrations
 * in flight), each normalised over the candidates as Nova does and scaled by its multiplier; the
 * best one is claimed for the migration at once, so concurrent requests see each other's claims and
 * never oversubscribe a host. Unlike Nova, in-flight live migrations count: per-host outbound and
 * inbound limits and a cluster-wide cap make a request wait (queued) rather than fail. Pure logic,
 * single-threaded: the caller supplies the clock.
 */
public final class HostScheduler {
  /** Weigher multipliers; 0 turns a weigher off. */
  public record Weights(double ram, double cpu, double migrations) {
    /** RAM only: the issue-2 behaviour, kept for its tests. */
    public static final Weights RAM_ONLY = new Weights(1, 0, 0);
  }

  /** A destination held for one migration until the conductor releases it. */
  private record Claim(
      String instanceUuid,
      String source,
      String dest,
      int vcpus,
      long memoryMb,
      long diskGb,
      boolean completed,
      long sinceMs) {}

  private static final int MAX_RANKED = 20;
  private static final int MAX_REJECTED = 50;

  private final Map<String, HostState> hosts = new HashMap<>();

  /** The same hosts as an array: a decision scans them all, and an array scans fastest. */
  private HostState[] all = new HostState[0];

  /** Reused by every decision (single-threaded): the hosts that passed the filters. */
  private HostState[] passedBuf = new HostState[0];

  private final Map<String, Claim> claims = new HashMap<>();
  private final long serviceDownTimeMs;
  private final int clusterMax;
  private final Weights weights;
  private int inFlight;

  public HostScheduler(long serviceDownTimeMs) {
    this(serviceDownTimeMs, 0, Weights.RAM_ONLY);
  }

  /**
   * @param clusterMax live migrations in flight cluster-wide before requests wait (0 = no cap)
   */
  public HostScheduler(long serviceDownTimeMs, int clusterMax, Weights weights) {
    this.serviceDownTimeMs = serviceDownTimeMs;
    this.clusterMax = clusterMax;
    this.weights = weights;
  }

  public void onReport(HostReport r, long nowMs) {
    HostState h = host(r.host());
    h.apply(r);
    h.lastHeartbeatMs = Math.max(h.lastHeartbeatMs, nowMs);
    // A completed migration's claim becomes the instance itself once the destination reports it;
    // one never reported is dropped after service_down_time.
    for (Iterator<Claim> it = claims.values().iterator(); it.hasNext(); ) {
      Claim c = it.next();
      if (c.completed()
          && ((c.dest().equals(r.host()) && h.instances.contains(c.instanceUuid()))
              || nowMs - c.sinceMs() > serviceDownTimeMs)) {
        it.remove();
        unclaimResources(c);
      }
    }
  }

  private HostState host(String name) {
    HostState h = hosts.get(name);
    if (h == null) {
      h = new HostState(name);
      hosts.put(name, h);
      all = java.util.Arrays.copyOf(all, all.length + 1);
      all[all.length - 1] = h;
      passedBuf = new HostState[all.length];
    }
    return h;
  }

  public void onHeartbeat(String host, long nowMs) {
    host(host).lastHeartbeatMs = nowMs;
  }

  public void onStatus(ServiceStatus s) {
    HostState h = host(s.host());
    h.disabled = s.disabled();
    h.forcedDown = s.forcedDown();
  }

  /**
   * A migration ended. Its destination claim is released, except after a completed migration, where
   * it stands for the instance until the destination's next report includes it.
   */
  public void release(String instanceUuid, String outcome, long nowMs) {
    Claim c = claims.remove(instanceUuid);
    if (c == null || c.completed()) {
      if (c != null) claims.put(instanceUuid, c);
      return;
    }
    endFlight(c);
    if ("completed".equals(outcome)) {
      claims.put(
          instanceUuid,
          new Claim(
              c.instanceUuid(),
              c.source(),
              c.dest(),
              c.vcpus(),
              c.memoryMb(),
              c.diskGb(),
              true,
              nowMs));
    } else {
      unclaimResources(c);
    }
  }

  public int size() {
    return hosts.size();
  }

  /** Migrations holding a claim that have not ended. */
  public int inFlight() {
    return inFlight;
  }

  /** Ranks destinations for one request and claims the first. */
  public Destinations select(SelectDestinations req, long nowMs) {
    // A retry for the same instance replaces its earlier claim.
    Claim previous = claims.get(req.instanceUuid());
    if (previous != null && !previous.completed()) {
      claims.remove(req.instanceUuid());
      endFlight(previous);
      unclaimResources(previous);
    }
    HostState source = hosts.get(req.sourceHost());
    if (source != null && source.maxOutbound > 0 && source.outbound >= source.maxOutbound) {
      return Destinations.waitFor(
          "Source host "
              + source.host
              + " already runs "
              + source.outbound
              + " outbound live migrations (max_concurrent_live_migrations="
              + source.maxOutbound
              + ").");
    }
    if (clusterMax > 0 && inFlight >= clusterMax) {
      return Destinations.waitFor(
          inFlight + " live migrations are in flight in the cluster (maximum " + clusterMax + ").");
    }
    Map<String, String> rejected = new LinkedHashMap<>();
    HostState[] passed = passedBuf;
    int n = 0;
    int moreRejected = 0;
    if (req.requestedHost() != null && !req.requestedHost().isBlank()) {
      HostState h = hosts.get(req.requestedHost());
      if (h == null || h.hypervisorType.isEmpty()) {
        rejected.put(
            req.requestedHost(), "Compute host " + req.requestedHost() + " could not be found.");
      } else {
        String why = reject(h, source, req, nowMs, true);
        if (why == null) passed[n++] = h;
        else rejected.put(h.host, why);
      }
    } else {
      for (HostState h : all) {
        // Past MAX_REJECTED reasons only the verdict matters: skip building the text.
        boolean explain = rejected.size() < MAX_REJECTED;
        String why = reject(h, source, req, nowMs, explain);
        if (why == null) {
          passed[n++] = h;
        } else if (explain) {
          rejected.put(h.host, why);
        } else {
          moreRejected++;
        }
      }
    }
    if (moreRejected > 0) {
      rejected.put("(others)", moreRejected + " more hosts were rejected.");
    }
    List<String> ranked = rank(passed, n);
    if (!ranked.isEmpty()) claim(req, source, hosts.get(ranked.get(0)), nowMs);
    return new Destinations(ranked, rejected);
  }

  private void claim(SelectDestinations req, HostState source, HostState dest, long nowMs) {
    Claim c =
        new Claim(
            req.instanceUuid(),
            req.sourceHost(),
            dest.host,
            req.vcpus(),
            req.memoryMb(),
            req.diskGb(),
            false,
            nowMs);
    claims.put(req.instanceUuid(), c);
    dest.claimedVcpus += c.vcpus();
    dest.claimedMemoryMb += c.memoryMb();
    dest.claimedDiskGb += c.diskGb();
    dest.inbound++;
    if (source != null) source.outbound++;
    inFlight++;
  }

  private void endFlight(Claim c) {
    HostState d = hosts.get(c.dest());
    if (d != null) d.inbound--;
    HostState s = hosts.get(c.source());
    if (s != null) s.outbound--;
    inFlight--;
  }

  private void unclaimResources(Claim c) {
    HostState d = hosts.get(c.dest());
    if (d == null) return;
    d.claimedVcpus -= c.vcpus();
    d.claimedMemoryMb -= c.memoryMb();
    d.claimedDiskGb -= c.diskGb();
  }

  /**
   * Best first, at most {@value #MAX_RANKED}: each weigher normalised over the candidates as Nova
   * does ((v - min) / (max - min), 0 when all are equal), scaled by its multiplier; ties by name.
   * Two passes over the candidates and a small sorted array for the winners, no per-candidate
   * allocation: at 10,000 hosts a full sort or per-call arrays would dominate a decision.
   */
  private List<String> rank(HostState[] passed, int n) {
    if (n == 0) return List.of();
    double ramMin = Double.MAX_VALUE, ramMax = -Double.MAX_VALUE;
    double cpuMin = Double.MAX_VALUE, cpuMax = -Double.MAX_VALUE;
    double migMin = Double.MAX_VALUE, migMax = -Double.MAX_VALUE;
    for (int i = 0; i < n; i++) {
      HostState h = passed[i];
      double r = h.freeMemoryMb();
      double c = h.freeVcpus();
      double m = -(h.inbound + h.outbound);
      ramMin = Math.min(ramMin, r);
      ramMax = Math.max(ramMax, r);
      cpuMin = Math.min(cpuMin, c);
      cpuMax = Math.max(cpuMax, c);
      migMin = Math.min(migMin, m);
      migMax = Math.max(migMax, m);
    }
    int k = Math.min(n, MAX_RANKED);
    int[] top = new int[k];
    double[] topScore = new double[k];
    int size = 0;
    for (int i = 0; i < n; i++) {
      HostState h = passed[i];
      double sc =
          weights.ram() * norm(h.freeMemoryMb(), ramMin, ramMax)
              + weights.cpu() * norm(h.freeVcpus(), cpuMin, cpuMax)
              + weights.migrations() * norm(-(h.inbound + h.outbound), migMin, migMax);
      if (size == k && !better(sc, i, topScore[k - 1], top[k - 1], passed)) continue;
      int pos = size < k ? size++ : k - 1;
      while (pos > 0 && better(sc, i, topScore[pos - 1], top[pos - 1], passed)) {
        top[pos] = top[pos - 1];
        topScore[pos] = topScore[pos - 1];
        pos--;
      }
      top[pos] = i;
      topScore[pos] = sc;
    }
    List<String> out = new ArrayList<>(size);
    for (int i = 0; i < size; i++) out.add(passed[top[i]].host);
    return out;
  }

  /** The same verdict as {@link #reject} with explanations, without building any text. */
  private boolean passes(HostState h, HostState source, SelectDestinations req, long nowMs) {
    // Identity comparisons only (zone, type and CPU model are interned): a decision over 10,000
    // hosts is bound by memory reads, and this touches nothing but the HostState itself.
    if (h == source || !h.reported || h.disabled || h.forcedDown) return false;
    if (!req.ignoreHosts().isEmpty() && req.ignoreHosts().contains(h.host)) return false;
    if (nowMs - h.lastHeartbeatMs > serviceDownTimeMs) return false;
    if (source != null && source.reported) {
      if (h.zone != source.zone || h.hypervisorType != source.hypervisorType) return false;
      if (h.hypervisorVersion < source.hypervisorVersion) return false;
      if (h.cpuModel != null && source.cpuModel != null && h.cpuModel != source.cpuModel) {
        return false;
      }
    }
    if (h.maxInbound > 0 && h.inbound >= h.maxInbound) return false;
    return h.freeMemoryMb() >= req.memoryMb()
        && h.freeDiskGb() >= req.diskGb()
        && h.freeVcpus() >= req.vcpus();
  }

  private static double norm(double v, double min, double max) {
    return max == min ? 0 : (v - min) / (max - min);
  }

  /** Higher score first; equal scores by host name. */
  private static boolean better(double sa, int a, double sb, int b, HostState[] passed) {
    int c = Double.compare(sa, sb);
    return c != 0 ? c > 0 : passed[a].host.compareTo(passed[b].host) < 0;
  }

  /**
   * The first filter a host fails, as an operator-readable reason; null if it passes all. Without
   * {@code explain} a failing host gets an empty reason (the caller only counts it).
   */
  private String reject(
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
      if (h.cpuModel != null && source.cpuModel != null && !h.cpuModel.equals(source.cpuModel)) {
        return "Host "
            + h.host
            + "'s CPU model "
            + h.cpuModel
            + " is not compatible with the source's "
            + source.cpuModel
            + ".";
      }
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
