package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.bus.BusSettings;
import io.livemigrate.common.config.ApiOptions;
import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.LibvirtOptions;
import io.livemigrate.common.config.OpsOptions;
import io.livemigrate.common.config.SimulatedOptions;
import io.livemigrate.common.contract.AgentCommands.PrepareDestination;
import io.livemigrate.common.contract.AgentCommands.StartMigration;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.testing.BrokerFixture;
import io.livemigrate.conductor.MigrationRow;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * One live migration end to end: every service in one JVM (conductor with the API, scheduler, three
 * simulated compute agents) over a real broker and an H2 store. Subclasses pick the broker.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class LiveMigrationE2E {
  static final String VM1 = "d1df1b5a-70c4-4fed-98b7-423362f2c47c";
  static final String VM2 = "d693db9e-a7cf-45ef-a7c9-b3ecb5f22645";
  static final String DUP = "0b6c2f4e-1111-4a2b-9c3d-000000000003";
  static final String HOG = "0b6c2f4e-2222-4a2b-9c3d-000000000004";
  static final String HOG2 = "0b6c2f4e-3333-4a2b-9c3d-000000000005";
  static final String BIG = "0b6c2f4e-4444-4a2b-9c3d-000000000006";
  static final long MIB = SimDomain.MIB;
  static final String TOKEN = "test-admin-token";

  BrokerFixture broker;
  Vertx vertx;
  AllInOne cloud;
  Http api;
  String namespace;
  Path storeDir;

  abstract BrokerFixture broker() throws Exception;

  static SimDomain guest(String uuid, String name, long memoryMb, long dirtyBps, long workingSet) {
    return new SimDomain(
        uuid, name, 1, memoryMb, 10, "p1", "u1", "m1.small", dirtyBps, workingSet, false);
  }

  @BeforeAll
  void startCloud() throws Exception {
    broker = broker();
    vertx = Vertx.vertx();
    namespace = BrokerFixture.freshNamespace();
    storeDir = Files.createTempDirectory("lm-e2e");
    Config c =
        Config.defaults(
            Map.ofEntries(
                Map.entry(DefaultOptions.TRANSPORT_URL.key(), broker.url()),
                Map.entry(DefaultOptions.BUS_NAMESPACE.key(), namespace),
                Map.entry(
                    ConductorOptions.STORE_URL.key(), "jdbc:h2:file:" + storeDir.resolve("store")),
                Map.entry(ApiOptions.API_PORT.key(), "0"),
                Map.entry(OpsOptions.OPS_PORT.key(), "0"),
                Map.entry(DefaultOptions.REPORT_INTERVAL.key(), "1"),
                Map.entry(DefaultOptions.SERVICE_DOWN_TIME.key(), "10"),
                Map.entry(ComputeOptions.PROGRESS_INTERVAL_MS.key(), "200"),
                // 3 s per GiB; every guest here counts as 2 GiB (Nova's minimum): 6 s.
                Map.entry(LibvirtOptions.COMPLETION_TIMEOUT.key(), "3"),
                Map.entry(SimulatedOptions.SIM_LINK_MIBPS.key(), "1024"),
                Map.entry(SimulatedOptions.SIM_TICK_MS.key(), "20"),
                Map.entry(DefaultOptions.HOST.key(), "controller")));
    HostResources cap = new HostResources(16, 65536, 1000);
    List<AllInOne.HostSpec> hosts =
        List.of(
            new AllInOne.HostSpec(
                "HostA",
                cap,
                List.of(
                    guest(HOG, "hog", 1024, 3072 * MIB, 512 * MIB),
                    guest(HOG2, "hog2", 1024, 3072 * MIB, 512 * MIB))),
            new AllInOne.HostSpec(
                "HostB",
                cap,
                List.of(
                    guest(VM1, "vm1", 1536, 10 * MIB, 0),
                    guest(VM2, "vm2", 1024, 10 * MIB, 0),
                    guest(DUP, "dup", 256, 0, 0))),
            new AllInOne.HostSpec("HostC", cap, List.of(guest(BIG, "big", 4096, 20 * MIB, 0))));
    cloud = AllInOne.start(vertx, c, false, TOKEN, hosts).await(60, TimeUnit.SECONDS);
    api = new Http("http://127.0.0.1:" + cloud.conductor().apiPort() + "/v2.1", TOKEN);
    Http.until(
        "all six servers reported",
        Duration.ofSeconds(20),
        () -> api.get("/servers").json().getJsonArray("servers").size() == 6);
  }

  @AfterAll
  void stopCloud() throws Exception {
    if (cloud != null) {
      Bus cleaner = testBus(new SimpleMeterRegistry());
      List<String> queues = new ArrayList<>();
      queues.add(cleaner.topology().conductorQueue());
      queues.add(cleaner.topology().schedulerQueue());
      for (String h : List.of("HostA", "HostB", "HostC"))
        queues.add(cleaner.topology().computeQueue(h));
      queues.add(namespace + ".test-replies");
      cloud.stop().await(30, TimeUnit.SECONDS);
      onContext(() -> cleaner.deleteTopology(queues).compose(v -> cleaner.close()));
    }
    if (vertx != null) vertx.close().await(10, TimeUnit.SECONDS);
    if (broker != null) broker.close();
  }

  // ------------------------------------------------------------------ helpers

  <T> T onContext(java.util.function.Supplier<Future<T>> work) {
    io.vertx.core.Promise<T> p = io.vertx.core.Promise.promise();
    vertx.runOnContext(v -> work.get().onComplete(p));
    try {
      return p.future().await(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("bus call timed out", e);
    }
  }

  Bus testBus(SimpleMeterRegistry registry) {
    BusSettings s = new BusSettings(broker.url(), namespace, 16, 5000, 500, 3);
    return onContext(() -> Bus.connect(vertx, s, new Sender("test", "tester"), registry));
  }

  JsonObject server(String uuid) {
    Http.Response r = api.get("/servers/" + uuid);
    assertEquals(200, r.status(), r.body());
    return r.json().getJsonObject("server");
  }

  String hostOf(String uuid) {
    return server(uuid).getString("OS-EXT-SRV-ATTR:host");
  }

  JsonObject latestMigration(String uuid) {
    JsonArray l = api.get("/os-migrations?instance_uuid=" + uuid).json().getJsonArray("migrations");
    return l.isEmpty() ? null : l.getJsonObject(0);
  }

  Http.Response migrate(String uuid, String host) {
    String h = host == null ? "null" : "\"" + host + "\"";
    // 2.30: host may be null and disk_over_commit is gone (2.25).
    return api.post(
        "/servers/" + uuid + "/action",
        "{\"os-migrateLive\": {\"host\": " + h + ", \"block_migration\": false}}",
        "2.30");
  }

  JsonObject awaitFinished(String uuid, Duration timeout) {
    JsonObject[] last = new JsonObject[1];
    Http.until(
        "migration of " + uuid + " to finish",
        timeout,
        () -> {
          last[0] = latestMigration(uuid);
          String st = last[0] == null ? "" : last[0].getString("status");
          return List.of("completed", "failed", "cancelled", "error").contains(st);
        });
    return last[0];
  }

  static String logText() {
    try {
      return Files.readString(Path.of(System.getProperty("org.slf4j.simpleLogger.logFile")));
    } catch (Exception e) {
      throw new IllegalStateException("the test log file is not readable", e);
    }
  }

  double metric(String scrape, String name, String labelPart) {
    double sum = 0;
    for (String line : scrape.split("\n")) {
      if (line.startsWith(name) && (labelPart == null || line.contains(labelPart))) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  String scrape(int port) {
    return Http.raw("http://127.0.0.1:" + port + "/metrics");
  }

  // ------------------------------------------------------------------ tests

  @Test
  @Order(1)
  void migratesToNamedHostWithVisibleProgress() throws Exception {
    assertEquals("HostB", hostOf(VM1));
    assertEquals("ACTIVE", server(VM1).getString("status"));
    Http.Response r = migrate(VM1, "HostC");
    assertEquals(202, r.status(), r.body());
    assertTrue(r.headers().firstValue("X-Compute-Request-Id").orElse("").startsWith("req-"));
    // MIGRATING is set before the 202 returns.
    assertEquals("MIGRATING", server(VM1).getString("status"));
    List<Long> processed = new ArrayList<>();
    List<Long> remaining = new ArrayList<>();
    Http.until(
        "vm1 ACTIVE again",
        Duration.ofSeconds(30),
        () -> {
          JsonArray ms =
              api.get("/servers/" + VM1 + "/migrations", "2.59").json().getJsonArray("migrations");
          if (!ms.isEmpty()) {
            JsonObject m = ms.getJsonObject(0);
            processed.add(m.getLong("memory_processed_bytes"));
            remaining.add(m.getLong("memory_remaining_bytes"));
          }
          return "ACTIVE".equals(server(VM1).getString("status"));
        });
    assertEquals("HostC", hostOf(VM1));
    JsonObject m = latestMigration(VM1);
    assertEquals("completed", m.getString("status"));
    assertEquals("HostB", m.getString("source_compute"));
    assertEquals("HostC", m.getString("dest_compute"));
    assertTrue(processed.stream().distinct().count() >= 2, "memory processed moved: " + processed);
    assertTrue(remaining.stream().distinct().count() >= 2, "memory remaining moved: " + remaining);
    assertTrue(
        processed.get(processed.size() - 1) > processed.get(0), "processed grew: " + processed);
    assertTrue(m.getLong("downtime_ms") >= 0, "downtime recorded: " + m);
    // The domain moved on the hypervisors too.
    assertTrue(cloud.hypervisor("HostC").domain(VM1).isPresent());
    assertTrue(cloud.hypervisor("HostB").domain(VM1).isEmpty());
    // Every service logged this migration with the request id.
    String reqId = r.headers().firstValue("X-Compute-Request-Id").orElseThrow();
    String log = logText();
    for (String logger : List.of("Saga", "SchedulerService", "ComputeAgent")) {
      assertTrue(
          log.lines().anyMatch(l -> l.contains(logger) && l.contains(reqId)),
          logger + " logged a line with " + reqId);
    }
  }

  @Test
  @Order(2)
  void schedulerPicksTheDestination() throws Exception {
    Http.Response r = migrate(VM2, null);
    assertEquals(202, r.status(), r.body());
    JsonObject m = awaitFinished(VM2, Duration.ofSeconds(30));
    assertEquals("completed", m.getString("status"), m.encode());
    String dest = hostOf(VM2);
    assertNotEquals("HostB", dest);
    assertEquals(dest, m.getString("dest_compute"));
    assertEquals("ACTIVE", server(VM2).getString("status"));
  }

  @Test
  @Order(3)
  void refusesSecondMigrationAndUnknownServer() {
    assertEquals(404, migrate("00000000-0000-4000-8000-000000000000", "HostC").status());
    Http.Response same = migrate(BIG, "HostC");
    assertEquals(400, same.status(), same.body());
    assertTrue(same.json().containsKey("badRequest"), same.body());
  }

  @Test
  @Order(4)
  void nonConvergingGuestIsAbortedAtTheCompletionTimeout() {
    Http.Response r = migrate(HOG, "HostB");
    assertEquals(202, r.status(), r.body());
    JsonObject m = awaitFinished(HOG, Duration.ofSeconds(40));
    assertEquals("failed", m.getString("status"), m.encode());
    assertEquals("COMPLETION_TIMEOUT", m.getString("reason"));
    assertEquals("HostA", hostOf(HOG));
    assertEquals("ACTIVE", server(HOG).getString("status"));
    assertTrue(cloud.hypervisor("HostA").domain(HOG).isPresent(), "still on the source");
    assertTrue(cloud.hypervisor("HostB").domain(HOG).isEmpty(), "nothing left on the destination");
    assertTrue(!cloud.hypervisor("HostB").hasIncoming(HOG), "destination reservation rolled back");
    Http.until(
        "the source agent's WARNING",
        Duration.ofSeconds(5),
        () ->
            logText()
                .lines()
                .anyMatch(
                    l ->
                        l.contains("WARN")
                            && l.contains("ComputeAgent")
                            && l.contains("[instance: " + HOG + "]")
                            && l.contains("live migration not completed after 6 sec")));
  }

  @Test
  @Order(5)
  void malformedMessagesAreParkedAndConsumersGoOn() {
    SimpleMeterRegistry reg = new SimpleMeterRegistry();
    Bus bus = testBus(reg);
    List<String> queues =
        List.of(
            bus.topology().conductorQueue(),
            bus.topology().schedulerQueue(),
            bus.topology().computeQueue("HostA"),
            bus.topology().computeQueue("HostB"),
            bus.topology().computeQueue("HostC"));
    for (String q : queues) {
      onContext(() -> bus.publishRaw(bus.topology().commands(), q, Buffer.buffer("{not json")));
      onContext(
          () ->
              bus.publishRaw(
                  bus.topology().commands(),
                  q,
                  new JsonObject()
                      .put("type", "start_migration")
                      .put("version", 1)
                      .put("id", java.util.UUID.randomUUID().toString())
                      .put("sentAt", "2026-01-01T00:00:00Z")
                      .put("sender", new JsonObject().put("service", "x").put("host", "y"))
                      .put("payload", new JsonObject().put("instanceUuid", ""))
                      .toBuffer()));
    }
    int[] ports = {
      cloud.conductor().opsPort(),
      cloud.scheduler().opsPort(),
      cloud.agent("HostA").opsPort(),
      cloud.agent("HostB").opsPort(),
      cloud.agent("HostC").opsPort()
    };
    for (int port : ports) {
      Http.until(
          "two parked messages counted on :" + port,
          Duration.ofSeconds(10),
          () -> {
            String s = scrape(port);
            return metric(s, "livemigrate_bus_parked_total", "cause=\"undecodable\"") >= 1
                && metric(s, "livemigrate_bus_parked_total", "cause=\"invalid\"") >= 1;
          });
    }
    Http.until(
        "ten messages parked",
        Duration.ofSeconds(10),
        () -> onContext(() -> bus.messageCount(bus.topology().parkedQueue())) >= 10);
    io.vertx.rabbitmq.RabbitMQMessage parked =
        onContext(() -> bus.get(bus.topology().parkedQueue()));
    assertTrue(
        String.valueOf(parked.properties().getHeaders().get("x-parked-reason")).length() > 0,
        "a parked message says why");
    // The consumers go on: another migration still completes.
    assertEquals(202, migrate(VM1, "HostA").status());
    assertEquals("completed", awaitFinished(VM1, Duration.ofSeconds(30)).getString("status"));
    onContext(bus::close);
  }

  @Test
  @Order(6)
  void duplicatedCommandHasNoSecondEffect() {
    SimpleMeterRegistry reg = new SimpleMeterRegistry();
    Bus bus = testBus(reg);
    String replies = namespace + ".test-replies";
    List<Envelope> got = new java.util.concurrent.CopyOnWriteArrayList<>();
    onContext(
        () ->
            bus.consume(
                replies,
                List.of(),
                (env, body) -> {
                  got.add(env);
                  return Future.succeededFuture();
                }));
    String mid = java.util.UUID.randomUUID().toString();
    Envelope prepare =
        Envelope.of(new PrepareDestination(DUP, "dup", "HostB", 1, 256, 10, false), bus.sender())
            .withMigration(mid, "req-dup")
            .withReplyTo(replies, null);
    onContext(() -> bus.send(bus.topology().computeQueue("HostC"), prepare));
    onContext(() -> bus.send(bus.topology().computeQueue("HostC"), prepare));
    Http.until("one prepare reply", Duration.ofSeconds(10), () -> got.size() >= 1);
    Http.until(
        "the duplicate counted by HostC's consumer",
        Duration.ofSeconds(10),
        () ->
            metric(scrape(cloud.agent("HostC").opsPort()), "livemigrate_bus_duplicates_total", null)
                >= 1);
    assertEquals(
        1, got.stream().filter(e -> e.type().equals("step_result")).count(), "one reply: " + got);

    // Two start_migration commands for one migration (distinct message ids): one transfer only.
    Envelope start1 =
        Envelope.of(new StartMigration(DUP, "HostC", false, false, false, 0, 50), bus.sender())
            .withMigration(mid, "req-dup")
            .withReplyTo(replies, null);
    Envelope start2 =
        Envelope.of(new StartMigration(DUP, "HostC", false, false, false, 0, 50), bus.sender())
            .withMigration(mid, "req-dup")
            .withReplyTo(replies, null);
    onContext(() -> bus.send(bus.topology().computeQueue("HostB"), start1));
    onContext(() -> bus.send(bus.topology().computeQueue("HostB"), start2));
    Http.until(
        "the transfer completed",
        Duration.ofSeconds(10),
        () -> got.stream().anyMatch(e -> e.type().equals("migration_completed")));
    Http.until(
        "HostB counted two start commands",
        Duration.ofSeconds(5),
        () ->
            metric(
                    scrape(cloud.agent("HostB").opsPort()),
                    "livemigrate_agent_commands_total",
                    "type=\"start_migration\"")
                >= 2);
    assertEquals(1, got.stream().filter(e -> e.type().equals("migration_completed")).count());
    assertEquals(
        0,
        got.stream().filter(e -> e.type().equals("migration_failed")).count(),
        "no second transfer attempt: " + got);
    onContext(bus::close);
  }

  @Test
  @Order(7)
  void metricsOnEveryService() {
    String c = scrape(cloud.conductor().opsPort());
    assertTrue(metric(c, "livemigrate_migrations_total", "status=\"completed\"") >= 2, c);
    assertTrue(metric(c, "livemigrate_migrations_total", "reason=\"COMPLETION_TIMEOUT\"") >= 1);
    assertTrue(metric(c, "livemigrate_bus_published_total", null) > 0);
    assertTrue(metric(c, "livemigrate_bus_consumed_total", null) > 0);
    String s = scrape(cloud.scheduler().opsPort());
    assertTrue(metric(s, "livemigrate_scheduler_decisions_total", null) >= 1, s);
    assertTrue(metric(s, "livemigrate_bus_consumed_total", null) > 0);
    String a = scrape(cloud.agent("HostB").opsPort());
    assertTrue(metric(a, "livemigrate_agent_migrations_total", "result=\"completed\"") >= 1, a);
    assertTrue(metric(a, "livemigrate_bus_published_total", null) > 0);
    assertTrue(
        Http.raw("http://127.0.0.1:" + cloud.conductor().opsPort() + "/health").contains("\"UP\""));
  }

  @Test
  @Order(8)
  void conductorRestartKeepsMigrationsAndDeadlines() throws Exception {
    assertEquals(202, migrate(BIG, "HostB").status());
    assertEquals(202, migrate(HOG2, "HostB").status());
    Http.until(
        "both running",
        Duration.ofSeconds(20),
        () ->
            "running".equals(latestMigration(BIG).getString("status"))
                && "running".equals(latestMigration(HOG2).getString("status")));
    long hogMigration = latestMigration(HOG2).getLong("id");
    MigrationRow before =
        cloud
            .conductor()
            .conductor()
            .migrations()
            .find(hogMigration)
            .await(10, TimeUnit.SECONDS)
            .orElseThrow();
    long deadline = before.completionDeadlineMs;
    assertTrue(deadline > System.currentTimeMillis(), "deadline in the future");
    cloud.stopConductor().await(20, TimeUnit.SECONDS);
    cloud.startConductor().await(30, TimeUnit.SECONDS);
    api = new Http("http://127.0.0.1:" + cloud.conductor().apiPort() + "/v2.1", TOKEN);
    JsonObject big = awaitFinished(BIG, Duration.ofSeconds(40));
    assertEquals("completed", big.getString("status"), big.encode());
    assertEquals("HostB", hostOf(BIG));
    JsonObject hog = awaitFinished(HOG2, Duration.ofSeconds(40));
    assertEquals("failed", hog.getString("status"), hog.encode());
    assertEquals("COMPLETION_TIMEOUT", hog.getString("reason"));
    assertEquals("HostA", hostOf(HOG2));
    MigrationRow after =
        cloud
            .conductor()
            .conductor()
            .migrations()
            .find(before.id)
            .await(10, TimeUnit.SECONDS)
            .orElseThrow();
    // The abort was decided at the original deadline, not one restarted from zero.
    String abortAction =
        after.actions.stream()
            .filter(a -> a.contains("COMPLETION_TIMEOUT"))
            .findFirst()
            .orElseThrow();
    long abortAt =
        java.time.Instant.parse(abortAction.substring(0, abortAction.indexOf(' '))).toEpochMilli();
    assertTrue(
        Math.abs(abortAt - deadline) <= 1000,
        "abort at "
            + abortAt
            + " vs deadline "
            + deadline
            + " (diff "
            + (abortAt - deadline)
            + " ms)");
  }
}
