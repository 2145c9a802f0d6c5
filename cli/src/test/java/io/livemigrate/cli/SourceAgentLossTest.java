package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.sim.FailurePoint;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.LibvirtOptions;
import io.livemigrate.conductor.MigrationRow;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The source agent dies mid-migration (simulated: its verticle is undeployed while the hypervisor
 * keeps copying). The conductor marks the migration source_agent_lost from the missing heartbeats,
 * and reconciles when the agent comes back: still running → re-attached and completed; completed
 * meanwhile → completed; ended meanwhile with the instance still on the source → failed, located
 * there. An agent that comes back knowing nothing of the migration (no journal) is asked where the
 * instance is; an agent that never comes back is bounded by the completion deadline.
 */
class SourceAgentLossTest {
  static final String VM = "00000000-0000-4000-c000-000000000001";
  static final List<String> HOSTS = List.of("HostA", "HostB");

  @Test
  void lostSourceAgentIsMarkedAndReconciledWhenItReturns() throws Exception {
    try (ApiCloud c = cloud(guest(8192, 10 * SimDomain.MIB, 0), true, Map.of())) {
      Http api = c.as(ApiCloud.ADMIN);
      migrate(api);
      loseSourceAgent(c, api);
      assertEquals("running", latest(api).getString("status"), "not ended: the copy may go on");
      assertTrue(c.cloud.hypervisor("HostA").jobStats(VM).isPresent(), "the job still runs");
      c.cloud.startAgent("HostA").await(30, TimeUnit.SECONDS);
      JsonObject m = awaitEnd(api, Duration.ofSeconds(40));
      assertEquals("completed", m.getString("status"), m.encode());
      assertEquals("COMPLETED", m.getString("reason"));
      assertServer(api, "HostB", "ACTIVE");
      assertEquals(List.of("HostB"), hostsWith(c), "the instance runs on exactly one host");
      MigrationRow row = c.row(m);
      assertTrue(
          row.actions.stream().anyMatch(a -> a.contains("source agent back")),
          row.actions.toString());
      assertTrue(
          logOf(row).contains("re-attached to the live migration running on HostA"),
          "the agent re-attached");
    }
  }

  @Test
  void migrationCompletedWhileTheSourceAgentWasDownEndsCompleted() throws Exception {
    try (ApiCloud c = cloud(guest(4096, 10 * SimDomain.MIB, 0), true, Map.of())) {
      Http api = c.as(ApiCloud.ADMIN);
      finishTheTransferWhileTheAgentIsDown(c, api);
      assertEquals("running", latest(api).getString("status"), "nobody told the conductor yet");
      assertTrue(latest(api).getBoolean("source_agent_lost"));
      assertEquals(null, latest(api).getString("reason"), "a mark, not an end");
      c.cloud.startAgent("HostA").await(30, TimeUnit.SECONDS);
      JsonObject m = awaitEnd(api, Duration.ofSeconds(20));
      assertEquals("completed", m.getString("status"), m.encode());
      assertEquals("COMPLETED", m.getString("reason"), "the lost mark is gone");
      assertServer(api, "HostB", "ACTIVE");
      assertEquals(List.of("HostB"), hostsWith(c), "the instance runs on exactly one host");
      assertTrue(
          logOf(c.row(m)).contains("the migration completed while the agent was down"),
          "the agent reported the outcome from its journal");
    }
  }

  @Test
  void migrationThatEndedWhileTheSourceAgentWasDownFailsWithTheInstanceOnTheSource()
      throws Exception {
    try (ApiCloud c = cloud(guest(8192, 10 * SimDomain.MIB, 0), true, Map.of())) {
      Http api = c.as(ApiCloud.ADMIN);
      JsonObject m = failTheJobWhileTheAgentIsDown(c, api);
      assertEquals("HYPERVISOR_ERROR", m.getString("reason"));
      assertTrue(
          m.getString("message").contains("ended while the agent was down")
              && m.getString("message").contains("on HostA"),
          m.getString("message"));
      assertOnTheSourceOnly(c, api);
    }
  }

  /** Starts the migration, loses the source agent, and waits for the copy to finish meanwhile. */
  private static void finishTheTransferWhileTheAgentIsDown(ApiCloud c, Http api) throws Exception {
    migrate(api);
    loseSourceAgent(c, api);
    Http.until(
        "the transfer to finish on the simulated source while its agent is down",
        Duration.ofSeconds(20),
        () -> c.cloud.hypervisor("HostA").domain(VM).isEmpty());
  }

  /**
   * Stops the source agent mid-migration, lets the job fail half-way while nobody watches it (the
   * guest stays on the source), brings the agent back and returns the migration's end, failed.
   */
  private static JsonObject failTheJobWhileTheAgentIsDown(ApiCloud c, Http api) throws Exception {
    migrate(api);
    c.cloud.stopAgent("HostA").await(20, TimeUnit.SECONDS);
    c.cloud.hypervisor("HostA").script(FailurePoint.MIGRATE_MIDWAY, VM, "link down");
    awaitMarked(api);
    awaitJobEndedOnTheSource(c);
    c.cloud.hypervisor("HostA").clearScripts();
    c.cloud.startAgent("HostA").await(30, TimeUnit.SECONDS);
    JsonObject m = awaitEnd(api, Duration.ofSeconds(20));
    assertEquals("failed", m.getString("status"), m.encode());
    return m;
  }

  /**
   * No [compute] state_dir: the agent that comes back has no journal, so it cannot tell the
   * conductor about the migration. The job failed meanwhile and the instance is on the source.
   */
  @Test
  void agentBackWithoutJournalAfterTheJobFailedLocatesTheInstanceOnTheSource() throws Exception {
    try (ApiCloud c = cloud(guest(8192, 10 * SimDomain.MIB, 0), false, Map.of())) {
      Http api = c.as(ApiCloud.ADMIN);
      JsonObject m = failTheJobWhileTheAgentIsDown(c, api);
      assertEquals("SOURCE_AGENT_LOST", m.getString("reason"));
      assertTrue(m.getString("message").contains("still on HostA"), m.getString("message"));
      assertOnTheSourceOnly(c, api);
    }
  }

  /**
   * No journal, and the job still runs on the source's hypervisor when the agent comes back: the
   * conductor has it cancelled (nobody would follow it) and fails the migration on the source.
   */
  @Test
  void agentBackWithoutJournalWhileTheJobRunsCancelsItAndFailsOnTheSource() throws Exception {
    // Dirties its whole memory faster than the link copies: never converges on its own.
    try (ApiCloud c =
        cloud(guest(4096, 2048 * SimDomain.MIB, 4096 * SimDomain.MIB), false, Map.of())) {
      Http api = c.as(ApiCloud.ADMIN);
      migrate(api);
      loseSourceAgent(c, api);
      c.cloud.startAgent("HostA").await(30, TimeUnit.SECONDS);
      JsonObject m = awaitEnd(api, Duration.ofSeconds(20));
      assertEquals("failed", m.getString("status"), m.encode());
      assertEquals("SOURCE_AGENT_LOST", m.getString("reason"));
      assertTrue(m.getString("message").contains("on HostA"), m.getString("message"));
      assertOnTheSourceOnly(c, api);
      assertTrue(c.cloud.hypervisor("HostA").jobStats(VM).isEmpty(), "the orphan job is gone");
    }
  }

  /**
   * No journal, and the transfer finished while the agent was down: the instance is no longer on
   * the source, so the migration goes on to the destination, as the agent's own journal would have
   * it.
   */
  @Test
  void agentBackWithoutJournalAfterTheTransferFinishedCompletesAtTheDestination() throws Exception {
    try (ApiCloud c = cloud(guest(4096, 10 * SimDomain.MIB, 0), false, Map.of());
        Notifications n = Notifications.listen(c.broker.url(), c.namespace)) {
      Http api = c.as(ApiCloud.ADMIN);
      finishTheTransferWhileTheAgentIsDown(c, api);
      c.cloud.startAgent("HostA").await(30, TimeUnit.SECONDS);
      JsonObject m = awaitEnd(api, Duration.ofSeconds(20));
      assertEquals("completed", m.getString("status"), m.encode());
      assertEquals("COMPLETED", m.getString("reason"));
      assertServer(api, "HostB", "ACTIVE");
      assertEquals(List.of("HostB"), hostsWith(c), "the instance runs on exactly one host");
      MigrationRow row = c.row(m);
      assertTrue(
          row.actions.stream().anyMatch(a -> a.contains("not on HostA")), row.actions.toString());
      JsonObject repaired =
          n.await("migration.reconciled", "migration_uuid", row.uuid, Duration.ofSeconds(5));
      Notifications.assertMatchesSample(repaired);
      assertEquals("completed_behind", repaired.getJsonObject("payload").getString("repair"));
    }
  }

  /**
   * The source agent never comes back: the completion deadline still ends the migration, with
   * either timeout action (a force-complete cannot reach a lost source, so it aborts), as error:
   * nobody confirmed where the instance runs.
   */
  @ParameterizedTest
  @ValueSource(strings = {"abort", "force_complete"})
  void sourceAgentThatNeverReturnsIsBoundedByTheCompletionDeadline(String action) throws Exception {
    Map<String, String> conf =
        Map.of(
            LibvirtOptions.COMPLETION_TIMEOUT.key(), "3", // x 2 GiB = 6 s
            LibvirtOptions.TIMEOUT_ACTION.key(), action,
            ConductorOptions.ROLLBACK_TIMEOUT.key(), "2");
    try (ApiCloud c = cloud(guest(2048, 2048 * SimDomain.MIB, 2048 * SimDomain.MIB), true, conf)) {
      Http api = c.as(ApiCloud.ADMIN);
      migrate(api);
      long running = System.currentTimeMillis();
      loseSourceAgent(c, api);
      JsonObject m = awaitEnd(api, Duration.ofSeconds(20));
      long took = System.currentTimeMillis() - running;
      assertEquals("error", m.getString("status"), m.encode());
      assertEquals("SOURCE_AGENT_LOST", m.getString("reason"));
      assertTrue(m.getString("message").contains("did not confirm the abort"), m.encode());
      assertTrue(took < 6_000 + 2_000 + 5_000, "ended by the deadlines, took " + took + " ms");
      MigrationRow row = c.row(m);
      assertTrue(
          row.actions.stream().anyMatch(a -> a.contains("abort (COMPLETION_TIMEOUT)")),
          row.actions.toString());
      assertEquals(
          "force_complete".equals(action),
          row.actions.stream().anyMatch(a -> a.contains("abort instead of force_complete")),
          row.actions.toString());
      assertServer(api, "HostA", "ERROR");
    }
  }

  // ------------------------------------------------------------------ helpers

  private static SimDomain guest(long memoryMb, long dirtyBps, long workingSet) {
    return ApiCloud.guest(VM, "vm", "p1", memoryMb, dirtyBps, workingSet);
  }

  /** HostA with the guest, an empty HostB; service_down_time 2 s; agents journal if asked. */
  private static ApiCloud cloud(SimDomain vm, boolean journal, Map<String, String> extra)
      throws Exception {
    List<AllInOne.HostSpec> hosts =
        List.of(
            new AllInOne.HostSpec("HostA", ApiCloud.capacity(), List.of(vm)),
            new AllInOne.HostSpec("HostB", ApiCloud.capacity(), List.of()));
    Map<String, String> conf = new HashMap<>(extra);
    conf.put(DefaultOptions.SERVICE_DOWN_TIME.key(), "2");
    // Without a journal: the agent's state_dir set empty, as an operator would opt out.
    conf.put(
        ComputeOptions.STATE_DIR.key(),
        journal ? Files.createTempDirectory("lm-agents").toString() : "");
    return ApiCloud.start(hosts, conf);
  }

  private static void migrate(Http api) {
    Http.Response r =
        api.post(
            "/servers/" + VM + "/action",
            "{\"os-migrateLive\": {\"host\": \"HostB\", \"block_migration\": false}}",
            "2.30");
    assertEquals(202, r.status(), r.body());
    // Running on the conductor's side only once the source reported progress: the job exists.
    Http.until(
        "the transfer to report progress",
        Duration.ofSeconds(15),
        () -> {
          JsonObject m = latest(api);
          return "running".equals(m.getString("status"))
              && m.getLong("memory_processed_bytes", 0L) > 0;
        });
  }

  private static void loseSourceAgent(ApiCloud c, Http api) throws Exception {
    c.cloud.stopAgent("HostA").await(20, TimeUnit.SECONDS);
    awaitMarked(api);
  }

  private static void awaitMarked(Http api) {
    Http.until(
        "the running migration marked source_agent_lost",
        Duration.ofSeconds(15),
        () -> latest(api).getBoolean("source_agent_lost", false));
  }

  private static void awaitJobEndedOnTheSource(ApiCloud c) {
    Http.until(
        "the job to fail on the simulated source while its agent is down",
        Duration.ofSeconds(20),
        () -> c.cloud.hypervisor("HostA").jobStats(VM).isEmpty());
    assertTrue(c.cloud.hypervisor("HostA").domain(VM).isPresent(), "the guest stayed on HostA");
  }

  private static JsonObject awaitEnd(Http api, Duration timeout) {
    Http.until(
        "the migration to end",
        timeout,
        () -> {
          String s = latest(api).getString("status");
          return "completed".equals(s)
              || "failed".equals(s)
              || "error".equals(s)
              || "cancelled".equals(s);
        });
    return latest(api);
  }

  private static void assertOnTheSourceOnly(ApiCloud c, Http api) {
    assertServer(api, "HostA", "ACTIVE");
    assertEquals(List.of("HostA"), hostsWith(c), "the instance runs on exactly one host");
    Http.until(
        "the destination's reservation to be released",
        Duration.ofSeconds(10),
        () -> !c.cloud.hypervisor("HostB").hasIncoming(VM));
  }

  private static void assertServer(Http api, String host, String status) {
    JsonObject s = api.get("/servers/" + VM).json().getJsonObject("server");
    assertEquals(host, s.getString("OS-EXT-SRV-ATTR:host"), s.encode());
    assertEquals(status, s.getString("status"), s.encode());
    assertNull(s.getString("OS-EXT-STS:task_state"), s.encode());
  }

  /** The simulated hosts the guest exists on. */
  private static List<String> hostsWith(ApiCloud c) {
    return HOSTS.stream().filter(h -> c.cloud.hypervisor(h).domain(VM).isPresent()).toList();
  }

  /** What the services logged about this migration (the log file is shared by the tests). */
  private static String logOf(MigrationRow row) {
    return String.join(
        "\n", LiveMigrationE2E.logText().lines().filter(l -> l.contains(row.uuid)).toList());
  }

  private static JsonObject latest(Http api) {
    var l = api.get("/os-migrations?instance_uuid=" + VM).json().getJsonArray("migrations");
    return l.isEmpty() ? new JsonObject() : l.getJsonObject(0);
  }
}
