package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Fifty live migrations asked for at once from five full hosts, onto three empty ones (and the
 * sources, as they empty) that cannot take them all at once: claims, the outbound limit and the
 * inbound limit must hold at every moment, checked from the conductor's store while they run.
 */
class ConcurrentMigrationsTest {
  private static final int SOURCES = 5;
  private static final int PER_SOURCE = 10;
  private static final long GUEST_MB = 2048;
  private static final long DEST_MB = 20 * 1024; // ten guests each
  private static final int MAX_OUT = 2;
  private static final int MAX_IN = 4;

  @Test
  void fiftyConcurrentMigrationsNeverOversubscribeAHost() throws Exception {
    List<AllInOne.HostSpec> hosts = new ArrayList<>();
    List<String> uuids = new ArrayList<>();
    for (int s = 0; s < SOURCES; s++) {
      List<SimDomain> guests = new ArrayList<>();
      for (int g = 0; g < PER_SOURCE; g++) {
        String uuid = String.format("00000000-0000-4000-8000-%012d", s * 100 + g);
        uuids.add(uuid);
        guests.add(ApiCloud.guest(uuid, "g" + s + "-" + g, "p1", GUEST_MB, 20 * SimDomain.MIB, 0));
      }
      // Sources are full, so the three empty hosts are the only destinations.
      hosts.add(
          new AllInOne.HostSpec(
              "src" + s, new HostResources(64, PER_SOURCE * GUEST_MB, 1000), guests));
    }
    for (String d : List.of("dstA", "dstB", "dstC")) {
      hosts.add(new AllInOne.HostSpec(d, new HostResources(16, DEST_MB, 1000), List.of()));
    }
    Map<String, String> conf = new HashMap<>();
    conf.put(DefaultOptions.MAX_CONCURRENT_LIVE_MIGRATIONS.key(), Integer.toString(MAX_OUT));
    conf.put(DefaultOptions.MAX_CONCURRENT_INBOUND_LIVE_MIGRATIONS.key(), Integer.toString(MAX_IN));
    conf.put(ConductorOptions.QUEUE_RETRY_MS.key(), "200");
    try (ApiCloud c = ApiCloud.start(hosts, conf)) {
      Http api = c.as(ApiCloud.ADMIN);
      Map<String, Long> capacity = new HashMap<>();
      for (AllInOne.HostSpec h : hosts) capacity.put(h.name(), h.capacity().memoryMb());
      AtomicBoolean running = new AtomicBoolean(true);
      AtomicInteger checks = new AtomicInteger();
      List<String> violations = new java.util.concurrent.CopyOnWriteArrayList<>();
      Thread checker =
          new Thread(
              () -> {
                while (running.get()) {
                  try {
                    violations.addAll(check(c, capacity));
                    checks.incrementAndGet();
                  } catch (Exception e) {
                    violations.add("check failed: " + e);
                  }
                }
              });
      checker.start();
      for (String uuid : uuids) {
        Http.Response r =
            api.post(
                "/servers/" + uuid + "/action",
                "{\"os-migrateLive\": {\"host\": null, \"block_migration\": false}}",
                "2.30");
        assertEquals(202, r.status(), r.body());
      }
      Http.until(
          "all fifty migrations finished",
          Duration.ofSeconds(120),
          () ->
              api.get("/os-migrations?limit=100").json().getJsonArray("migrations").stream()
                      .filter(
                          o ->
                              List.of("completed", "failed", "cancelled", "error")
                                  .contains(((JsonObject) o).getString("status")))
                      .count()
                  == uuids.size());
      running.set(false);
      checker.join();
      violations.addAll(check(c, capacity));
      assertTrue(violations.isEmpty(), "limits broken: " + violations);
      assertTrue(checks.get() >= 20, "the store was checked while they ran: " + checks.get());
      var all = api.get("/os-migrations?limit=100").json().getJsonArray("migrations");
      for (Object o : all) {
        JsonObject m = (JsonObject) o;
        assertTrue(
            "completed".equals(m.getString("status"))
                || "NO_VALID_HOST".equals(m.getString("reason")),
            "only completed or no valid host: "
                + m.getString("status")
                + " "
                + m.getString("reason"));
      }
      long completed =
          all.stream()
              .filter(o -> "completed".equals(((JsonObject) o).getString("status")))
              .count();
      long noHost =
          all.stream()
              .filter(o -> "NO_VALID_HOST".equals(((JsonObject) o).getString("reason")))
              .count();
      // The three empty hosts take at least thirty; sources emptied meanwhile may take more.
      assertTrue(completed >= 30, "completed: " + completed);
      assertEquals(uuids.size(), completed + noHost);
    }
  }

  /** What the store says right now, against capacity and the limits; a list of what is wrong. */
  private static List<String> check(ApiCloud c, Map<String, Long> capacity) throws Exception {
    var conductor = c.cloud.conductor().conductor();
    record Snapshot(List<InstanceRow> instances, List<MigrationRow> migrations) {}
    Snapshot snap =
        conductor
            .inventory()
            .instances(null)
            .compose(
                instances ->
                    conductor
                        .migrations()
                        .list(io.livemigrate.conductor.MigrationQuery.all())
                        .map(ms -> new Snapshot(instances, ms.orElseThrow())))
            .await(10, TimeUnit.SECONDS);
    List<String> wrong = new ArrayList<>();
    Map<String, Long> used = new HashMap<>();
    Map<String, Integer> inbound = new HashMap<>();
    Map<String, Integer> outbound = new HashMap<>();
    Map<String, String> hostOf = new HashMap<>();
    for (InstanceRow i : snap.instances()) {
      used.merge(i.host(), i.memoryMb(), Long::sum);
      hostOf.put(i.uuid(), i.host());
    }
    for (MigrationRow m : snap.migrations()) {
      boolean inFlight =
          !m.status.isFinal()
              && m.status != MigrationStatus.ACCEPTED
              && m.status != MigrationStatus.QUEUED
              && m.destCompute != null;
      if (!inFlight) continue;
      // Until it completes the instance is on its source; its destination holds the claim. Once
      // the destination reports the instance (its row moves there) while the migration is still
      // finishing, the row counts it and the claim must not count it again.
      if (!m.destCompute.equals(hostOf.get(m.instanceUuid))) {
        used.merge(m.destCompute, GUEST_MB, Long::sum);
      }
      inbound.merge(m.destCompute, 1, Integer::sum);
      outbound.merge(m.sourceCompute, 1, Integer::sum);
    }
    capacity.forEach(
        (host, cap) -> {
          if (used.getOrDefault(host, 0L) > cap) {
            wrong.add(host + " uses " + used.get(host) + " MB of " + cap);
          }
          if (inbound.getOrDefault(host, 0) > MAX_IN) {
            wrong.add(host + " takes " + inbound.get(host) + " inbound");
          }
        });
    outbound.forEach(
        (host, n) -> {
          if (n > MAX_OUT) wrong.add(host + " sends " + n + " outbound");
        });
    return wrong;
  }
}
