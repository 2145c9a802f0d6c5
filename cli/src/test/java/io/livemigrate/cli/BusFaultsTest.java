package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.app.ComputeAgentVerticle;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.agent.sim.SimulatedHypervisor;
import io.livemigrate.common.bus.Identities;
import io.livemigrate.common.bus.Topology;
import io.livemigrate.common.config.ApiOptions;
import io.livemigrate.common.config.BusOptions;
import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.OpsOptions;
import io.livemigrate.common.config.Option;
import io.livemigrate.common.testing.PrivateRabbit;
import io.livemigrate.common.testing.RabbitUsers;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 13, acceptance 3: {@code rabbitmqctl close_all_connections} while handlers run, and a
 * broker restart in the middle of a live migration, against a private RabbitMQ node this test owns.
 * The conductor and the scheduler run as separate processes ({@code livemigrate serve}); the two
 * compute agents run in this JVM (a simulated agent cannot yet get its guests from its
 * configuration). Every service logs in as its own broker user.
 *
 * <p>Each run moves a guest to the other host and injects the fault; it must end completed with the
 * guest on the destination, the API saying so, every command the conductor had confirmed handled by
 * an agent (commands sent against handled, from the services' /metrics) and no ack on a channel the
 * delivery did not come from. Two runs per scenario by default; {@code
 * -Dlivemigrate.faults.runs=10} (bench/bus-faults.sh) for the sweep. Prints a table.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 1800, unit = TimeUnit.SECONDS)
class BusFaultsTest {
  static final int RUNS = Integer.getInteger("livemigrate.faults.runs", 2);
  static final String NS = "livemigrate";
  static final String VHOST = "lm-faults";
  static final String TOKEN = "faults-test-admin-token";
  static final String FAST = "0b6c2f4e-1111-4a2b-9c3d-000000000001";
  static final String SLOW = "0b6c2f4e-2222-4a2b-9c3d-000000000002";
  static final long MIB = SimDomain.MIB;
  static final Pattern API_PORT = Pattern.compile("conductor: API on port (\\d+)");
  static final Pattern CONDUCTOR_OPS =
      Pattern.compile("conductor: API on port \\d+, metrics on (\\d+)");
  static final Pattern SCHEDULER_OPS = Pattern.compile("scheduler: metrics on (\\d+)");

  final Topology t = new Topology(NS);
  final Random random = new Random(Long.getLong("livemigrate.faults.seed", 13));
  PrivateRabbit node;
  RabbitUsers users;
  Path dir;
  Vertx vertx;
  ScheduledExecutorService simClock;
  final io.livemigrate.agent.sim.SimFabric fabric = io.livemigrate.agent.sim.SimFabric.inMemory();
  final Map<String, SimulatedHypervisor> hv = new LinkedHashMap<>();
  final Map<String, ComputeAgentVerticle> agents = new LinkedHashMap<>();
  ServiceProcess conductor;
  ServiceProcess scheduler;
  Http api;
  int conductorOps;
  final List<Row> rows = new ArrayList<>();

  /** One run of one scenario. */
  record Row(
      String scenario,
      int run,
      String from,
      String to,
      String status,
      boolean correct,
      double seconds,
      long faultMs,
      double sent,
      double handled,
      double duplicates,
      double stale) {}

  @BeforeAll
  void start() throws Exception {
    if (!PrivateRabbit.available()) {
      if ("true".equals(System.getenv("CI"))) throw new AssertionError("CI must have RabbitMQ");
      return;
    }
    dir = Files.createTempDirectory("lm-faults");
    node = PrivateRabbit.start("lmhb-faults");
    users = RabbitUsers.create(node, VHOST, t, Identities.of("", true), List.of("HostA", "HostB"));
    Path target = Path.of("target");
    Files.createDirectories(target);
    Path schedulerLog = target.resolve("bus-faults-scheduler.log");
    Path conductorLog = target.resolve("bus-faults-conductor.log");
    Files.deleteIfExists(schedulerLog);
    Files.deleteIfExists(conductorLog);
    Map<Option, String> common =
        Map.of(
            DefaultOptions.BUS_NAMESPACE, NS,
            DefaultOptions.HOST, "controller",
            OpsOptions.OPS_PORT, "0",
            DefaultOptions.SERVICE_DOWN_TIME, "60",
            BusOptions.RECONNECT_INTERVAL_MS, "200");
    Map<Option, String> s = new LinkedHashMap<>(common);
    s.put(DefaultOptions.TRANSPORT_URL, users.url("scheduler"));
    scheduler =
        ServiceProcess.start("scheduler", "scheduler", s, Map.of(), schedulerLog, SCHEDULER_OPS);
    Map<Option, String> c = new LinkedHashMap<>(common);
    c.put(DefaultOptions.TRANSPORT_URL, users.url("conductor"));
    c.put(ConductorOptions.STORE_URL, "jdbc:h2:file:" + dir.resolve("store"));
    c.put(ApiOptions.API_PORT, "0");
    conductor =
        ServiceProcess.start(
            "conductor",
            "conductor",
            c,
            Map.of("LIVEMIGRATE_ADMIN_TOKEN", TOKEN),
            conductorLog,
            CONDUCTOR_OPS);
    api = new Http("http://127.0.0.1:" + conductor.printed(API_PORT) + "/v2.1", TOKEN);
    conductorOps = conductor.printed(CONDUCTOR_OPS);

    vertx = Vertx.vertx();
    simClock =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread th = new Thread(r, "sim-clock");
              th.setDaemon(true);
              return th;
            });
    HostResources cap = new HostResources(16, 65536, 1000);
    for (String h : List.of("HostA", "HostB")) {
      hv.put(h, new SimulatedHypervisor(h, cap, 128 * MIB, 20, simClock).linkTo(fabric));
    }
    // About 3 s and about 13 s at 128 MiB/s: the slow one outlasts a broker restart.
    hv.get("HostA")
        .define(new SimDomain(FAST, "fast", 1, 384, 10, "p1", "u1", "m1.small", 4 * MIB, 0, false));
    hv.get("HostA")
        .define(
            new SimDomain(SLOW, "slow", 1, 1536, 10, "p1", "u1", "m1.small", 8 * MIB, 0, false));
    for (String h : hv.keySet()) {
      Config ac =
          Config.defaults(
              Map.ofEntries(
                  Map.entry(DefaultOptions.TRANSPORT_URL.key(), users.url("compute-" + h)),
                  Map.entry(DefaultOptions.BUS_NAMESPACE.key(), NS),
                  Map.entry(OpsOptions.OPS_PORT.key(), "0"),
                  Map.entry(DefaultOptions.REPORT_INTERVAL.key(), "1"),
                  Map.entry(ComputeOptions.PROGRESS_INTERVAL_MS.key(), "200"),
                  Map.entry(BusOptions.RECONNECT_INTERVAL_MS.key(), "200"),
                  Map.entry(ComputeOptions.PEERS.key(), "HostA,HostB"),
                  // Not the default /var/lib/livemigrate/compute, shared by every test and run.
                  Map.entry(ComputeOptions.STATE_DIR.key(), dir.resolve("state-" + h).toString()),
                  Map.entry(DefaultOptions.HOST.key(), h)));
      ComputeAgentVerticle v = new ComputeAgentVerticle(ac, hv.get(h));
      vertx.deployVerticle(v).await(60, TimeUnit.SECONDS);
      agents.put(h, v);
    }
    Http.until(
        "both hypervisors and both guests reported",
        Duration.ofSeconds(40),
        () ->
            api.get("/os-hypervisors").json().getJsonArray("hypervisors").size() == 2
                && api.get("/servers").json().getJsonArray("servers").size() == 2);
  }

  @AfterAll
  void stop() throws Exception {
    if (!rows.isEmpty()) printTable();
    if (vertx != null) vertx.close().await(20, TimeUnit.SECONDS);
    if (simClock != null) simClock.shutdownNow();
    if (conductor != null) conductor.close();
    if (scheduler != null) scheduler.close();
    if (node != null) node.close();
  }

  // ------------------------------------------------------------------ scenarios

  @Test
  void closeAllConnectionsWhileHandlersRun() throws Exception {
    assumeTrue(node != null, "no RabbitMQ server installed");
    for (int i = 1; i <= RUNS; i++) {
      // Anywhere from the request (select, prepare, start) to the end of the transfer, and once
      // more while the transfer goes on.
      long at = random.nextInt(2500);
      long again = 300 + random.nextInt(1200);
      run(
          "close_all_connections",
          i,
          FAST,
          at,
          () -> {
            node.closeAllConnections();
            Thread.sleep(again); // when to inject, not an assertion
            node.closeAllConnections();
          });
    }
    assertAllCorrect("close_all_connections");
  }

  @Test
  void brokerRestartMidMigration() throws Exception {
    assumeTrue(node != null, "no RabbitMQ server installed");
    for (int i = 1; i <= RUNS; i++) {
      long at = 300 + random.nextInt(2000);
      run("broker_restart", i, SLOW, at, () -> node.restart());
    }
    assertAllCorrect("broker_restart");
  }

  interface Fault {
    void inject() throws Exception;
  }

  private void run(String scenario, int n, String vm, long faultAfterMs, Fault fault)
      throws Exception {
    String from = hostOf(vm);
    String to = from.equals("HostA") ? "HostB" : "HostA";
    Counts before = counts();
    long t0 = System.nanoTime();
    Http.Response r =
        api.post(
            "/servers/" + vm + "/action",
            "{\"os-migrateLive\": {\"host\": \"" + to + "\", \"block_migration\": false}}",
            "2.30");
    assertEquals(202, r.status(), r.body() + conductor.tail());
    long previous = latestId(vm);
    long wait = faultAfterMs - (System.nanoTime() - t0) / 1_000_000;
    if (wait > 0) Thread.sleep(wait); // when to inject, not an assertion
    long faultAt = (System.nanoTime() - t0) / 1_000_000;
    fault.inject();
    JsonObject[] last = new JsonObject[1];
    boolean terminal = true;
    try {
      Http.until(
          scenario + " run " + n + ": the migration of " + vm + " ends",
          Duration.ofSeconds(120),
          () -> {
            last[0] = latest(vm);
            return last[0].getLong("id", -1L) >= previous
                && List.of("completed", "failed", "error", "cancelled")
                    .contains(last[0].getString("status", ""));
          });
    } catch (AssertionError e) {
      terminal = false;
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    String status = last[0] == null ? "?" : last[0].getString("status", "?");
    boolean correct =
        terminal
            && "completed".equals(status)
            && hv.get(to).domain(vm).isPresent()
            && hv.get(from).domain(vm).isEmpty()
            && to.equals(serverHost(vm));
    // Commands the conductor had confirmed, against what the agents handled (or skipped as
    // duplicates): settle first, the last step's reply may still be on its way.
    Counts[] after = new Counts[1];
    try {
      Http.until(
          "the counters settle",
          Duration.ofSeconds(15),
          () -> {
            after[0] = counts();
            Counts d = after[0].minus(before);
            return d.handled() + d.duplicates() >= d.sent();
          });
    } catch (AssertionError e) {
      // reported as lost below
    }
    Counts d = after[0].minus(before);
    rows.add(
        new Row(
            scenario,
            n,
            from,
            to,
            terminal ? status : "not terminal (" + status + ")",
            correct,
            seconds,
            faultAt,
            d.sent(),
            d.handled(),
            d.duplicates(),
            d.stale()));
    if (!correct) {
      System.out.println(
          scenario + " run " + n + " incorrect: " + last[0] + conductor.tail() + scheduler.tail());
    }
  }

  private void assertAllCorrect(String scenario) {
    List<Row> mine = rows.stream().filter(r -> r.scenario().equals(scenario)).toList();
    assertEquals(RUNS, mine.size());
    for (Row r : mine) {
      assertEquals(true, r.correct(), scenario + " run " + r.run() + ": " + r);
      assertFalse(
          r.sent() > r.handled() + r.duplicates(),
          scenario + " run " + r.run() + ": a confirmed command was never handled: " + r);
    }
    assertFalse(
        node.log().contains("unknown delivery tag"),
        "an ack reached the broker on a channel the delivery was not from");
  }

  // ------------------------------------------------------------------ observation

  private String hostOf(String vm) {
    for (var e : hv.entrySet()) if (e.getValue().domain(vm).isPresent()) return e.getKey();
    throw new AssertionError(vm + " runs nowhere");
  }

  private JsonObject latest(String vm) {
    JsonArray l = api.get("/os-migrations?instance_uuid=" + vm).json().getJsonArray("migrations");
    JsonObject best = new JsonObject();
    for (Object o : l) {
      JsonObject m = (JsonObject) o;
      if (m.getLong("id") > best.getLong("id", -1L)) best = m;
    }
    return best;
  }

  private long latestId(String vm) {
    Http.until(
        "the migration is recorded", Duration.ofSeconds(10), () -> latest(vm).containsKey("id"));
    return latest(vm).getLong("id");
  }

  private String serverHost(String vm) {
    return api.get("/servers/" + vm)
        .json()
        .getJsonObject("server")
        .getString("OS-EXT-SRV-ATTR:host");
  }

  /** Counters from the services' /metrics. */
  record Counts(double sent, double handled, double duplicates, double stale) {
    Counts minus(Counts o) {
      return new Counts(
          sent - o.sent, handled - o.handled, duplicates - o.duplicates, stale - o.stale);
    }
  }

  private Counts counts() {
    String c = Http.raw("http://127.0.0.1:" + conductorOps + "/metrics");
    double sent =
        BusIdentityAcceptanceTest.metric(
            c, "livemigrate_bus_commands_total", "to=\"compute\"", "outcome=\"confirmed\"");
    double handled = 0;
    double dup = 0;
    double stale = BusIdentityAcceptanceTest.metric(c, "livemigrate_bus_stale_deliveries_total");
    for (ComputeAgentVerticle a : agents.values()) {
      String m = Http.raw("http://127.0.0.1:" + a.opsPort() + "/metrics");
      handled += BusIdentityAcceptanceTest.metric(m, "livemigrate_agent_commands_total");
      dup += BusIdentityAcceptanceTest.metric(m, "livemigrate_bus_duplicates_total");
      stale += BusIdentityAcceptanceTest.metric(m, "livemigrate_bus_stale_deliveries_total");
    }
    return new Counts(sent, handled, dup, stale);
  }

  private void printTable() {
    StringBuilder b = new StringBuilder("\nBusFaultsTest (" + RUNS + " runs per scenario):\n");
    b.append(
        String.format(
            "%-22s %4s %-12s %-22s %8s %8s %8s %5s %7s %4s %5s%n",
            "scenario",
            "run",
            "move",
            "terminal state",
            "seconds",
            "fault@ms",
            "correct",
            "sent",
            "handled",
            "dup",
            "stale"));
    for (Row r : rows) {
      b.append(
          String.format(
              "%-22s %4d %-12s %-22s %8.1f %8d %8s %5.0f %7.0f %4.0f %5.0f%n",
              r.scenario(),
              r.run(),
              r.from() + ">" + r.to(),
              r.status(),
              r.seconds(),
              r.faultMs(),
              r.correct() ? "yes" : "NO",
              r.sent(),
              r.handled(),
              r.duplicates(),
              r.stale()));
    }
    for (String s : List.of("close_all_connections", "broker_restart")) {
      List<Row> m = rows.stream().filter(r -> r.scenario().equals(s)).toList();
      if (m.isEmpty()) continue;
      b.append(
          String.format(
              "%-22s runs %d, terminal %d, correct %d, seconds mean %.1f max %.1f, sent %.0f,"
                  + " handled %.0f, duplicates %.0f, stale deliveries left to the broker %.0f%n",
              s,
              m.size(),
              m.stream().filter(r -> !r.status().startsWith("not terminal")).count(),
              m.stream().filter(Row::correct).count(),
              m.stream().mapToDouble(Row::seconds).average().orElse(0),
              m.stream().mapToDouble(Row::seconds).max().orElse(0),
              m.stream().mapToDouble(Row::sent).sum(),
              m.stream().mapToDouble(Row::handled).sum(),
              m.stream().mapToDouble(Row::duplicates).sum(),
              m.stream().mapToDouble(Row::stale).sum()));
    }
    System.out.println(b);
  }
}
