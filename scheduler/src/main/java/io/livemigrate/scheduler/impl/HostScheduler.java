package io.livemigrate.scheduler.impl;

import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.InFlight;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import io.livemigrate.common.contract.SchedulerMessages.ServiceStatus;
import java.util.ArrayList;
import java.util.HashMap;
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

  private static final int MAX_RANKED = 20;
  private static final int MAX_REJECTED = 50;

  private final Map<String, HostState> hosts = new HashMap<>();

  /** The same hosts as an array: a decision scans them all, and an array scans fastest. */
  private HostState[] all = new HostState[0];

  /** Reused by every decision (single-threaded): the hosts that passed the filters. */
  private HostState[] passedBuf = new HostState[0];

  private final Claims claims = new Claims(this::host);
  private final long serviceDownTimeMs;
  private final HostFilters filters;
  private final int clusterMax;
  private final Weights weights;
  private long warmUntilMs;

  public HostScheduler(long serviceDownTimeMs) {
    this(serviceDownTimeMs, 0, Weights.RAM_ONLY);
  }

  /**
   * @param clusterMax live migrations in flight cluster-wide before requests wait (0 = no cap)
   */
  public HostScheduler(long serviceDownTimeMs, int clusterMax, Weights weights) {
    this.serviceDownTimeMs = serviceDownTimeMs;
    this.filters = new HostFilters(serviceDownTimeMs);
    this.clusterMax = clusterMax;
    this.weights = weights;
  }

  /**
   * Until then (a scheduler that just started, and has not heard every host yet), a request no
   * known host can take waits instead of failing with NO_VALID_HOST.
   */
  public void warmUpUntil(long epochMs) {
    warmUntilMs = epochMs;
  }

  public void onReport(HostReport r, long nowMs) {
    HostState h = host(r.host());
    h.apply(r);
    h.lastHeartbeatMs = Math.max(h.lastHeartbeatMs, nowMs);
    claims.reported(h, nowMs, serviceDownTimeMs);
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
    claims.release(instanceUuid, outcome, nowMs);
  }

  /** The conductor's snapshot of the migrations in flight (see {@link Claims#sync}). */
  public void inFlight(InFlight snapshot, long nowMs) {
    claims.sync(snapshot, nowMs);
  }

  /** Claims a snapshot dropped because their release never arrived. */
  public long leakedClaims() {
    return claims.leaked();
  }

  /** Hosts that reported (a claim may name a host the scheduler has not heard from yet). */
  public int size() {
    int n = 0;
    for (HostState h : all) if (h.reported || h.lastHeartbeatMs > 0) n++;
    return n;
  }

  /** Migrations holding a claim that have not ended. */
  public int inFlight() {
    return claims.inFlight();
  }

  /** Ranks destinations for one request and claims the first. */
  public Destinations select(SelectDestinations req, long nowMs) {
    // A retry for the same instance replaces its earlier claim.
    claims.replacedBy(req.instanceUuid());
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
    if (clusterMax > 0 && claims.inFlight() >= clusterMax) {
      return Destinations.waitFor(
          claims.inFlight()
              + " live migrations are in flight in the cluster (maximum "
              + clusterMax
              + ").");
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
        String why = filters.reject(h, source, req, nowMs, true);
        if (why == null) passed[n++] = h;
        else rejected.put(h.host, why);
      }
    } else {
      for (HostState h : all) {
        // Past MAX_REJECTED reasons only the verdict matters: skip building the text.
        boolean explain = rejected.size() < MAX_REJECTED;
        String why = filters.reject(h, source, req, nowMs, explain);
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
    if (ranked.isEmpty() && nowMs < warmUntilMs) {
      return Destinations.waitFor(
          "The scheduler started moments ago and waits for the compute hosts' reports.");
    }
    if (!ranked.isEmpty()) {
      claims.claim(
          req.instanceUuid(),
          req.sourceHost(),
          ranked.get(0),
          req.vcpus(),
          req.memoryMb(),
          req.diskGb(),
          nowMs);
    }
    return new Destinations(ranked, rejected);
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

  private static double norm(double v, double min, double max) {
    return max == min ? 0 : (v - min) / (max - min);
  }

  /** Higher score first; equal scores by host name. */
  private static boolean better(double sa, int a, double sb, int b, HostState[] passed) {
    int c = Double.compare(sa, sb);
    return c != 0 ? c > 0 : passed[a].host.compareTo(passed[b].host) < 0;
  }
}
