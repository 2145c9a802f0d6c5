package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.agent.sim.SimulatedHypervisor;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The record follows what the hypervisors run when something changed behind livemigrate's back (an
 * operator's {@code virsh migrate}, a host rebuilt): the API shows the real host within a report
 * interval with an {@code instance.host_corrected} notification, and a guest running on two hosts
 * is flagged (gauge, log), never destroyed. Simulated hosts; the testbed has the same check with
 * {@code virsh migrate}.
 */
class ReconciliationTest {
  private static final String VM = "0b5e0000-0000-4000-8000-00000000ec01";

  private static ApiCloud cloud() throws Exception {
    return ApiCloud.start(
        List.of(
            new AllInOne.HostSpec(
                "HostA",
                ApiCloud.capacity(),
                List.of(ApiCloud.guest(VM, "moved", "p1", 512, 0, 0))),
            new AllInOne.HostSpec("HostB", ApiCloud.capacity(), List.of())),
        Map.of());
  }

  @Test
  void serverMovedBehindOurBackShowsItsRealHostWithinAReportInterval() throws Exception {
    try (ApiCloud c = cloud();
        Notifications n = Notifications.listen(c.broker.url(), c.namespace)) {
      Http api = c.as(ApiCloud.ADMIN);
      assertEquals("HostA", host(api));
      moveBehindOurBack(c, "HostA", "HostB");
      long t0 = System.nanoTime();
      // report_interval is 1 s here: the next report of either host shows it; allow load.
      Http.until("the API to show HostB", Duration.ofSeconds(10), () -> "HostB".equals(host(api)));
      double seconds = (System.nanoTime() - t0) / 1e9;
      JsonObject corrected =
          n.await("instance.host_corrected", "instance_uuid", VM, Duration.ofSeconds(5));
      Notifications.assertMatchesSample(corrected);
      JsonObject p = corrected.getJsonObject("payload");
      assertEquals("HostA", p.getString("before"));
      assertEquals("HostB", p.getString("after"));
      assertEquals(1, n.ofType("instance.host_corrected").size(), "corrected once: " + n.all());
      assertEquals("ACTIVE", server(api).getString("status"));
      assertTrue(
          metric(c, "livemigrate_reconcile_repairs_total{kind=\"host_corrected\"") >= 1, "counted");
      System.out.printf("host corrected in the API %.2f s after the move%n", seconds);
      // And the server migrates on from where it really is.
      Http.Response r =
          api.post(
              "/servers/" + VM + "/action",
              "{\"os-migrateLive\": {\"host\": \"HostA\", \"block_migration\": false}}",
              "2.30");
      assertEquals(202, r.status(), r.body());
      Http.until("back on HostA", Duration.ofSeconds(20), () -> "HostA".equals(host(api)));
      assertTrue(c.cloud.hypervisor("HostA").domain(VM).isPresent());
      assertTrue(c.cloud.hypervisor("HostB").domain(VM).isEmpty());
    }
  }

  @Test
  void guestRunningOnTwoHostsIsFlaggedAndNeitherIsDestroyed() throws Exception {
    try (ApiCloud c = cloud()) {
      Http api = c.as(ApiCloud.ADMIN);
      SimDomain d = c.cloud.hypervisor("HostA").domain(VM).orElseThrow();
      c.cloud.hypervisor("HostB").define(d);
      Http.until(
          "the duplicate flagged",
          Duration.ofSeconds(10),
          () -> metric(c, "livemigrate_duplicate_domains") == 1);
      assertTrue(c.cloud.hypervisor("HostA").domain(VM).isPresent(), "not destroyed on HostA");
      assertTrue(c.cloud.hypervisor("HostB").domain(VM).isPresent(), "not destroyed on HostB");
      assertEquals("HostA", host(api), "the record stays until an operator chooses");
      Http.Response r =
          api.post(
              "/servers/" + VM + "/action",
              "{\"os-migrateLive\": {\"host\": \"HostB\", \"block_migration\": false}}",
              "2.30");
      assertEquals(409, r.status(), "no migration of a guest that runs twice: " + r.body());
      assertTrue(r.body().contains("two hosts") || r.body().contains("both"), r.body());
      // The operator destroys the copy that must not run: the flag clears.
      c.cloud.hypervisor("HostB").cleanupSource(VM);
      Http.until(
          "the flag cleared",
          Duration.ofSeconds(10),
          () -> metric(c, "livemigrate_duplicate_domains") == 0);
      assertTrue(
          LiveMigrationE2E.logText()
              .lines()
              .anyMatch(l -> l.contains(VM) && l.contains("runs on both")),
          "logged with the instance id");
    }
  }

  /** What {@code virsh migrate} does outside livemigrate: the guest runs on the other host now. */
  private static void moveBehindOurBack(ApiCloud c, String from, String to) {
    SimulatedHypervisor src = c.cloud.hypervisor(from);
    SimDomain d = src.domain(VM).orElseThrow();
    c.cloud.hypervisor(to).define(d);
    src.cleanupSource(VM);
  }

  private static JsonObject server(Http api) {
    return api.get("/servers/" + VM).json().getJsonObject("server");
  }

  private static String host(Http api) {
    return server(api).getString("OS-EXT-SRV-ATTR:host");
  }

  /** The conductor's sample of {@code series} (a name, or a name with its first labels). */
  private static double metric(ApiCloud c, String series) {
    String text = Http.raw("http://127.0.0.1:" + c.cloud.conductor().opsPort() + "/metrics");
    return text.lines()
        .filter(
            l ->
                l.startsWith(series + " ")
                    || l.startsWith(series + "{")
                    || l.startsWith(series + ","))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }
}
