package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.LibvirtOptions;
import io.livemigrate.conductor.MigrationRow;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A guest that dirties memory faster than the link, simulated: it completes through post-copy when
 * the timeout action is force_complete and post-copy is permitted, and under the recommended
 * profile it completes long before Nova's 800 s/GiB timeout because the policy decides within the
 * first iterations.
 */
class ConvergencePolicyE2ETest {
  static final String HOG = "00000000-0000-4000-b000-000000000001";

  private static List<AllInOne.HostSpec> hosts() {
    return List.of(
        new AllInOne.HostSpec(
            "HostA",
            ApiCloud.capacity(),
            List.of(
                ApiCloud.guest(HOG, "hog", "p1", 1024, 3072 * SimDomain.MIB, 768 * SimDomain.MIB))),
        new AllInOne.HostSpec("HostB", ApiCloud.capacity(), List.of()));
  }

  private static JsonObject migrateAndWait(ApiCloud c, Duration timeout) {
    Http api = c.as(ApiCloud.ADMIN);
    Http.Response r =
        api.post(
            "/servers/" + HOG + "/action",
            "{\"os-migrateLive\": {\"host\": \"HostB\", \"block_migration\": false}}",
            "2.30");
    assertEquals(202, r.status(), r.body());
    JsonObject[] last = new JsonObject[1];
    Http.until(
        "the migration to finish",
        timeout,
        () -> {
          var l = api.get("/os-migrations?instance_uuid=" + HOG).json().getJsonArray("migrations");
          last[0] = l.isEmpty() ? null : l.getJsonObject(0);
          return last[0] != null
              && List.of("completed", "failed", "cancelled", "error")
                  .contains(last[0].getString("status"));
        });
    return last[0];
  }

  @Test
  void timeoutActionForceCompleteSwitchesToPostCopy() throws Exception {
    Map<String, String> conf =
        Map.of(
            LibvirtOptions.COMPLETION_TIMEOUT.key(), "2", // 2 s/GiB x 2 GiB: 4 s
            LibvirtOptions.TIMEOUT_ACTION.key(), "force_complete",
            LibvirtOptions.PERMIT_POST_COPY.key(), "true");
    try (ApiCloud c = ApiCloud.start(hosts(), conf)) {
      JsonObject m = migrateAndWait(c, Duration.ofSeconds(40));
      assertEquals("completed", m.getString("status"), m.encode());
      assertEquals("postcopy", m.getString("mode"));
      MigrationRow r = c.row(m);
      assertTrue(
          r.actions.stream().anyMatch(a -> a.contains("force_complete by postcopy")),
          r.actions.toString());
      assertTrue(r.postcopyMs > 0, "passed through running (post-copy)");
      assertEquals(
          "HostB",
          c.as(ApiCloud.ADMIN)
              .get("/servers/" + HOG)
              .json()
              .getJsonObject("server")
              .getString("OS-EXT-SRV-ATTR:host"));
    }
  }

  @Test
  void recommendedProfileDecidesWithinTheFirstIterations() throws Exception {
    // Nova's 800 s/GiB: 1600 s for this guest. The recommended profile must not wait for that.
    Map<String, String> conf = Map.of(ConductorOptions.POLICY_PROFILE.key(), "recommended");
    try (ApiCloud c = ApiCloud.start(hosts(), conf)) {
      JsonObject m = migrateAndWait(c, Duration.ofSeconds(60));
      assertEquals("completed", m.getString("status"), m.encode());
      MigrationRow r = c.row(m);
      assertEquals(1600, r.completionTimeoutS);
      String decision =
          r.actions.stream()
              .filter(a -> a.contains("force_complete by pause"))
              .findFirst()
              .orElseThrow(() -> new AssertionError("no force-complete: " + r.actions));
      long decidedAt = Instant.parse(decision.substring(0, decision.indexOf(' '))).toEpochMilli();
      long afterStart = decidedAt - r.runningMs;
      assertTrue(
          afterStart < 20_000,
          "decided " + afterStart + " ms after the transfer started: " + r.actions);
      assertTrue(
          r.actions.stream().anyMatch(a -> a.contains("max downtime 500 ms (PREDICTED_TIMEOUT)")),
          "raised the downtime first: " + r.actions);
      assertTrue(r.iteration <= 20, "within the first iterations: " + r.iteration);
      // The post-mortem an operator reads from the API is the stored one.
      assertEquals(r.actions, m.getJsonArray("actions").getList(), m.encode());
      assertEquals(r.runningMs, m.getJsonObject("phases").getLong("running_ms"));
      assertEquals(r.finishedMs, m.getJsonObject("phases").getLong("finished_ms"));
      assertTrue(r.finishedMs >= r.runningMs && r.runningMs > 0, m.encode());
      System.out.printf(
          "recommended profile: force-complete decided %.1f s into the transfer (timeout 1600 s),"
              + " completed after %.1f s, downtime %d ms%n",
          afterStart / 1000.0, (r.finishedMs - r.runningMs) / 1000.0, r.downtimeMs);
    }
  }
}
