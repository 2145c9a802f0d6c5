package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.common.config.Options;
import io.livemigrate.conductor.store.MigrationRow;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The source agent dies mid-migration (simulated: its verticle is undeployed while the hypervisor
 * keeps copying). The conductor marks the migration SOURCE_AGENT_LOST from the missing heartbeats;
 * the agent comes back, re-attaches to the job from its journal, and the migration completes.
 */
class SourceAgentLossTest {
  static final String VM = "00000000-0000-4000-c000-000000000001";

  @Test
  void lostSourceAgentIsMarkedAndReconciledWhenItReturns() throws Exception {
    List<AllInOne.HostSpec> hosts =
        List.of(
            new AllInOne.HostSpec(
                "HostA",
                ApiCloud.capacity(),
                // 8 GiB at 1 GiB/s: long enough to lose and regain the agent mid-copy.
                List.of(ApiCloud.guest(VM, "vm", "p1", 8192, 10 * SimDomain.MIB, 0))),
            new AllInOne.HostSpec("HostB", ApiCloud.capacity(), List.of()));
    Map<String, String> conf =
        Map.of(
            Options.SERVICE_DOWN_TIME.key(),
            "2",
            Options.STATE_DIR.key(),
            Files.createTempDirectory("lm-agents").toString());
    try (ApiCloud c = ApiCloud.start(hosts, conf)) {
      Http api = c.as(ApiCloud.ADMIN);
      Http.Response r =
          api.post(
              "/servers/" + VM + "/action",
              "{\"os-migrateLive\": {\"host\": \"HostB\", \"block_migration\": false}}",
              "2.30");
      assertEquals(202, r.status(), r.body());
      Http.until(
          "running",
          Duration.ofSeconds(15),
          () -> "running".equals(latest(api).getString("status")));
      c.cloud.stopAgent("HostA").await(20, TimeUnit.SECONDS);
      Http.until(
          "SOURCE_AGENT_LOST on the running migration",
          Duration.ofSeconds(15),
          () -> "SOURCE_AGENT_LOST".equals(latest(api).getString("reason")));
      assertEquals("running", latest(api).getString("status"), "not ended: the copy may go on");
      c.cloud.startAgent("HostA").await(30, TimeUnit.SECONDS);
      Http.until(
          "the migration to complete after the agent re-attached",
          Duration.ofSeconds(40),
          () -> "completed".equals(latest(api).getString("status")));
      JsonObject m = latest(api);
      assertEquals("COMPLETED", m.getString("reason"));
      assertEquals(
          "HostB",
          api.get("/servers/" + VM)
              .json()
              .getJsonObject("server")
              .getString("OS-EXT-SRV-ATTR:host"));
      MigrationRow row =
          c.cloud
              .conductor()
              .conductor()
              .db(s -> s.migration(m.getLong("id")))
              .await(10, TimeUnit.SECONDS)
              .orElseThrow();
      assertTrue(
          row.actions.stream().anyMatch(a -> a.contains("source agent lost")),
          row.actions.toString());
      assertTrue(
          row.actions.stream().anyMatch(a -> a.contains("source agent back")),
          row.actions.toString());
      String log = LiveMigrationE2E.logText();
      assertTrue(
          log.contains("re-attached to the live migration running on HostA"),
          "the agent re-attached");
    }
  }

  private static JsonObject latest(Http api) {
    var l = api.get("/os-migrations?instance_uuid=" + VM).json().getJsonArray("migrations");
    return l.isEmpty() ? new JsonObject() : l.getJsonObject(0);
  }
}
