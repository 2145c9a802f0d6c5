package io.livemigrate.conductor.impl;

import io.livemigrate.common.bus.ForbiddenSender;
import io.livemigrate.common.bus.Identities;
import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.InstanceReport;
import io.livemigrate.common.contract.AgentEvents.ServiceHeartbeat;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.conductor.HostRow;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.ServiceRow;
import io.livemigrate.conductor.Usage;
import io.livemigrate.conductor.store.HostReports.Domain;
import io.livemigrate.conductor.store.InventoryTables;
import io.vertx.core.Future;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The compute hosts as the store knows them: heartbeats and host reports in (each one transaction),
 * the API's reads out. A report also replaces what its hypervisor runs, which the {@link
 * Reconciler} compares with the record.
 */
final class InventoryService implements Inventory {
  private final TxRunner tx;
  private final Reconciler reconciler;
  private final ServiceAdmin admin;
  private final Identities identities;

  InventoryService(TxRunner tx, Reconciler reconciler, ServiceAdmin admin, Identities identities) {
    this.identities = identities;
    this.tx = tx;
    this.reconciler = reconciler;
    this.admin = admin;
  }

  /**
   * Only a host may report itself: the envelope's sender, and where the broker vouches for the
   * login (a per-host identity) that too, must be the host the report is about.
   */
  /** Heartbeats and reports only from the agent of the host they are about (else parked). */
  private void checkReporter(Envelope env, String host) {
    if (!host.equals(env.sender().host())
        || !"compute".equals(env.sender().service())
        || !identities.sentByCompute(env, host)) {
      throw new ForbiddenSender(
          env.type()
              + " about "
              + host
              + " from "
              + env.sender().service()
              + "@"
              + env.sender().host()
              + (env.userId() == null ? "" : " (login " + env.userId() + ")")
              + ": only "
              + identities.compute(host)
              + " may send it");
    }
  }

  Future<Void> heartbeat(Envelope env, ServiceHeartbeat hb) {
    checkReporter(env, hb.host());
    return tx.run(
        c -> {
          c.tx().inventory().heartbeat(hb.host(), hb.binary(), hb.zone(), c.now());
          return null;
        });
  }

  Future<Void> report(Envelope env, HostReport r) {
    checkReporter(env, r.host());
    long sentMs = parseMs(env.sentAt());
    Set<String> reported = new HashSet<>();
    for (InstanceReport i : r.instances()) reported.add(i.uuid());
    return tx.run(
            c -> {
              apply(c, r, sentMs);
              return reconciler.afterReport(c, r.host(), reported, r.jobs());
            })
        .compose(
            migrations -> {
              // Each in a transaction of its own: the migration's lock before its instance's.
              Future<Void> f = Future.succeededFuture();
              for (String uuid : migrations) {
                f =
                    f.compose(
                        v ->
                            tx.run(
                                c -> {
                                  c.tx()
                                      .migrations()
                                      .tryLock(uuid)
                                      .ifPresent(
                                          m -> {
                                            MigrationRow before = m.copy();
                                            reconciler.migration(c, m);
                                            if (changed(before, m)) c.tx().migrations().update(m);
                                          });
                                  return null;
                                }));
              }
              return f;
            });
  }

  private static boolean changed(MigrationRow a, MigrationRow b) {
    return a.jobMissingSinceMs != b.jobMissingSinceMs
        || a.status != b.status
        || a.step != b.step
        || a.notifySeq != b.notifySeq;
  }

  private static void apply(StepContext c, HostReport r, long sentMs) {
    InventoryTables inv = c.tx().inventory();
    inv.upsertHost(
        new HostRow(
            r.host(),
            r.hypervisorType(),
            r.hypervisorVersion(),
            r.vcpus(),
            r.memoryMb(),
            r.diskGb(),
            r.permitPostCopy(),
            r.permitAutoConverge(),
            c.now(),
            r.sharedStorageWith(),
            new HostRow.Limits(
                r.cpuAllocationRatio(),
                r.ramAllocationRatio(),
                r.diskAllocationRatio(),
                r.maxInboundMigrations(),
                r.maxOutboundMigrations())));
    Set<String> jobs = r.jobs() == null ? Set.of() : new HashSet<>(r.jobs());
    List<Domain> domains = new ArrayList<>();
    Set<String> listed = new HashSet<>();
    for (InstanceReport i : r.instances()) {
      domains.add(new Domain(r.host(), i.uuid(), i.state(), jobs.contains(i.uuid()), sentMs));
      listed.add(i.uuid());
    }
    // A job whose domain the hypervisor does not list (a source in post-copy, say) still runs.
    for (String j : jobs) {
      if (!listed.contains(j)) domains.add(new Domain(r.host(), j, "migrating", true, sentMs));
    }
    c.tx().reports().replaceDomains(r.host(), domains, sentMs, c.now(), r.jobs() != null);
    for (InstanceReport i : r.instances()) {
      Optional<InstanceRow> known = inv.instance(i.uuid());
      // A report taken before our last change of this instance is stale.
      if (known.isPresent() && known.get().updatedMs() > sentMs) continue;
      // The saga owns a migrating instance; where it runs is the reconciler's to judge.
      if (known.isPresent() && "MIGRATING".equals(known.get().status())) continue;
      if (known.isPresent() && !known.get().host().equals(r.host())) continue;
      String status =
          switch (i.state()) {
            case "paused" -> "PAUSED";
            case "shutoff" -> "SHUTOFF";
            default -> "ACTIVE";
          };
      InstanceRow row =
          new InstanceRow(
              i.uuid(),
              i.name(),
              r.host(),
              status,
              null,
              i.vcpus(),
              i.memoryMb(),
              i.diskGb(),
              // A hypervisor that does not know the owner (an incoming guest without Nova's
              // metadata) does not take it away from the record.
              orKnown(i.projectId(), known.map(InstanceRow::projectId)),
              orKnown(i.userId(), known.map(InstanceRow::userId)),
              orKnown(i.flavor(), known.map(InstanceRow::flavor)),
              known.map(InstanceRow::createdMs).orElse(c.now()),
              c.now(),
              i.cpuXml(),
              i.machineType(),
              i.dirtyRateBps(),
              i.memoryDataBytes());
      if (known.isPresent() && sameAsReported(known.get(), row)) continue;
      inv.upsertInstance(row);
    }
  }

  private static String orKnown(String reported, Optional<String> known) {
    return reported == null || reported.isBlank() ? known.orElse(reported) : reported;
  }

  /** Nothing the report would change (times aside). */
  private static boolean sameAsReported(InstanceRow a, InstanceRow b) {
    return a.host().equals(b.host())
        && a.status().equals(b.status())
        && a.vcpus() == b.vcpus()
        && a.memoryMb() == b.memoryMb()
        && a.diskGb() == b.diskGb()
        && java.util.Objects.equals(a.cpuXml(), b.cpuXml())
        && java.util.Objects.equals(a.machineType(), b.machineType())
        && java.util.Objects.equals(a.dirtyRateBps(), b.dirtyRateBps())
        && java.util.Objects.equals(a.memoryDataBytes(), b.memoryDataBytes())
        && java.util.Objects.equals(a.name(), b.name())
        && java.util.Objects.equals(a.projectId(), b.projectId())
        && java.util.Objects.equals(a.userId(), b.userId())
        && java.util.Objects.equals(a.flavor(), b.flavor());
  }

  private static long parseMs(String iso) {
    try {
      return Instant.parse(iso).toEpochMilli();
    } catch (RuntimeException e) {
      return System.currentTimeMillis();
    }
  }

  // ------------------------------------------------------------------ the API's reads

  @Override
  public Future<Servers> servers() {
    return tx.read(
        t -> {
          Map<String, ServiceRow> byHost = new HashMap<>();
          for (ServiceRow s : t.inventory().services()) {
            if (COMPUTE_BINARY.equals(s.binary())) byHost.put(s.host(), s);
          }
          Map<String, Integer> progress = new HashMap<>();
          for (MigrationRow m : t.migrations().unfinished()) {
            progress.put(m.instanceUuid, progressPercent(m));
          }
          return new Servers(t.inventory().instances(null), byHost, progress);
        });
  }

  /** Nova's server {@code progress} (0-100): the share of the data copied so far. */
  static int progressPercent(MigrationRow m) {
    long total = m.memoryTotal + m.diskTotal;
    if (total <= 0) return 0;
    long remaining = Math.min(total, m.memoryRemaining + m.diskRemaining);
    return (int) Math.max(0, Math.min(100, 100 - (remaining * 100 / total)));
  }

  @Override
  public Future<Optional<InstanceRow>> instance(String uuid) {
    return tx.read(t -> t.inventory().instance(uuid));
  }

  @Override
  public Future<List<InstanceRow>> instances(String host) {
    return tx.read(t -> t.inventory().instances(host));
  }

  @Override
  public Future<List<ServiceRow>> services() {
    return tx.read(t -> t.inventory().services());
  }

  @Override
  public Future<Optional<ServiceRow>> computeService(String host) {
    return tx.read(t -> t.inventory().service(host, COMPUTE_BINARY));
  }

  @Override
  public Future<List<Node>> hypervisors() {
    return tx.read(
        t -> {
          Map<String, HostRow> hosts = new HashMap<>();
          for (HostRow h : t.inventory().hosts()) hosts.put(h.host(), h);
          Map<String, Usage> usage = new HashMap<>();
          for (Usage u : t.inventory().usage(null, false)) usage.put(u.host(), u);
          Map<String, List<InstanceRow>> instances = new HashMap<>();
          for (InstanceRow i : t.inventory().instances(null)) {
            instances.computeIfAbsent(i.host(), k -> new ArrayList<>()).add(i);
          }
          List<Node> out = new ArrayList<>();
          for (ServiceRow s : t.inventory().services()) {
            HostRow h = hosts.get(s.host());
            // No resources reported yet: not a hypervisor yet.
            if (!COMPUTE_BINARY.equals(s.binary()) || h == null) continue;
            out.add(
                new Node(
                    s,
                    h,
                    usage.getOrDefault(s.host(), Usage.none(s.host())),
                    instances.getOrDefault(s.host(), List.of())));
          }
          return out;
        });
  }

  @Override
  public Future<Optional<HostUsage>> hostUsage(String host) {
    return tx.read(
        t ->
            t.inventory()
                .host(host)
                .map(
                    h ->
                        new HostUsage(
                            h,
                            t.inventory().usage(host, false).stream()
                                .findFirst()
                                .orElse(Usage.none(host)),
                            t.inventory().usage(host, true))));
  }

  @Override
  public Future<Optional<ServiceRow>> updateService(
      String host,
      String binary,
      Boolean disabled,
      String reason,
      Boolean forcedDown,
      String requestId) {
    return admin.update(host, binary, disabled, reason, forcedDown, requestId);
  }
}
