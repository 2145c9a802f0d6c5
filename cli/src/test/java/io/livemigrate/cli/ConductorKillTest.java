package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.app.ComputeAgentVerticle;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.agent.sim.SimulatedHypervisor;
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
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.testing.BrokerFixture;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.store.Store;
import io.livemigrate.scheduler.app.SchedulerVerticle;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The conductor is killed with SIGKILL in the middle of a live migration that cannot converge, and
 * a new conductor process is started on the same store and bus. The completion deadline persisted
 * when the transfer started must still fire at its original time (±1 s), not one restarted from the
 * new process's start, and the migration must be aborted cleanly with the guest left running on the
 * source.
 *
 * <p>The conductor with its API runs in a child JVM ({@code livemigrate serve conductor},
 * configured through {@code LIVEMIGRATE_*} environment variables) so that it can really be killed;
 * the scheduler and two simulated compute hosts run in this JVM. The store is PostgreSQL (a fresh
 * schema, dropped at the end); without PostgreSQL, outside CI, an H2 file store.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConductorKillTest {
  static final String HOG = "0b6c2f4e-5555-4a2b-9c3d-000000000007";
  static final String TOKEN = "kill-test-admin-token";
  static final long MIB = SimDomain.MIB;

  /** Seconds per GiB; the 1 GiB guest counts as 2 GiB (Nova's minimum). */
  static final int TIMEOUT_PER_GIB = 10;

  static final long COMPLETION_TIMEOUT_S = 2L * TIMEOUT_PER_GIB;

  static final String PG_BASE = "jdbc:postgresql://127.0.0.1:5432/test";
  static final String PG_USER = "postgres";
  static final Pattern API_PORT = Pattern.compile("conductor: API on port (\\d+)");

  BrokerFixture broker;
  Vertx vertx;
  String namespace;
  ScheduledExecutorService simClock;
  final io.livemigrate.agent.sim.SimFabric fabric = io.livemigrate.agent.sim.SimFabric.inMemory();
  final Map<String, SimulatedHypervisor> hypervisors = new HashMap<>();
  final List<String> deployments = new ArrayList<>();
  StoreDb db;
  Path childLog;
  Process child;
  Http api;

  /** The conductor's store: its JDBC URL and user, and how to remove it afterwards. */
  record StoreDb(String url, String user, boolean sharedWhileRunning, AutoCloseable drop) {}

  // ------------------------------------------------------------------ fixture

  @BeforeAll
  void start() throws Exception {
    broker = BrokerFixture.best();
    vertx = Vertx.vertx();
    namespace = BrokerFixture.freshNamespace();
    db = store();
    Path target = Path.of("target");
    Files.createDirectories(target);
    childLog = target.resolve("conductor-kill-" + namespace + ".log");
    Files.deleteIfExists(childLog);
    Files.createFile(childLog);

    simClock =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "sim-clock");
              t.setDaemon(true);
              return t;
            });
    Config base =
        Config.defaults(
            Map.ofEntries(
                Map.entry(DefaultOptions.TRANSPORT_URL.key(), broker.url()),
                Map.entry(DefaultOptions.BUS_NAMESPACE.key(), namespace),
                Map.entry(OpsOptions.OPS_PORT.key(), "0"),
                Map.entry(DefaultOptions.REPORT_INTERVAL.key(), "1"),
                Map.entry(DefaultOptions.SERVICE_DOWN_TIME.key(), "10"),
                Map.entry(ComputeOptions.PROGRESS_INTERVAL_MS.key(), "200"),
                Map.entry(SimulatedOptions.SIM_LINK_MIBPS.key(), "1024"),
                Map.entry(SimulatedOptions.SIM_TICK_MS.key(), "20")));
    HostResources cap = new HostResources(16, 65536, 1000);
    // The guest dirties 3 GiB/s of a 512 MiB working set over a 1 GiB/s link: never converges.
    SimDomain hog =
        new SimDomain(
            HOG, "hog", 1, 1024, 10, "p1", "u1", "m1.small", 3072 * MIB, 512 * MIB, false);
    for (String host : List.of("HostA", "HostB")) {
      SimulatedHypervisor hv =
          new SimulatedHypervisor(host, cap, 1024 * MIB, 20, simClock).linkTo(fabric);
      if (host.equals("HostA")) hv.define(hog);
      hypervisors.put(host, hv);
    }
    deploy(new SchedulerVerticle(base.with(Map.of(DefaultOptions.HOST.key(), "controller"))));
    for (String host : List.of("HostA", "HostB")) {
      deploy(
          new ComputeAgentVerticle(
              base.with(
                  Map.of(
                      DefaultOptions.HOST.key(),
                      host,
                      // Not the default /var/lib/livemigrate/compute, shared by every test.
                      ComputeOptions.STATE_DIR.key(),
                      target.resolve("state-" + namespace + "-" + host).toString())),
              hypervisors.get(host)));
    }
  }

  private void deploy(io.vertx.core.Deployable v) throws Exception {
    deployments.add(vertx.deployVerticle(v).await(30, TimeUnit.SECONDS));
  }

  @AfterAll
  void stop() throws Exception {
    if (child != null && child.isAlive()) {
      child.destroy();
      if (!child.waitFor(15, TimeUnit.SECONDS)) {
        child.destroyForcibly();
        child.waitFor(10, TimeUnit.SECONDS);
      }
    }
    if (vertx != null) {
      for (String id : deployments) {
        try {
          vertx.undeploy(id).await(20, TimeUnit.SECONDS);
        } catch (Exception e) {
          // go on: the topology and the store are still to be removed
        }
      }
      if (broker != null) {
        Bus cleaner = testBus();
        List<String> queues =
            List.of(
                cleaner.topology().conductorQueue(),
                cleaner.topology().schedulerQueue(),
                cleaner.topology().computeQueue("HostA"),
                cleaner.topology().computeQueue("HostB"));
        onContext(() -> cleaner.deleteTopology(queues).compose(v -> cleaner.close()));
      }
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    if (simClock != null) simClock.shutdownNow();
    if (db != null) db.drop().close();
    if (broker != null) broker.close();
  }

  /**
   * A fresh PostgreSQL schema; without PostgreSQL (never on CI), or with {@code
   * -Dlivemigrate.killtest.store=h2}, an H2 file in a temporary directory.
   */
  private static StoreDb store() throws Exception {
    String why = "-Dlivemigrate.killtest.store=h2";
    if (!"h2".equals(System.getProperty("livemigrate.killtest.store"))) {
      try {
        DriverManager.setLoginTimeout(5);
        return postgresql(DriverManager.getConnection(PG_BASE, PG_USER, null));
      } catch (SQLException e) {
        if ("true".equals(System.getenv("CI"))) {
          throw new AssertionError("CI must provide PostgreSQL at " + PG_BASE, e);
        }
        why = "no PostgreSQL at " + PG_BASE + ": " + e.getMessage();
      }
    }
    Path dir = Files.createTempDirectory("lm-kill");
    System.out.println("ConductorKillTest: H2 file store (" + why + ")");
    return new StoreDb("jdbc:h2:file:" + dir.resolve("store"), "", false, () -> deleteTree(dir));
  }

  private static StoreDb postgresql(Connection admin) throws SQLException {
    String schema = "lmkill_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    try (Statement st = admin.createStatement()) {
      st.execute("CREATE SCHEMA " + schema);
    }
    return new StoreDb(
        PG_BASE + "?currentSchema=" + schema,
        PG_USER,
        true,
        () -> {
          try (admin;
              Statement st = admin.createStatement()) {
            st.execute("DROP SCHEMA " + schema + " CASCADE");
          }
        });
  }

  private static void deleteTree(Path dir) throws IOException {
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  // ------------------------------------------------------------------ the conductor process

  /** Starts {@code livemigrate serve conductor} in a new JVM and waits for its API. */
  private void startConductor(String label) throws Exception {
    long offset = Files.size(childLog);
    Files.writeString(
        childLog,
        "===== " + label + " started at " + Instant.now() + "\n",
        java.nio.file.StandardOpenOption.APPEND);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb =
        new ProcessBuilder(
            java,
            "-Xmx256m",
            "-cp",
            System.getProperty("java.class.path"),
            "io.livemigrate.cli.Main",
            "serve",
            "conductor");
    Map<String, String> env = pb.environment();
    // Only this test's configuration: an unknown LIVEMIGRATE_X__Y would even fail start-up.
    env.keySet().removeIf(k -> k.startsWith("LIVEMIGRATE_"));
    env.put("LIVEMIGRATE_ADMIN_TOKEN", TOKEN);
    env.put(DefaultOptions.TRANSPORT_URL.envName(), broker.url());
    env.put(DefaultOptions.BUS_NAMESPACE.envName(), namespace);
    env.put(DefaultOptions.HOST.envName(), "controller");
    env.put(ConductorOptions.STORE_URL.envName(), db.url());
    env.put(ConductorOptions.STORE_USER.envName(), db.user());
    env.put(ApiOptions.API_PORT.envName(), "0");
    env.put(OpsOptions.OPS_PORT.envName(), "0");
    env.put(DefaultOptions.SERVICE_DOWN_TIME.envName(), "10");
    env.put(LibvirtOptions.COMPLETION_TIMEOUT.envName(), Integer.toString(TIMEOUT_PER_GIB));
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(childLog.toFile()));
    child = pb.start();
    Process p = child;
    int[] port = {0};
    Http.until(
        label + " to print its API port",
        Duration.ofSeconds(45),
        () -> {
          if (!p.isAlive()) {
            throw new AssertionError(label + " exited with " + p.exitValue() + "\n" + childTail());
          }
          Matcher m = API_PORT.matcher(childLogFrom(offset));
          if (!m.find()) return false;
          port[0] = Integer.parseInt(m.group(1));
          return true;
        });
    api = new Http("http://127.0.0.1:" + port[0] + "/v2.1", TOKEN);
  }

  private String childLogFrom(long offset) {
    try {
      byte[] all = Files.readAllBytes(childLog);
      return new String(all, (int) offset, all.length - (int) offset, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The last lines the conductor processes wrote, for assertion messages. */
  private String childTail() {
    List<String> lines = childLogFrom(0).lines().toList();
    return "--- tail of "
        + childLog.toAbsolutePath()
        + " ---\n"
        + String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
  }

  // ------------------------------------------------------------------ helpers

  <T> T onContext(Supplier<Future<T>> work) {
    Promise<T> p = Promise.promise();
    vertx.runOnContext(v -> work.get().onComplete(p));
    try {
      return p.future().await(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("bus call timed out", e);
    }
  }

  Bus testBus() {
    BusSettings s = new BusSettings(broker.url(), namespace, 16, 5000, 500, 3);
    return onContext(
        () -> Bus.connect(vertx, s, new Sender("test", "tester"), new SimpleMeterRegistry()));
  }

  JsonObject latestMigration() {
    JsonArray l = api.get("/os-migrations?instance_uuid=" + HOG).json().getJsonArray("migrations");
    return l.isEmpty() ? new JsonObject() : l.getJsonObject(0);
  }

  JsonObject server() {
    Http.Response r = api.get("/servers/" + HOG);
    assertEquals(200, r.status(), r.body());
    return r.json().getJsonObject("server");
  }

  /** The migration as the store holds it, read over a connection of our own. */
  MigrationRow row(long id) throws SQLException {
    try (Store s =
        Store.open(io.livemigrate.conductor.store.StoreSettings.of(db.url(), db.user(), ""))) {
      return s.read(t -> t.migrations().byId(id))
          .orElseThrow(() -> new AssertionError("no migration " + id));
    }
  }

  // ------------------------------------------------------------------ the test

  @Test
  void completionDeadlineFiresAtItsOriginalTimeAfterTheConductorIsKilled() throws Exception {
    startConductor("conductor #1");
    Http.until(
        "the server and both hypervisors reported to the conductor",
        Duration.ofSeconds(20),
        () ->
            api.get("/servers").json().getJsonArray("servers").size() == 1
                && api.get("/os-hypervisors").json().getJsonArray("hypervisors").size() == 2);

    Http.Response r =
        api.post(
            "/servers/" + HOG + "/action",
            "{\"os-migrateLive\": {\"host\": \"HostB\", \"block_migration\": false}}",
            "2.30");
    assertEquals(202, r.status(), r.body() + "\n" + childTail());
    Http.until(
        "the migration running with progress reported",
        Duration.ofSeconds(15),
        () -> {
          JsonObject m = latestMigration();
          return "running".equals(m.getString("status"))
              && m.getLong("memory_processed_bytes", 0L) > 0;
        });
    long id = latestMigration().getLong("id");

    // The deadline as persisted by conductor #1 while it runs (PostgreSQL allows a second
    // connection; an H2 file is locked by its process, so there it is read after the kill only).
    Long deadlineWhileRunning = db.sharedWhileRunning() ? row(id).completionDeadlineMs : null;

    // kill -9: no shutdown hook, no verticle stop, no store close.
    long pid = child.pid();
    child.destroyForcibly();
    assertTrue(child.waitFor(10, TimeUnit.SECONDS), "conductor #1 did not die");
    long killedAt = System.currentTimeMillis();
    assertEquals(
        128 + 9,
        child.exitValue(),
        "conductor #1 (pid " + pid + ") ended by SIGKILL\n" + childTail());
    assertFalse(
        childLogFrom(0).contains("closing the bus connection of conductor"),
        "conductor #1 ran no shutdown: it was killed\n" + childTail());

    MigrationRow persisted = row(id);
    long deadline = persisted.completionDeadlineMs;
    if (deadlineWhileRunning != null) {
      assertEquals(deadlineWhileRunning, deadline, "deadline unchanged by the kill");
    }
    assertEquals("running", persisted.status.wire(), "still running in the store");
    assertEquals(COMPLETION_TIMEOUT_S, persisted.completionTimeoutS);
    // Armed at the source's first progress report, which the record's actions time.
    String armed =
        persisted.actions.stream()
            .filter(a -> a.contains(" transfer running on "))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no first progress in " + persisted.actions));
    long armedAt = java.time.Instant.parse(armed.substring(0, armed.indexOf(' '))).toEpochMilli();
    assertTrue(armedAt >= persisted.runningMs, "armed after the start was sent");
    assertEquals(armedAt + COMPLETION_TIMEOUT_S * 1000, deadline, "deadline stored");

    // About 2 s without a conductor, while the source goes on copying and reporting.
    Bus probe = testBus();
    Http.until(
        "2 s of conductor downtime with the source's progress piling up in its queue",
        Duration.ofSeconds(10),
        () ->
            System.currentTimeMillis() - killedAt >= 2000
                && onContext(() -> probe.messageCount(probe.topology().conductorQueue())) > 0);
    onContext(probe::close);

    startConductor("conductor #2");
    long upAt = System.currentTimeMillis();
    assertTrue(
        upAt < deadline - 1000,
        "conductor #2 came up only "
            + (deadline - upAt)
            + " ms before the deadline; the test cannot tell a re-armed deadline from a late one"
            + "\n"
            + childTail());

    JsonObject[] last = new JsonObject[1];
    Http.until(
        "the migration to end",
        Duration.ofMillis(deadline - System.currentTimeMillis() + 15_000),
        () -> {
          last[0] = latestMigration();
          return List.of("completed", "failed", "cancelled", "error")
              .contains(last[0].getString("status", ""));
        });
    JsonObject m = last[0];
    assertEquals("failed", m.getString("status"), m.encode() + "\n" + childTail());
    assertEquals("COMPLETION_TIMEOUT", m.getString("reason"), m.encode());
    assertEquals("HostA", server().getString("OS-EXT-SRV-ATTR:host"));
    assertEquals("ACTIVE", server().getString("status"));
    assertTrue(
        hypervisors.get("HostA").listDomains().stream()
            .anyMatch(d -> d.uuid().equals(HOG) && d.state().equals("running")),
        "the guest still runs on HostA: " + hypervisors.get("HostA").listDomains());
    assertTrue(hypervisors.get("HostB").domain(HOG).isEmpty(), "nothing on HostB");
    Http.until(
        "HostB's reservation rolled back",
        Duration.ofSeconds(5),
        () -> !hypervisors.get("HostB").hasIncoming(HOG));

    // The abort was decided at the original deadline, not one restarted with conductor #2.
    if (!db.sharedWhileRunning()) {
      // An H2 file opens in one process at a time: stop conductor #2 first (SIGTERM).
      child.destroy();
      assertTrue(child.waitFor(20, TimeUnit.SECONDS), "conductor #2 did not stop");
    }
    MigrationRow after = row(id);
    String abort =
        after.actions.stream()
            .filter(a -> a.contains("abort (COMPLETION_TIMEOUT)"))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no abort action: " + after.actions));
    long abortAt = Instant.parse(abort.substring(0, abort.indexOf(' '))).toEpochMilli();
    long offsetMs = abortAt - deadline;
    System.out.printf(
        "ConductorKillTest: killed %d ms after the transfer started, conductor #2 up %d ms before"
            + " the deadline; abort at deadline %+d ms (%s store)%n",
        killedAt - persisted.runningMs,
        deadline - upAt,
        offsetMs,
        db.sharedWhileRunning() ? "PostgreSQL" : "H2");
    assertTrue(
        Math.abs(offsetMs) <= 1000,
        "abort at "
            + Instant.ofEpochMilli(abortAt)
            + " vs persisted deadline "
            + Instant.ofEpochMilli(deadline)
            + " (diff "
            + offsetMs
            + " ms)\n"
            + childTail());

    Http.until(
        "the source agent's WARNING",
        Duration.ofSeconds(5),
        () ->
            LiveMigrationE2E.logText()
                .lines()
                .anyMatch(
                    l ->
                        l.contains("WARN")
                            && l.contains("ComputeAgent")
                            && l.contains("[instance: " + HOG + "]")
                            && l.contains(
                                "live migration not completed after "
                                    + COMPLETION_TIMEOUT_S
                                    + " sec")));
  }
}
