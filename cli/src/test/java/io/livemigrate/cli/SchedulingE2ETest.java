package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.sim.FailurePoint;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.conductor.MigrationRow;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Rescheduling after a failed prepare, the API's force, and NO_VALID_HOST with reasons. */
class SchedulingE2ETest {
  static final String VM1 = "00000000-0000-4000-a000-000000000001";
  static final String VM2 = "00000000-0000-4000-a000-000000000002";
  static final String BIG = "00000000-0000-4000-a000-000000000003";

  @Test
  void retriesForceAndNoValidHost() throws Exception {
    List<AllInOne.HostSpec> hosts =
        List.of(
            new AllInOne.HostSpec(
                "HostA",
                new HostResources(16, 131_072, 1000),
                List.of(
                    ApiCloud.guest(VM1, "vm1", "p1", 1024, 10 * SimDomain.MIB, 0),
                    ApiCloud.guest(VM2, "vm2", "p1", 1024, 10 * SimDomain.MIB, 0),
                    ApiCloud.guest(BIG, "big", "p1", 70_000, 10 * SimDomain.MIB, 0))),
            // HostB has the most free RAM, so the scheduler tries it first.
            new AllInOne.HostSpec("HostB", new HostResources(16, 65_536, 1000), List.of()),
            new AllInOne.HostSpec("HostC", new HostResources(16, 32_768, 1000), List.of()));
    try (ApiCloud c = ApiCloud.start(hosts, Map.of())) {
      Http api = c.as(ApiCloud.ADMIN);
      c.cloud.hypervisor("HostB").script(FailurePoint.PREPARE, "*", "disk full");

      // 1. The scheduler's first choice fails to prepare: the next host takes it.
      assertEquals(202, migrate(api, VM1, null, false).status());
      JsonObject m1 = finished(api, VM1);
      assertEquals("completed", m1.getString("status"), m1.encode());
      assertEquals("HostC", m1.getString("dest_compute"));
      MigrationRow row =
          c.cloud
              .conductor()
              .conductor()
              .migrations()
              .find(m1.getLong("id"))
              .await(10, TimeUnit.SECONDS)
              .orElseThrow();
      assertEquals(List.of("HostB"), row.triedHosts);
      assertTrue(
          row.actions.stream().anyMatch(a -> a.contains("prepare failed on HostB")),
          row.actions.toString());
      assertTrue(!c.cloud.hypervisor("HostB").hasIncoming(VM1), "HostB's reservation rolled back");

      // 2. force with a named host skips the scheduler (2.30-2.67): no new decision is made.
      c.cloud.hypervisor("HostB").clearScripts();
      double before = decisions(c);
      assertEquals(202, migrate(api, VM2, "HostB", true).status());
      JsonObject m2 = finished(api, VM2);
      assertEquals("completed", m2.getString("status"), m2.encode());
      assertEquals("HostB", m2.getString("dest_compute"));
      assertEquals(before, decisions(c), "the scheduler was not asked");

      // 3. Nothing fits: NO_VALID_HOST, with the reason for each host.
      assertEquals(202, migrate(api, BIG, null, false).status());
      JsonObject m3 = finished(api, BIG);
      assertEquals("failed", m3.getString("status"));
      assertEquals("NO_VALID_HOST", m3.getString("reason"));
      String why = m3.getString("message");
      assertTrue(
          why.contains("Insufficient RAM on HostB") && why.contains("Insufficient RAM on HostC"),
          why);
      assertEquals(
          "ACTIVE",
          api.get("/servers/" + BIG).json().getJsonObject("server").getString("status"),
          "still running on its source");

      // 4. Naming a full, a down or a disabled host is refused with Nova's 400 before anything
      // starts.
      Http.Response full = migrate(api, BIG, "HostB", false);
      assertEquals(400, full.status(), full.body());
      assertTrue(full.body().contains("Insufficient RAM on HostB"), full.body());
      Http.Response down =
          api.send(
              java.net.http.HttpRequest.newBuilder(
                      java.net.URI.create(c.endpoint + "/os-services/force-down"))
                  .header("Content-Type", "application/json")
                  .PUT(
                      java.net.http.HttpRequest.BodyPublishers.ofString(
                          "{\"host\": \"HostC\", \"binary\": \"nova-compute\", \"forced_down\": true}")),
              "2.11");
      assertEquals(200, down.status(), down.body());
      Http.Response named = migrate(api, VM1, "HostB", false);
      assertEquals(202, named.status(), "HostB is fine: " + named.body());
      assertEquals("completed", finished(api, VM1).getString("status"));
      Http.Response toDown = migrate(api, VM1, "HostC", false);
      assertEquals(400, toDown.status(), toDown.body());
      assertTrue(toDown.body().contains("HostC is unavailable"), toDown.body());
    }
  }

  /**
   * A release_claim that never arrives (dropped on purpose) would hold HostA's only outbound slot
   * for good, and a restarted scheduler knows no claims at all: the conductor's in-flight snapshot
   * repairs both, so the next migrations from that source are not blocked.
   */
  @Test
  void aLostReleaseAndARestartedSchedulerBlockNothing() throws Exception {
    List<AllInOne.HostSpec> hosts =
        List.of(
            new AllInOne.HostSpec(
                "HostA",
                ApiCloud.capacity(),
                List.of(
                    ApiCloud.guest(VM1, "vm1", "p1", 1024, 10 * SimDomain.MIB, 0),
                    ApiCloud.guest(VM2, "vm2", "p1", 1024, 10 * SimDomain.MIB, 0))),
            new AllInOne.HostSpec("HostB", ApiCloud.capacity(), List.of()));
    System.setProperty("livemigrate.test.dropReleaseClaims", "true");
    try (ApiCloud c = ApiCloud.start(hosts, Map.of())) {
      Http api = c.as(ApiCloud.ADMIN);
      assertEquals(202, migrate(api, VM1, "HostB", false).status());
      assertEquals("completed", finished(api, VM1).getString("status"));
      // HostA's slot (max_concurrent_live_migrations = 1) is still claimed for vm1.
      assertEquals(202, migrate(api, VM2, "HostB", false).status());
      JsonObject m2 = finished(api, VM2);
      assertEquals("completed", m2.getString("status"), m2.encode());
      assertTrue(leaked(c) >= 1, "the scheduler dropped the leaked claim");
      System.clearProperty("livemigrate.test.dropReleaseClaims");
      c.cloud.restartScheduler().await(30, TimeUnit.SECONDS);
      assertEquals(202, migrate(api, VM1, "HostA", false).status());
      assertEquals("completed", finished(api, VM1).getString("status"));
    } finally {
      System.clearProperty("livemigrate.test.dropReleaseClaims");
    }
  }

  private static double leaked(ApiCloud c) {
    return schedulerCounter(c, "livemigrate_scheduler_claims_leaked_total");
  }

  private static Http.Response migrate(Http api, String uuid, String host, boolean force) {
    String h = host == null ? "null" : "\"" + host + "\"";
    return api.post(
        "/servers/" + uuid + "/action",
        "{\"os-migrateLive\": {\"host\": "
            + h
            + ", \"block_migration\": false"
            + (force ? ", \"force\": true" : "")
            + "}}",
        "2.30");
  }

  private static JsonObject finished(Http api, String uuid) {
    JsonObject[] last = new JsonObject[1];
    Http.until(
        "migration of " + uuid + " to finish",
        Duration.ofSeconds(30),
        () -> {
          var l = api.get("/os-migrations?instance_uuid=" + uuid).json().getJsonArray("migrations");
          last[0] = l.isEmpty() ? null : l.getJsonObject(0);
          return last[0] != null
              && List.of("completed", "failed", "cancelled", "error")
                  .contains(last[0].getString("status"));
        });
    return last[0];
  }

  private static double decisions(ApiCloud c) {
    return schedulerCounter(c, "livemigrate_scheduler_decisions_total");
  }

  /** A scheduler counter summed over its labels. */
  private static double schedulerCounter(ApiCloud c, String name) {
    String scrape = Http.raw("http://127.0.0.1:" + c.cloud.scheduler().opsPort() + "/metrics");
    double sum = 0;
    for (String line : scrape.split("\n")) {
      if (line.startsWith(name)) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }
}
