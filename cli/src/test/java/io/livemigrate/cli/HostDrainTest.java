package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.DefaultOptions;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Server-side drain of a host with twenty instances, once with {@code
 * max_concurrent_live_migrations} 1 and once with 3: every instance ends elsewhere, the host is
 * disabled, and the drain's report shows the difference in total time.
 */
class HostDrainTest {
  private static final int GUESTS = 20;

  @Test
  void drainMovesEveryInstanceWithinTheOutboundLimit() throws Exception {
    double one = drain(1);
    double three = drain(3);
    System.out.printf(
        "drain of %d instances: %.1f s with outbound limit 1, %.1f s with limit 3 (%.1fx)%n",
        GUESTS, one, three, one / three);
    assertTrue(three < one, "a higher outbound limit drains faster: " + three + " vs " + one);
  }

  @Test
  void cliDrainsAHostAndReportsEachServer() throws Exception {
    List<SimDomain> guests = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      guests.add(
          ApiCloud.guest(
              String.format("00000000-0000-4000-9100-%012d", i), "c" + i, "p1", 256, 0, 0));
    }
    List<AllInOne.HostSpec> hosts =
        List.of(
            new AllInOne.HostSpec("HostA", ApiCloud.capacity(), guests),
            new AllInOne.HostSpec("HostB", ApiCloud.capacity(), List.of()));
    try (ApiCloud c = ApiCloud.start(hosts, Map.of(ConductorOptions.QUEUE_RETRY_MS.key(), "100"))) {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      java.io.PrintStream saved = System.out;
      int code;
      try {
        System.setOut(new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8));
        code =
            new picocli.CommandLine(new Main())
                .execute(
                    "host",
                    "drain",
                    "HostA",
                    "--wait",
                    "--os-endpoint",
                    c.endpoint,
                    "--os-token",
                    ApiCloud.ADMIN);
      } finally {
        System.setOut(saved);
      }
      String text = out.toString(java.nio.charset.StandardCharsets.UTF_8);
      assertEquals(0, code, text);
      assertTrue(text.contains("completed, 3 of 3 moved, 0 failed"), text);
      for (String name : List.of("| c0 ", "| c1 ", "| c2 ")) {
        assertTrue(
            text.lines()
                .anyMatch(l -> l.contains(name) && l.contains("completed") && l.contains("HostB")),
            name + " in " + text);
      }
    }
  }

  /** Drains HostB and returns the drain's elapsed seconds. */
  private static double drain(int outboundLimit) throws Exception {
    List<SimDomain> guests = new ArrayList<>();
    List<String> uuids = new ArrayList<>();
    for (int i = 0; i < GUESTS; i++) {
      String uuid = String.format("00000000-0000-4000-9000-%012d", i);
      uuids.add(uuid);
      guests.add(ApiCloud.guest(uuid, "d" + i, "p1", 512, 10 * SimDomain.MIB, 0));
    }
    List<AllInOne.HostSpec> hosts =
        List.of(
            new AllInOne.HostSpec("HostA", ApiCloud.capacity(), List.of()),
            new AllInOne.HostSpec("HostB", ApiCloud.capacity(), guests),
            new AllInOne.HostSpec("HostC", ApiCloud.capacity(), List.of()));
    Map<String, String> conf =
        Map.of(
            DefaultOptions.MAX_CONCURRENT_LIVE_MIGRATIONS.key(),
            Integer.toString(outboundLimit),
            ConductorOptions.QUEUE_RETRY_MS.key(),
            "100");
    try (ApiCloud c = ApiCloud.start(hosts, conf)) {
      Http api = c.as(ApiCloud.ADMIN);
      Http.Response r = api.post("/os-livemigrate-drains", "{\"drain\": {\"host\": \"HostB\"}}");
      assertEquals(202, r.status(), r.body());
      String id = r.json().getJsonObject("drain").getString("id");
      assertEquals(GUESTS, r.json().getJsonObject("drain").getInteger("total"));
      int[] maxInFlight = {0};
      JsonObject[] last = new JsonObject[1];
      Http.until(
          "the drain to finish",
          Duration.ofSeconds(90),
          () -> {
            last[0] = api.get("/os-livemigrate-drains/" + id).json().getJsonObject("drain");
            long running =
                api
                    .get("/os-migrations?host=HostB&limit=100")
                    .json()
                    .getJsonArray("migrations")
                    .stream()
                    .map(o -> ((JsonObject) o).getString("status"))
                    .filter(st -> List.of("preparing", "running", "post-migrating").contains(st))
                    .count();
            maxInFlight[0] = Math.max(maxInFlight[0], (int) running);
            return !"running".equals(last[0].getString("status"));
          });
      JsonObject d = last[0];
      assertEquals("completed", d.getString("status"), d.encode());
      assertEquals(GUESTS, d.getInteger("completed"));
      assertEquals(0, d.getInteger("failed"));
      assertEquals(100, d.getInteger("progress_percent"));
      assertTrue(maxInFlight[0] <= outboundLimit, "in flight " + maxInFlight[0]);
      for (String uuid : uuids) {
        JsonObject s = api.get("/servers/" + uuid).json().getJsonObject("server");
        assertNotEquals("HostB", s.getString("OS-EXT-SRV-ATTR:host"), uuid);
        assertEquals("ACTIVE", s.getString("status"));
      }
      JsonObject svc =
          api.get("/os-services?host=HostB").json().getJsonArray("services").getJsonObject(0);
      assertEquals("disabled", svc.getString("status"), "the drained host takes nothing new");
      return d.getDouble("elapsed_seconds");
    }
  }
}
